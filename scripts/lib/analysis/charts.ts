/**
 * Charts and the CSV beside results.json, drawn with vega-lite and rendered
 * to SVG by vega headlessly (no browser, no canvas):
 * - the forest plot (forest.svg), the picture to look at first: one row per
 *   comparison, its ratio and interval on a log axis, a line at 1, the
 *   backend's practical threshold shaded, coloured by verdict;
 * - one bar chart per benchmark group and backend, for the absolute figures
 *   (ns per op by bulk size or objects outstanding, sides and suites side by
 *   side), each bar the Hodges–Lehmann estimate of the per-boot figures with
 *   its own interval as an error bar.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bootFigure, judged, sideOrder } from './bench.ts';
import { PRACTICAL_THRESHOLD, VERDICTS, fmtLevel, locationInterval, type PairedStat, type Verdict } from './stats.ts';
import type { Results } from './results.ts';
import type { TopLevelSpec } from 'vega-lite';

export interface ChartRow {
  readonly x: string;
  /** Sort key of x: the parameter when there is one. */
  readonly order: number;
  readonly series: string;
  readonly center: number;
  readonly lo: number;
  readonly hi: number;
  readonly boots: number;
  /** rank: Hodges–Lehmann estimate and its rank interval; range: median, min and max (too few boots). */
  readonly interval: 'rank' | 'range';
  /** Achieved coverage of a rank interval. */
  readonly level?: number;
}

export interface Chart {
  readonly file: string;
  readonly title: string;
  /** The axis title: the unit only, so that it fits. */
  readonly yTitle: string;
  /** What the bars and error bars are, under the title. */
  readonly subtitle: string;
  readonly rows: readonly ChartRow[];
}

/**
 * The chart a metric goes into: its group, except that each packet scenario
 * has a chart of its own (their scales and units differ by orders of
 * magnitude: ns per packet, per TCP segment).
 */
function chartGroup(m: Results['metrics'][number]): string | undefined {
  return m.suite === 'net' ? `net_${m.case}` : m.group;
}

/** The data of every chart a run can draw: one per (backend, group). */
export function chartData(r: Results): Chart[] {
  const order = sideOrder(r);
  const ms = r.metrics.filter((m) => m.flavor === 'normal' && chartGroup(m));
  const out: Chart[] = [];
  for (const key of [...new Set(ms.map((m) => `${m.backend}\0${chartGroup(m)}`))].sort()) {
    const [backend, group] = key.split('\0') as [string, string];
    const g = ms.filter((m) => m.backend === backend && chartGroup(m) === group);
    const suites = new Set(g.map((m) => m.suite));
    const byParam = g.every((m) => m.param !== undefined) && new Set(g.map((m) => m.param)).size > 1;
    const cells = new Map<string, { x: string; order: number; series: string; medians: number[] }>();
    for (const m of g) {
      const series = suites.size > 1 ? `${m.suite} · ${m.side}` : m.side;
      const x = byParam ? String(m.param) : m.case;
      const k = `${x}\0${series}`;
      const c = cells.get(k) ?? { x, order: byParam ? m.param! : 0, series, medians: [] };
      c.medians.push(bootFigure(m));
      cells.set(k, c);
    }
    const rows = [...cells.values()].map((c) => {
      const li = locationInterval(c.medians);
      return { x: c.x, order: c.order, series: c.series, center: li.center, lo: li.lo, hi: li.hi, boots: c.medians.length, interval: li.kind, ...(li.level === undefined ? {} : { level: li.level }) };
    }).sort((a, b) => a.order - b.order || a.x.localeCompare(b.x) || order.indexOf(a.series) - order.indexOf(b.series) || a.series.localeCompare(b.series));
    const unit = g[0]!.unit;
    const per = g[0]!.per ?? 'op';
    const kinds = new Set(rows.map((x) => x.interval));
    const levels = [...new Set(rows.flatMap((x) => (x.level === undefined ? [] : [fmtLevel(x.level)])))];
    out.push({
      file: `${backend}-${group.replace(/[^\w.-]/g, '_')}.svg`,
      title: `${group} on ${backend}`,
      yTitle: `${unit} per ${per}`,
      subtitle: [
        ...(kinds.has('rank') ? [`bar: Hodges–Lehmann estimate of the per-boot figures, error bar its rank interval (${levels.join(', ')})`] : []),
        ...(kinds.has('range') ? ['bar: median of the per-boot figures, error bar their range (too few boots for an interval)'] : []),
      ].join('; '),
      rows,
    });
  }
  return out;
}

