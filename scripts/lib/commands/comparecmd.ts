/**
 * compare.mjs: two stored runs side by side, as mmtests' compare-kernels
 * does for its runs. Absolute native and emulated figures moved 2× between
 * days on one machine, so across runs it compares the ratios each run
 * measured within itself (a case against its peer in the same boot, a side
 * against another side of the same round); only icount, which counts
 * instructions, is compared in absolute terms as well. The gate reads
 * intervals, as nightly's does: a ratio regressed only when even the least
 * change both runs' intervals allow (B's lower bound over A's upper bound)
 * is past the threshold, so a case whose interval is 17% wide cannot trip a
 * 5% gate on its point estimate alone.
 */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { parseArgs } from './command.ts';
import { median } from 'simple-statistics';
import { QkError, formatError, exitCodeOf } from '../plumbing/errors.ts';
import { REPO_ROOT } from '../plumbing/paths.ts';
import { bootFigure, peerComparisons, sideComparisons } from '../analysis/bench.ts';
import { fmtStat, type PairedStat } from '../analysis/stats.ts';
import { readResultsFile, type Results } from '../analysis/results.ts';

export interface RatioRow {
  /** "qmempool/reuse ÷ slab/reuse" or "skb/alloc_free: on vs off". */
  readonly key: string;
  /** The case whose figure is the numerator. */
  readonly name: string;
  readonly backend: string;
  readonly side: string;
  readonly stat: PairedStat;
}

export function ratioRows(r: Results): RatioRow[] {
  return [
    ...peerComparisons(r).map((p) => ({ key: `${p.name} ÷ ${p.peer}`, name: p.name, backend: p.backend, side: p.side, stat: p.stat })),
    ...sideComparisons(r).map((c) => ({ key: `${c.name}: ${c.side} vs ${c.ref}`, name: c.name, backend: c.backend, side: c.side, stat: c.stat })),
  ];
}

export interface CompareRow {
  readonly key: string;
  readonly name: string;
  readonly backend: string;
  readonly side: string;
  readonly a?: PairedStat;
  readonly b?: PairedStat;
  /** B's ratio over A's, minus one. */
  readonly change?: number;
  /** The least change the two intervals allow: B's lower bound over A's upper bound, minus one (icount: the change). */
  readonly changeLo?: number;
  readonly regressed: boolean;
  /** Why it is or is not a regression, when that is not plain from the numbers. */
  readonly note?: string;
}

export interface AbsoluteRow {
  readonly name: string;
  readonly side: string;
  readonly a: number;
  readonly b: number;
  readonly change: number;
  readonly regressed: boolean;
}

export interface Comparison {
  readonly ratios: readonly CompareRow[];
  /** icount only: instruction counts per op, run against run. */
  readonly absolute: readonly AbsoluteRow[];
  readonly regressions: number;
}

/** Does `name` match one of the chosen metrics (all when none is chosen)? */
const chosen = (metrics: readonly string[], name: string): boolean => metrics.length === 0 || metrics.includes(name);

