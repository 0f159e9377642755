/**
 * The history page of one base kernel: <history>/<base>/index.html, made
 * from every night record beside it. A person opening the nightly history
 * wants to see at a glance which night went wrong and where the figures
 * drift, so the page has a table of nights (each linking to its report)
 * and one trend chart per metric, the nights that carry a regression
 * finding for that metric marked in red.
 *
 * The page is static and self-contained: no script, no network, charts
 * drawn to inline SVG by vega headlessly (as the run's own charts are), so
 * it can be published as is or opened from a downloaded artifact. A record
 * that does not parse is skipped, named on the page and reported, not fatal:
 * one bad night must not hide the others.
 */
import { readdir, readFile } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { z } from 'zod';
import { renderSpecSvg } from '../analysis/charts.ts';
import { QkError } from '../plumbing/errors.ts';
import { writeFileAtomic } from '../plumbing/fsutil.ts';
import type { Logger } from '../plumbing/log.ts';
import { Night, type NightMetric } from './night.ts';

export interface SkippedRecord {
  readonly file: string;
  readonly reason: string;
}

export interface HistoryPage {
  readonly file: string;
  readonly charts: number;
  /** Records that were not shown, and why. */
  readonly skipped: readonly SkippedRecord[];
}

/** One point of a trend: a metric's figure on one night. */
export interface TrendRow {
  readonly night: string;
  readonly value: number;
  readonly lo: number;
  readonly hi: number;
  readonly regression: boolean;
  /** What a screen reader says of the point. */
  readonly label: string;
}

/** One chart: a metric on one backend, across the nights that measured it. */
export interface Trend {
  readonly key: string;
  readonly backend: string;
  readonly kind: NightMetric['kind'];
  readonly unit: string;
  readonly rows: readonly TrendRow[];
  /** The regression findings for this metric, by night. */
  readonly regressions: ReadonlyArray<{ readonly night: string; readonly message: string }>;
}

/** Read and validate every <dir>/*.json; invalid ones are returned as skipped, not thrown. */
export async function readNights(dir: string, base: string): Promise<{ nights: Night[]; skipped: SkippedRecord[] }> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  } catch (err) {
    throw new QkError('usage-error', `no history for base ${base}: cannot read ${dir}`, {
      hint: 'pass the history directory that holds <base>/<night>.json (the one given to nightly as --history)',
      cause: err,
    });
  }
  const nights: Night[] = [];
  const skipped: SkippedRecord[] = [];
  for (const file of names) {
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(join(dir, file), 'utf8'));
    } catch (err) {
      skipped.push({ file, reason: `not JSON: ${err instanceof Error ? err.message : String(err)}` });
      continue;
    }
    const parsed = Night.safeParse(raw);
    if (!parsed.success) {
      skipped.push({ file, reason: `not a night record: ${z.prettifyError(parsed.error).replace(/\n+/g, '; ')}` });
      continue;
    }
    if (parsed.data.base !== base) {
      skipped.push({ file, reason: `record of base ${parsed.data.base}, not ${base}` });
      continue;
    }
    nights.push(parsed.data);
  }
  nights.sort((a, b) => cmp(a.night, b.night) || cmp(a.startedAt, b.startedAt));
  return { nights, skipped };
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The trends of a sorted list of nights: one per (backend, metric key), in key order. */
export function trends(nights: readonly Night[]): Trend[] {
  const byChart = new Map<string, { m: NightMetric; rows: TrendRow[]; regressions: Array<{ night: string; message: string }> }>();
  for (const n of nights) {
    for (const m of n.metrics) {
      const id = `${m.key}\0${m.backend}`;
      const t = byChart.get(id) ?? { m, rows: [], regressions: [] };
      const found = n.findings.filter((f) => f.kind === 'regression' && f.key === m.key);
      t.rows.push({
        night: n.night, value: m.value, lo: m.lo, hi: m.hi, regression: found.length > 0,
        label: `${n.night}: ${fmt(m.value)} ${m.unit} (${fmt(m.lo)} to ${fmt(m.hi)})${found.length > 0 ? ', regression' : ''}`,
      });
      for (const f of found) t.regressions.push({ night: n.night, message: f.message });
      byChart.set(id, t);
    }
  }
  return [...byChart.values()]
    .map(({ m, rows, regressions }) => ({ key: m.key, backend: m.backend, kind: m.kind, unit: m.unit, rows, regressions }))
    .sort((a, b) => cmp(a.key, b.key) || cmp(a.backend, b.backend));
}