/** The vega-lite specification of one chart. */
export function chartSpec(c: Chart): TopLevelSpec {
  const xs = [...new Set(c.rows.map((r) => r.x))];
  const series = new Set(c.rows.map((r) => r.series)).size;
  const x = { field: 'x', type: 'ordinal', title: null, sort: xs, axis: { labelAngle: 0 } } as const;
  // The same title on both layers, so vega-lite does not join them ("ns per op, lo").
  const y = { type: 'quantitative', title: c.yTitle } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: c.title, subtitle: c.subtitle.split('; '), anchor: 'start', subtitleFontSize: 10 },
    // Wide enough for the subtitle and the legend, however few the bars.
    width: Math.max(320, xs.length * (14 * series + 16)),
    height: 220,
    data: { values: c.rows },
    encoding: { x, xOffset: { field: 'series' } },
    layer: [
      // Light bars and dark error bars: the interval stays visible inside its bar.
      { mark: { type: 'bar', opacity: 0.55 }, encoding: { y: { ...y, field: 'center' }, color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 3, labelLimit: 300 } } } },
      { mark: { type: 'errorbar', ticks: { size: 6 }, color: '#222', thickness: 1.2 }, encoding: { y: { ...y, field: 'lo' }, y2: { field: 'hi' } } },
    ],
  };
}

/* ---- the forest plot ------------------------------------------------------ */

export const FOREST_FILE = 'forest.svg';

export interface ForestRow {
  /** "uml · skb/alloc_free · patched vs baseline" */
  readonly label: string;
  readonly panel: 'sides' | 'peers' | 'control';
  readonly backend: string;
  readonly ratio: number;
  readonly lo: number;
  readonly hi: number;
  readonly verdict: Verdict;
  /** The backend's practical threshold as ratios: 1 − t and 1 + t. */
  readonly bandLo: number;
  readonly bandHi: number;
  readonly q?: number;
}

const PANEL_TITLES = {
  sides: 'sides against sides, paired by round (ratio: later side ÷ earlier)',
  peers: 'cases against their peer in the same boot (ratio: case ÷ peer)',
  control: 'A/A control: one kernel against itself',
} as const;

/** Verdict colours: changes in saturated colours, the rest in greys. */
const VERDICT_COLOURS: Record<Verdict, string> = {
  faster: '#1a9850',
  slower: '#d73027',
  'no meaningful change': '#4575b4',
  'no significant change': '#888888',
  inconclusive: '#d9a400',
};

/** One row per comparison of the run: sides, peers and the A/A control, each with its verdict and the backend's threshold band. */
export function forestRows(r: Results): ForestRow[] {
  const j = judged(r);
  const row = (label: string, panel: ForestRow['panel'], backend: keyof typeof PRACTICAL_THRESHOLD, s: PairedStat): ForestRow => {
    const t = PRACTICAL_THRESHOLD[backend];
    return { label, panel, backend, ratio: s.ratio, lo: s.ci?.lo ?? s.ratio, hi: s.ci?.hi ?? s.ratio, verdict: s.verdict, bandLo: 1 - t, bandHi: 1 + t, ...(s.q === undefined ? {} : { q: s.q }) };
  };
  return [
    ...j.sides.map((c) => row(`${c.backend} · ${c.name} · ${c.side} vs ${c.ref}`, c.control ? 'control' : 'sides', c.backend, c.stat)),
    ...j.peers.map((p) => row(`${p.backend} · ${p.name} ÷ ${p.peer} · ${p.side}`, 'peers', p.backend, p.stat)),
  ];
}