export function compareRuns(a: Results, b: Results, o: { metrics: readonly string[]; threshold: number }): Comparison {
  const index = (rows: RatioRow[]) => new Map(rows.map((x) => [`${x.backend}\0${x.side}\0${x.key}`, x]));
  const ra = index(ratioRows(a));
  const rb = index(ratioRows(b));
  const ratios: CompareRow[] = [];
  for (const k of [...new Set([...ra.keys(), ...rb.keys()])].sort()) {
    const x = ra.get(k);
    const y = rb.get(k);
    const any = (x ?? y)!;
    const change = x && y ? y.stat.ratio / x.stat.ratio - 1 : undefined;
    // A lower ratio is better (less time than the peer or the earlier side). icount repeats to the
    // digit and has no interval: its point decides. Elsewhere both runs need an interval.
    let changeLo: number | undefined;
    let note: string | undefined;
    if (x && y) {
      if (any.backend === 'icount') changeLo = change;
      else if (x.stat.ci && y.stat.ci) changeLo = y.stat.ci.lo / x.stat.ci.hi - 1;
      else note = `no interval in ${x.stat.ci ? 'B' : y.stat.ci ? 'A' : 'either run'} (too few pairs): cannot show a regression`;
    }
    const regressed = changeLo !== undefined && changeLo > o.threshold && chosen(o.metrics, any.name);
    ratios.push({
      key: any.key, name: any.name, backend: any.backend, side: any.side, ...(x ? { a: x.stat } : {}), ...(y ? { b: y.stat } : {}),
      ...(change !== undefined ? { change } : {}), ...(changeLo !== undefined ? { changeLo } : {}), regressed, ...(note ? { note } : {}),
    });
  }
  const icount = (r: Results) => {
    const m = new Map<string, number[]>();
    for (const x of r.metrics) {
      if (x.backend !== 'icount' || x.flavor !== 'normal') continue;
      const k = `${x.name}\0${x.side}`;
      m.set(k, [...(m.get(k) ?? []), bootFigure(x)]);
    }
    return new Map([...m].map(([k, v]) => [k, median(v)]));
  };
  const ia = icount(a);
  const ib = icount(b);
  const absolute: AbsoluteRow[] = [];
  for (const [k, va] of [...ia].sort()) {
    const vb = ib.get(k);
    if (vb === undefined || va <= 0) continue;
    const [name, side] = k.split('\0') as [string, string];
    const change = vb / va - 1;
    absolute.push({ name, side, a: va, b: vb, change, regressed: change > o.threshold && chosen(o.metrics, name) });
  }
  const regressions = ratios.filter((x) => x.regressed).length + absolute.filter((x) => x.regressed).length;
  return { ratios, absolute, regressions };
}

const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;

export function renderComparison(c: Comparison, a: { id: string; dir: string }, b: { id: string; dir: string }, threshold: number, metrics: readonly string[]): string {
  const L = [
    `# compare ${a.id} → ${b.id}`,
    '',
    `- A: ${a.dir}`,
    `- B: ${b.dir}`,
    `- Ratios measured within each run are compared (absolute native and TCG figures moved 2× between days; only icount is compared in absolute terms).`,
    `- Regression: a ratio of ${metrics.length ? metrics.join(', ') : 'any case'} whose interval in B lies more than ${(threshold * 100).toFixed(1)}% above its interval in A (B's lower bound ÷ A's upper bound; on icount, which repeats to the digit, the ratio itself), or an icount figure more than that higher.`,
    '',
    '| comparison | backend | side | A: ratio [interval] coverage | A verdict | B: ratio [interval] coverage | B verdict | B vs A (at least) |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of c.ratios) {
    const cell = (s?: PairedStat) => (s ? [fmtStat(s), `${s.verdict} (n=${s.n})`] : ['not in this run', '–']);
    const least = r.changeLo !== undefined && r.backend !== 'icount' ? ` (≥ ${pct(r.changeLo)})` : '';
    const vs = r.change === undefined ? '–' : `${pct(r.change)}${least}${r.regressed ? ' **regressed**' : ''}${r.note ? `; ${r.note}` : ''}`;
    L.push(`| ${r.key} | ${r.backend} | ${r.side} | ${cell(r.a).join(' | ')} | ${cell(r.b).join(' | ')} | ${vs} |`);
  }
  if (c.absolute.length > 0) {
    L.push('', '## icount (instructions per op, comparable across runs)', '', '| case | side | A | B | B vs A |', '|---|---|---|---|---|');
    for (const r of c.absolute) L.push(`| ${r.name} | ${r.side} | ${r.a.toFixed(3)} | ${r.b.toFixed(3)} | ${pct(r.change)}${r.regressed ? ' **regressed**' : ''} |`);
  }
  L.push('', c.regressions === 0 ? 'No regression past the threshold.' : `${c.regressions} regression(s) past the threshold.`, '');
  return L.join('\n');
}

