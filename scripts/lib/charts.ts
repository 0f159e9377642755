/**
 * Charts and the CSV beside results.json. One SVG per benchmark group and
 * backend (ns per op by bulk size or objects outstanding, sides and suites
 * side by side, each bar the median of the per-boot medians with its
 * interval as an error bar), drawn with vega-lite and rendered to SVG by
 * vega headlessly (no browser, no canvas).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bootFigure, sideOrder } from './bench.ts';
import { locationInterval } from './stats.ts';
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
  readonly interval: string;
}

export interface Chart {
  readonly file: string;
  readonly title: string;
  readonly yTitle: string;
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
      return { x: c.x, order: c.order, series: c.series, center: li.center, lo: li.lo, hi: li.hi, boots: c.medians.length, interval: li.kind };
    }).sort((a, b) => a.order - b.order || a.x.localeCompare(b.x) || order.indexOf(a.series) - order.indexOf(b.series) || a.series.localeCompare(b.series));
    const unit = g[0]!.unit;
    const per = g[0]!.per ?? 'op';
    out.push({
      file: `${backend}-${group.replace(/[^\w.-]/g, '_')}.svg`,
      title: `${group} on ${backend}`,
      yTitle: `${unit} per ${per} (median of boot medians; bars: ${[...new Set(rows.map((x) => x.interval))].join(' or ')})`,
      rows,
    });
  }
  return out;
}

/** The vega-lite specification of one chart. */
export function chartSpec(c: Chart): TopLevelSpec {
  const x = { field: 'x', type: 'ordinal', title: null, sort: [...new Set(c.rows.map((r) => r.x))] } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: c.title,
    width: { step: Math.max(24, 12 * new Set(c.rows.map((r) => r.series)).size + 8) },
    height: 260,
    data: { values: c.rows },
    encoding: { x, xOffset: { field: 'series' }, color: { field: 'series', type: 'nominal', title: null } },
    layer: [
      { mark: 'bar', encoding: { y: { field: 'center', type: 'quantitative', title: c.yTitle } } },
      { mark: { type: 'errorbar', ticks: true }, encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
    ],
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
  const dir = join(runDir, 'charts');
  await rm(dir, { recursive: true, force: true });
  if (charts.length === 0) return [];
  await mkdir(dir);
  for (const c of charts) await writeFile(join(dir, c.file), await renderSvg(c));
  return charts.map((c) => join('charts', c.file));
}