const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : v.toPrecision(4));

/** The y axis title: what the figure is, so a ratio is not read as nanoseconds. */
function yTitle(t: Trend): string {
  if (t.kind === 'ratio') return `ratio (${t.unit}), measured within one run`;
  return t.backend === 'icount' && t.unit === 'ns' ? 'ns (icount: 1 ns = one guest instruction)' : t.unit;
}

/** The vega-lite specification of one trend chart. */
export function trendSpec(t: Trend, nights: readonly string[]): TopLevelSpec {
  const y = { field: 'value', type: 'quantitative' } as const;
  const regression = { filter: 'datum.regression' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: t.key, subtitle: `${t.backend} · ${t.kind}` },
    width: Math.min(1100, Math.max(300, 60 * nights.length)),
    height: 200,
    data: { values: t.rows.map((r) => ({ ...r })) },
    encoding: { x: { field: 'night', type: 'ordinal', title: null, sort: [...nights], scale: { domain: [...nights] }, axis: { labelAngle: -40, labelOverlap: true } } },
    layer: [
      {
        mark: { type: 'errorbar', ticks: true },
        encoding: { y: { field: 'lo', type: 'quantitative', title: yTitle(t), scale: { zero: false } }, y2: { field: 'hi' } },
      },
      { mark: { type: 'line', point: true }, encoding: { y, description: { field: 'label' } } },
      // The layer's name becomes the SVG group's class: "regression_marks".
      {
        name: 'regression',
        transform: [regression],
        mark: { type: 'point', shape: 'diamond', filled: true, size: 160, color: '#d62728', opacity: 1 },
        encoding: { y, description: { field: 'label' } },
      },
      {
        name: 'regression_label',
        transform: [regression],
        mark: { type: 'text', text: 'regression', dy: -14, color: '#d62728', fontWeight: 'bold' },
        encoding: { y },
      },
    ],
  };
}

/** Text for HTML content and double-quoted attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The href of a night's report from index.html (which sits beside the record). */
function reportHref(dir: string, report: string): string {
  const rel = isAbsolute(report) ? relative(dir, report) : report;
  return rel.split(/[\\/]/).map(encodeURIComponent).join('/');
}

const STEPS = ['apply', 'build', 'boot', 'kunit'] as const;

function nightRow(dir: string, n: Night): string {
  const night = n.report ? `<a href="${esc(reportHref(dir, n.report))}">${esc(n.night)}</a>` : esc(n.night);
  const trees = n.trees.map((t) => {
    const steps = STEPS.map((s) => `<span class="step ${t[s]}" title="${esc(`${s}: ${t[s]}`)}">${s} ${t[s]}</span>`).join(' ');
    return `<div class="tree"${t.reason ? ` title="${esc(t.reason)}"` : ''}><b>${esc(t.variant)}</b> ${steps}</div>`;
  }).join('');
  const findings = n.findings.length === 0 ? '0'
    : `<details><summary>${n.findings.length}</summary><ul>${n.findings.map((f) => `<li class="finding" data-kind="${f.kind}">${esc(`${f.kind} ${f.key}: ${f.message}`)}</li>`).join('')}</ul></details>`;
  return `<tr data-night="${esc(n.night)}"><td>${night}</td><td>${esc(n.kernel.version)}</td>`
    + `<td class="result ${n.result}">${n.result}</td><td>${trees}</td><td>${findings}</td></tr>`;
}