/** The metric names a comparison can gate on: the cases of either run's ratios and icount figures. */
export function knownMetrics(a: Results, b: Results): string[] {
  const names = new Set<string>();
  for (const r of [a, b]) {
    for (const x of ratioRows(r)) names.add(x.name);
    for (const m of r.metrics) if (m.backend === 'icount' && m.flavor === 'normal') names.add(m.name);
  }
  return [...names].sort();
}

/** A --metric that names no case of either run would turn the gate off without a word: refuse it. */
export function checkMetrics(metrics: readonly string[], a: Results, b: Results): void {
  const known = knownMetrics(a, b);
  const unknown = metrics.filter((m) => !known.includes(m));
  if (unknown.length === 0) return;
  throw new QkError('usage-error', `--metric ${unknown.join(', ')}: no such case in either run, so nothing would be gated`, {
    hint: known.length > 0 ? `cases these runs measured: ${known.join(', ')}` : 'neither run has a comparison: were they benchmark runs?',
  });
}

/** A run directory, a results.json, or a run id under results/. */
async function locate(arg: string): Promise<{ dir: string; file: string }> {
  for (const cand of [resolve(arg), join(REPO_ROOT, 'results', arg)]) {
    const st = await stat(cand).catch(() => undefined);
    if (st?.isDirectory()) return { dir: cand, file: join(cand, 'results.json') };
    if (st?.isFile()) return { dir: resolve(cand, '..'), file: cand };
  }
  throw new QkError('usage-error', `no run at '${arg}': give a run directory, its results.json, or a run id under ${join(REPO_ROOT, 'results')}`);
}

async function load(arg: string): Promise<{ dir: string; results: Results }> {
  const { dir, file } = await locate(arg);
  const results = await readResultsFile(file, 'usage-error');
  if (!results) throw new QkError('usage-error', `no results.json in ${dir}: the run ended before it wrote one`);
  return { dir, results };
}

export async function compareMain(argv: readonly string[]): Promise<number> {
  const cmd = new Command('compare.mjs')
    .description('Compare two stored runs: the ratios each measured within itself side by side (icount also in absolute terms); exit 1 when a chosen metric regressed past the threshold.')
    .argument('<run-a>', 'the earlier run: directory, results.json or run id')
    .argument('<run-b>', 'the later run')
    .option('--metric <name...>', 'case(s) whose regression fails the comparison, e.g. qmempool/reuse (default: any case)')
    .option('--threshold <percent>', 'a ratio whose interval in B lies this much above its interval in A is a regression', '5')
    .option('--json', 'print the comparison as JSON')
    .addHelpText('after', '\nExit codes: 0 no regression; 1 a chosen metric regressed past the threshold; 2 bad arguments (also a --metric neither run measured) or unreadable runs.\n\nExample:\n  npx zx scripts/compare.mjs results/20261201-120000-abcd results/20261202-120000-efgh --metric qmempool/reuse --threshold 3')
    .exitOverride()
    .configureOutput({ writeErr: () => {} });
  const early = parseArgs(cmd, argv);
  if (early !== undefined) return early;
  const o = cmd.opts<{ metric?: string[]; threshold: string; json?: boolean }>();
  try {
    const threshold = Number(o.threshold);
    if (!Number.isFinite(threshold) || threshold < 0) throw new QkError('usage-error', `--threshold must be a percentage ≥ 0, not '${o.threshold}'`);
    const [a, b] = await Promise.all(cmd.args.map(load)) as [{ dir: string; results: Results }, { dir: string; results: Results }];
    const metrics = o.metric ?? [];
    checkMetrics(metrics, a.results, b.results);
    const c = compareRuns(a.results, b.results, { metrics, threshold: threshold / 100 });
    process.stdout.write(o.json ? JSON.stringify(c, null, 2) + '\n' : renderComparison(c, { id: a.results.runId, dir: a.dir }, { id: b.results.runId, dir: b.dir }, threshold / 100, metrics));
    return c.regressions > 0 ? 1 : 0;
  } catch (e) {
    process.stderr.write(`${formatError(e)}\n`);
    return exitCodeOf(e);
  }
}