/** The forest plot: one panel per kind of comparison, each with its own log axis. */
export function forestSpec(rows: readonly ForestRow[]): TopLevelSpec {
  const panels = (['sides', 'peers', 'control'] as const).filter((p) => rows.some((x) => x.panel === p));
  const colour = { field: 'verdict', type: 'nominal' as const, title: 'verdict', scale: { domain: [...VERDICTS], range: VERDICTS.map((v) => VERDICT_COLOURS[v]) }, legend: { orient: 'top' as const, labelLimit: 300, columns: 3 } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Every comparison of the run', subtitle: 'ratio (Hodges–Lehmann) with its rank interval, log scale; shaded: the backend\'s practical threshold; lower is faster', anchor: 'start' },
    vconcat: panels.map((panel) => {
      const values = rows.filter((x) => x.panel === panel);
      const lo = Math.min(...values.map((x) => Math.min(x.lo, x.bandLo)));
      const hi = Math.max(...values.map((x) => Math.max(x.hi, x.bandHi)));
      const xScale = { type: 'log' as const, domain: [lo / 1.02, hi * 1.02], nice: false };
      const y = { field: 'label', type: 'nominal' as const, title: null, sort: values.map((x) => x.label), axis: { labelLimit: 800 } };
      return {
        title: { text: PANEL_TITLES[panel], fontSize: 12, anchor: 'start' },
        width: 420,
        height: { step: 16 },
        data: { values },
        layer: [
          { mark: { type: 'bar', color: '#e6e6e6', height: { band: 1 } }, encoding: { y, x: { field: 'bandLo', type: 'quantitative', scale: xScale, title: 'ratio' }, x2: { field: 'bandHi' } } },
          { mark: { type: 'rule', color: '#444', strokeDash: [4, 3] }, data: { values: [{ one: 1 }] }, encoding: { x: { field: 'one', type: 'quantitative', scale: xScale } } },
          { mark: { type: 'rule', strokeWidth: 2 }, encoding: { y, x: { field: 'lo', type: 'quantitative', scale: xScale }, x2: { field: 'hi' }, color: colour } },
          { mark: { type: 'point', filled: true, size: 40 }, encoding: { y, x: { field: 'ratio', type: 'quantitative', scale: xScale }, color: colour, tooltip: [{ field: 'label' }, { field: 'ratio', format: '.3f' }, { field: 'lo', format: '.3f' }, { field: 'hi', format: '.3f' }, { field: 'q', format: '.3f' }, { field: 'verdict' }] } },
        ],
      };
    }),
    resolve: { scale: { x: 'independent', y: 'independent' } },
    config: { axisY: { labelLimit: 800 } },
  };
}

/** Render one chart to SVG text. */
export async function renderSvg(c: Chart): Promise<string> {
  return renderSpecSvg(chartSpec(c));
}

/** Render any vega-lite specification to SVG text, headlessly (vega's "none" renderer: no DOM, no canvas). */
export async function renderSpecSvg(lite: TopLevelSpec): Promise<string> {
  const [{ compile }, vega] = await Promise.all([import('vega-lite'), import('vega')]);
  const spec = compile(lite).spec;
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const CSV_COLUMNS = ['run', 'side', 'variant', 'backend', 'flavor', 'round', 'position', 'boot', 'suite', 'case', 'group', 'param', 'unit', 'per', 'loops', 'samples', 'median', 'min', 'max', 'peer'] as const;

const csvCell = (v: unknown): string => {
  const s = v === undefined ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** One row per case per boot. */
export function resultsCsv(r: Results): string {
  const rows = r.metrics.map((m) => [
    r.runId, m.side, m.variant, m.backend, m.flavor, m.round, m.position, m.boot, m.suite, m.case, m.group, m.param, m.unit, m.per, m.loops,
    m.samples.length, bootFigure(m), Math.min(...m.samples), Math.max(...m.samples), m.peer,
  ].map(csvCell).join(','));
  return [CSV_COLUMNS.join(','), ...rows].join('\n') + '\n';
}

/** Write results.csv and charts/*.svg into a run directory (charts/ is made anew). */
export async function writeBenchArtifacts(runDir: string, r: Results): Promise<string[]> {
  await writeFile(join(runDir, 'results.csv'), resultsCsv(r));
  const charts = chartData(r);
  const forest = forestRows(r);
  const dir = join(runDir, 'charts');
  await rm(dir, { recursive: true, force: true });
  if (charts.length === 0 && forest.length === 0) return [];
  await mkdir(dir);
  const written: string[] = [];
  if (forest.length > 0) {
    await writeFile(join(dir, FOREST_FILE), await renderSpecSvg(forestSpec(forest)));
    written.push(FOREST_FILE);
  }
  for (const c of charts) {
    await writeFile(join(dir, c.file), await renderSvg(c));
    written.push(c.file);
  }
  return written.map((f) => join('charts', f));
}