async function chartSection(t: Trend, nights: readonly string[]): Promise<string> {
  const svg = await renderSpecSvg(trendSpec(t, nights));
  const marks = t.regressions.map((r) =>
    `<li class="regression" data-metric="${esc(t.key)}" data-night="${esc(r.night)}">regression on ${esc(r.night)}: ${esc(r.message)}</li>`).join('');
  return `<section class="chart" data-metric="${esc(t.key)}" data-backend="${esc(t.backend)}">\n${svg}\n`
    + (marks ? `<ul class="regressions">${marks}</ul>\n` : '') + '</section>';
}

const STYLE = `
body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 80em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; vertical-align: top; text-align: left; }
.result.ok, .step.pass { color: #2a7d2a; }
.result.regression, .step.fail, .regression, .finding[data-kind=regression] { color: #d62728; font-weight: bold; }
.result.infra { color: #b36b00; font-weight: bold; }
.step.skip { color: #888; }
.step { font-size: 0.85em; }
#charts > div { display: flex; flex-wrap: wrap; gap: 1.5em 3em; }
.chart { margin: 1em 0; }
.regressions { max-width: 40em; }
.skipped { color: #b36b00; }
`;

/** The whole page. */
export async function historyHtml(dir: string, base: string, nights: readonly Night[], skipped: readonly SkippedRecord[]): Promise<{ html: string; charts: number }> {
  const order = [...new Set(nights.map((n) => n.night))];
  const ts = trends(nights);
  const charts: string[] = [];
  for (const t of ts) charts.push(await chartSection(t, order));
  const last = nights.at(-1);
  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>qmempool nightly: ${esc(base)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>qmempool nightly history: ${esc(base)}</h1>
<p>${nights.length} night${nights.length === 1 ? '' : 's'}${last ? `, the last ${esc(last.night)} (${esc(last.kernel.description)})` : ''}.</p>
<section id="about">
<h2>Reading the figures</h2>
<ul>
<li>On the <b>icount</b> backend QEMU counts one guest instruction as one nanosecond, so an "ns" there is one guest instruction: the figure repeats between runs and is tracked as it is.</li>
<li>On noisy backends (kvm, tcg, uml) absolute times vary between machines and runs; only ratios measured within one run (patched side ÷ baseline side of the same round) are tracked.</li>
<li>Each point is a night's figure (the median of the per-boot figures, or a ratio's estimate); the bars span its 95% interval where there is one, else the range of the figures. A red diamond labelled "regression" marks a night whose findings include a regression of that metric.</li>
</ul>
</section>
<section id="nights">
<h2>Nights</h2>
<table>
<thead><tr><th>night (report)</th><th>kernel</th><th>result</th><th>trees</th><th>findings</th></tr></thead>
<tbody>
${[...nights].reverse().map((n) => nightRow(dir, n)).join('\n')}
</tbody>
</table>
</section>
${skipped.length === 0 ? '' : `<section id="skipped"><h2>Records not shown</h2><ul>${skipped.map((s) => `<li class="skipped">${esc(`${s.file}: ${s.reason}`)}</li>`).join('')}</ul></section>\n`}<section id="charts">
<h2>Metrics</h2>
${charts.length === 0 ? '<p>No metrics recorded.</p>' : `<div>\n${charts.join('\n')}\n</div>`}
</section>
</body>
</html>
`;
  return { html, charts: charts.length };
}

/** Write <historyDir>/<base>/index.html from the night records beside it. */
export async function writeHistoryPage(historyDir: string, base: string, o: { log?: Logger } = {}): Promise<HistoryPage> {
  const dir = join(historyDir, base);
  const { nights, skipped } = await readNights(dir, base);
  for (const s of skipped) o.log?.warn(`history page: skipping ${join(dir, s.file)}: ${s.reason}`);
  if (nights.length === 0) {
    throw new QkError('infra-error', `no valid night record in ${dir}`, {
      details: skipped.map((s) => `${s.file}: ${s.reason}`).join('\n') || 'the directory has no *.json',
      hint: 'a night record is written by nightly; check the files named above against scripts/lib/ci/night.ts',
    });
  }
  const { html, charts } = await historyHtml(dir, base, nights, skipped);
  const file = join(dir, 'index.html');
  await writeFileAtomic(file, html);
  return { file, charts, skipped };
}
