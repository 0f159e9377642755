/**
 * The benchmark sections of report.md: ratios first (goals, the series
 * against its peers, the sides against each other), then every figure,
 * then what did not run. Every row names the backend that produced it.
 */
import { median } from 'simple-statistics';
import { FILTERED_BACKENDS, HOST_SLOW_FACTOR, MIN_KEPT_SAMPLES } from './hostspeed.ts';
import { GOALS, HEADLINE_SIDE_CASES, bootFigure, REFERENCE_2014, goals, judged, sideOrder, type ControlResult, type Family, type SideComparison, type WithinBoot } from './bench.ts';
import { FOREST_FILE, chartData } from './charts.ts';
import { ALPHA, EXACT_MAX_PAIRS, PRACTICAL_THRESHOLD, fmtP, fmtStat, type PairedStat } from './stats.ts';
import type { Backend, Results } from './results.ts';

export const BACKEND_MEANING = {
  kvm: 'real time under hardware virtualization (noisy: compare medians)',
  tcg: 'emulated time under QEMU TCG: meaningful only beside its peer from this run',
  icount: 'one "ns" per guest instruction (QEMU icount): repeatable, blind to cache misses and atomics',
  uml: 'native CPU time of kernel code, User-Mode Linux, uniprocessor (no LOCK prefixes: atomics are cheap)',
} as const satisfies Record<Backend, string>;

const fmt = (x: number): string => (Math.abs(x) >= 100 ? x.toFixed(1) : x.toFixed(2));

const fmtQ = (s: PairedStat): string => (s.q === undefined ? '–' : fmtP(s.q));

function statCells(s: PairedStat): string[] {
  return [fmtStat(s), String(s.n), fmtQ(s), `${s.verdict} (${s.basis})`];
}

const thresholdText = (be: Backend): string => `±${(PRACTICAL_THRESHOLD[be] * 100).toFixed(1)}%`;

function sideRow(c: SideComparison): string {
  return `| ${c.name} | ${c.backend} | ${c.side} vs ${c.ref} | ${fmt(c.sideMedian)} / ${fmt(c.refMedian)} ${c.unit} | ${statCells(c.stat).join(' | ')} |`;
}

const SIDE_HEADER = ['| case | backend | sides | medians (paired rounds) | ratio [interval] coverage | n | q | verdict |', '|---|---|---|---|---|---|---|---|'];

function peerRow(p: WithinBoot): string {
  return `| ${p.name} ÷ ${p.peer} | ${p.backend} | ${p.side} | ${fmt(p.nameMedian)} / ${fmt(p.peerMedian)} | ${statCells(p.stat).join(' | ')} |`;
}

export function renderBenchSections(r: Results): string[] {
  const L: string[] = [];
  const metrics = r.metrics.filter((m) => m.flavor === 'normal');
  L.push('## Benchmarks: the headline', '');
  if (metrics.length === 0) {
    L.push('No benchmark produced a figure in this run.', '');
    return [...L, ...renderNotRunCases(r)];
  }
  const j = judged(r);
  // The picture first: every comparison's ratio and interval (charts.ts forestSpec).
  if (j.sides.length + j.peers.length > 0) L.push(`![every comparison: ratio and interval on a log scale, coloured by verdict](charts/${FOREST_FILE})`, '');
  L.push(
    'Lower is better (time per operation). A ratio is A ÷ B from this run only, the Hodges–Lehmann estimate of the paired log ratios; in brackets its rank-based interval ' +
      'with the coverage the discrete signed-rank distribution actually gives (96.1% at n = 8, 96.9% at n = 6; none below 6 pairs); n counts pairs: boots for cases in the same boot, rounds for sides. ' +
      `The p-value is the exact two-sided Wilcoxon signed-rank test (every sign assignment of the ranks counted, ties and zero differences included; the normal approximation above ${EXACT_MAX_PAIRS} pairs). ` +
      `A run makes many tests, so a verdict is decided on its Benjamini–Hochberg q-value within its family (one family per backend: every side against every other and every case against its peer; the A/A control apart): ` +
      `faster or slower when q ≤ ${ALPHA} and the change is at least the backend's practical threshold, "no meaningful change" when significant but smaller, ` +
      `"inconclusive" when even the smallest p its pairs could give (2/2ⁿ: 0.031 at n = 6, 0.0078 at n = 8) would not pass the family's threshold. ` +
      `On icount one pair decides: a ratio beyond ${thresholdText('icount')} is a change.`,
    '',
  );
  L.push(...renderFamilies(j.families), ...renderControls(j.controls));
  const g = goals(r);
  L.push('### Goals (ratios of two cases in one boot)', '');
  if (g.length === 0) {
    L.push(`No goal could be evaluated: none of ${GOALS.map((x) => `${x.name} ÷ ${x.peer}`).join(', ')} ran with its peer (they need the patched kernel and the headline cases).`, '');
  } else {
    L.push('| goal | backend | side | A / B | ratio [interval] coverage | n | q | verdict | goal | original work (2014) |', '|---|---|---|---|---|---|---|---|---|---|');
    for (const x of g) {
      const p = x.result;
      const fit = x.fit ? '' : ' (read this goal on tcg: this backend has no SMP atomics)';
      const original = x.goal.original === undefined ? '–' : `${x.goal.original.toFixed(2)}×`;
      L.push(`| ${x.goal.label} (${p.name} ÷ ${p.peer}) | ${p.backend} | ${p.side} | ${fmt(p.nameMedian)} / ${fmt(p.peerMedian)} | ${statCells(p.stat).join(' | ')} | ≤${x.goal.max}×: **${x.state}**${fit} | ${original} |`);
    }
    const fitting = g.filter((x) => x.fit);
    const count = (s: string) => fitting.filter((x) => x.state === s).length;
    L.push('', `On the backends each goal is read on: ${count('met')} met, ${count('not met')} not met, ${count('unclear')} unclear. A goal not met is a result, reported as measured.`, '');
  }
  const sides = j.sides.filter((c) => !c.control);
  const head = sides.filter((c) => (HEADLINE_SIDE_CASES as readonly string[]).includes(c.name));
  if (head.length > 0) {
    L.push('### Sides compared, paired by round (the sk_buff paths the series changes; slab/reuse as a control)', '');
    L.push(...SIDE_HEADER);
    for (const c of head) L.push(sideRow(c));
    L.push('');
  }
  L.push('What the backends\' numbers mean:', '');
  for (const be of new Set(metrics.map((m) => m.backend))) L.push(`- ${be}: ${BACKEND_MEANING[be]}`);
  L.push('');

  const peers = j.peers;
  if (peers.length > 0) {
    L.push('## Every case against its peer in the same boot', '', '| case ÷ peer | backend | side | medians (ns) | ratio [interval] coverage | n | q | verdict |', '|---|---|---|---|---|---|---|---|');
    for (const p of peers) L.push(peerRow(p));
    L.push('');
  }
  if (sides.length > 0) {
    L.push('## Every case across sides, paired by round', '', ...SIDE_HEADER);
    for (const c of sides) L.push(sideRow(c));
    L.push('');
  }
  const control = j.sides.filter((c) => c.control);
  if (control.length > 0) {
    L.push('## The A/A control: one kernel booted twice per round', '', ...SIDE_HEADER);
    for (const c of control) L.push(sideRow(c));
    L.push('');
  }
  const dropped = [...j.sides, ...j.peers].reduce((a, c) => a + c.stat.dropped, 0);
  if (dropped > 0) L.push(`${dropped} pair(s) had a figure ≤ 0 and were left out of their comparisons (each row's verdict says how many).`, '');
  const charts = chartData(r);
  if (charts.length > 0) {
    L.push('## Charts', '', `Per side: the Hodges–Lehmann estimate of the per-boot figures with its rank interval (coverage ≥ 95%, as computed), or the median and the range when there are too few boots for an interval. Data: results.csv. The comparisons themselves: charts/${FOREST_FILE}.`, '');
    for (const c of charts) L.push(`![${c.title}](charts/${c.file})`);
    L.push('');
  }
  L.push(...renderFigures(r), ...renderSlowSpells(r), ...renderNetScenarios(r), ...renderPoolCounters(r), ...renderNotRunCases(r));
  return L;
}

const NET_SUITE = 'net';
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/**
 * The packet scenarios (qemu/net/net.sh): per case, backend and side the
 * rate, the counters that prove the packets' path (summed over samples and
 * boots), and the sk_buff pool's state and slab traffic over the samples;
 * then the sides against each other, paired by round.
 */
function renderNetScenarios(r: Results): string[] {
  const net = r.metrics.filter((m) => m.flavor === 'normal' && m.suite === NET_SUITE);
  if (net.length === 0) return [];
  const order = sideOrder(r);
  const L = [
    '## Packet scenarios',
    '',
    'Each sample is one pktgen run (or one TCP stream); ns per packet = pktgen\'s elapsed time ÷ packets sent. Counters are summed over all samples and boots and must equal the packets sent, or the scenario fails. ' +
      'Pool: the sk_buff pool as one alloc_skb() found it (on, off, or absent on a kernel without the series) and its slab traffic during the samples. ' +
      'For scale, the original work (2014, Xeon E5-2695, 3.16 → 3.28 Mpps drop, 1.137 → 1.192 Mpps forward) saved ~12 ns/packet on the raw-table drop and ~40 ns/packet on forwarding.',
    '',
    '| case | backend | side | ns/unit (median) | pps (median) | boots × samples | path counters | pktgen errors | pool | pool slab alloc / refills |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  const keys = [...new Set(net.map((m) => `${m.name}\0${m.backend}`))].sort();
  for (const key of keys) {
    const [name, backend] = key.split('\0');
    for (const side of order) {
      const ms = net.filter((m) => m.name === name && m.backend === backend && m.side === side);
      if (ms.length === 0) continue;
      const pps = ms.flatMap((m) => (Array.isArray(m.guest?.['pps']) ? (m.guest['pps'] as unknown[]).map(num) : []));
      const counters: Record<string, number> = {};
      let errors = 0;
      for (const m of ms) {
        for (const c of Array.isArray(m.guest?.['counters']) ? (m.guest['counters'] as Record<string, unknown>[]) : []) {
          for (const [k, v] of Object.entries(c)) {
            if (k === 'pktgen_errors') errors += num(v);
            else if (!['pktgen_sent', 'usec', 'ns', 'bytes', 'host_ns', 'guest_window_ns', 'host_frames', 'guest_frames'].includes(k)) counters[k] = (counters[k] ?? 0) + num(v);
          }
        }
      }
      const pools = ms.map((m) => (m.guest?.['pool'] && typeof m.guest['pool'] === 'object' ? (m.guest['pool'] as Record<string, unknown>) : {}));
      const states = [...new Set(pools.map((p) => String(p['state'] ?? 'unknown')))].join(', ');
      const slab = pools.reduce((a, p) => a + num(p['slab_alloc']), 0);
      const refills = pools.reduce((a, p) => a + num(p['slab_refill']) + num(p['shared_refill']), 0);
      const figure = median(ms.map(bootFigure));
      L.push(`| ${name} | ${backend} | ${side} | ${fmt(figure)} ${ms[0]!.per ?? ''} | ${pps.length ? Math.round(median(pps)).toLocaleString('en-US') : '–'} | ${ms.length} × ${ms[0]!.samples.length} | ${Object.entries(counters).map(([k, v]) => `${k} ${v}`).join(', ') || '–'} | ${name!.startsWith('net/pktgen') ? errors : '–'} | ${states} | ${states === 'absent' ? '–' : `${slab} / ${refills}`} |`);
    }
  }
  const cmp = judged(r).sides.filter((c) => !c.control && c.name.startsWith(`${NET_SUITE}/`));
  if (cmp.length > 0) {
    L.push('', 'Sides compared, paired by round ("off vs baseline": what the hooks cost when the pool is off; "on vs off": what the pool does):', '');
    L.push(...SIDE_HEADER);
    for (const c of cmp) L.push(sideRow(c));
  }
  const settings = net.find((m) => m.guest?.['settings'] && m.name.startsWith(`${NET_SUITE}/pktgen`))?.guest?.['settings'];
  if (settings) L.push('', `pktgen settings: \`${JSON.stringify(settings)}\``);
  L.push('');
  return L;
}

/** Above this, the per-boot medians of one case disagree more than the run's noise should allow. */
export const BOOT_SPREAD_WARN = 1.15;

/** The per-boot spread of one case on one side and backend: max ÷ min of the per-boot figures (two boots or more). */
export function bootSpread(figures: readonly number[]): number | undefined {
  const pos = figures.filter((x) => x > 0);
  return pos.length < 2 ? undefined : Math.max(...pos) / Math.min(...pos);
}

function spreadCell(figures: readonly number[]): string {
  const s = bootSpread(figures);
  return s === undefined ? '' : `, per boot ×${s.toFixed(2)}${s > BOOT_SPREAD_WARN ? ' ⚠' : ''}`;
}

/** Per case, backend and side: median of per-boot medians, the spread of all samples and of the per-boot medians. */
function renderFigures(r: Results): string[] {
  const order = sideOrder(r);
  const L = [
    '## Every figure',
    '',
    `Per side: median of the per-boot medians, [min–max] of all samples, b boots × s samples, and the per-boot spread: the largest per-boot median ÷ the smallest (marked ⚠ above ${BOOT_SPREAD_WARN}, where the boots do not agree with each other, e.g. a bimodal peer, and every ratio against that case inherits it). The 2014 column is the original work's figure on a Xeon E5-2695, for reference only.`,
    '',
  ];
  const cols = ['case', 'backend', 'unit', ...order, '2014 reference'];
  L.push(`| ${cols.join(' | ')} |`, `|${cols.map(() => '---|').join('')}`);
  const keys = [...new Set(r.metrics.filter((m) => m.flavor === 'normal').map((m) => `${m.backend}\0${m.name}`))].sort();
  for (const key of keys) {
    const [backend, name] = key.split('\0');
    const ms = r.metrics.filter((m) => m.flavor === 'normal' && m.backend === backend && m.name === name);
    const unit = `${ms[0]!.unit}${ms[0]!.per ? `/${ms[0]!.per}` : ''}`;
    const cells = order.map((side) => {
      const s = ms.filter((m) => m.side === side);
      if (s.length === 0) return r.benchStatus.some((x) => x.side === side && x.backend === backend && `${x.suite}/${x.case}` === name) ? 'skipped (below)' : 'not run';
      const all = s.flatMap((m) => m.samples);
      const boots = s.map(bootFigure);
      return `${fmt(median(boots))} [${fmt(Math.min(...all))}–${fmt(Math.max(...all))}] ${s.length}×${s[0]!.samples.length}${spreadCell(boots)}`;
    });
    const ref = REFERENCE_2014[name!];
    L.push(`| ${name} | ${backend} | ${unit} | ${cells.join(' | ')} | ${ref === undefined ? '–' : `${ref} ns`} |`);
  }
  L.push('');
  return L;
}

/** Per backend: the samples left out because the host ran the guest's CPU slow while they were taken (hostspeed.ts). */
function renderSlowSpells(r: Results): string[] {
  const rows = [...new Set(r.metrics.map((m) => m.backend))].sort().flatMap((backend) => {
    const ms = r.metrics.filter((m) => m.backend === backend);
    const out = ms.reduce((n, m) => n + (m.slowed?.length ?? 0), 0);
    const gone = r.benchStatus.filter((b) => b.backend === backend && b.status === 'slowed');
    if (out === 0 && gone.length === 0) return [];
    const taken = ms.reduce((n, m) => n + m.samples.length + (m.slowed?.length ?? 0), 0);
    const boots = new Set([...ms.filter((m) => m.slowed).map((m) => m.boot), ...gone.map((b) => b.boot)]).size;
    return [`| ${backend} | ${out} of ${taken} | ${gone.length} | ${boots} of ${new Set(ms.map((m) => m.boot)).size} |`];
  });
  if (rows.length === 0) return [];
  return [
    '## Samples taken while the host ran the guest slow',
    '',
    `On ${FILTERED_BACKENDS.join(', ')} (the QEMU backends' readings are reported, not used yet): before each sample and after the last one the guest times two things that touch nothing the series changes: an empty loop and a walk over a small buffer. A sample with a reading before or after it more than ${HOST_SLOW_FACTOR}× slower than that reading's fast level (its 10th percentile over the run's boots of one backend: for the walk, of one kernel and module too, as the buffer's placement alone changes it) was taken in a slow spell of the host and is left out of every figure above and every comparison; a boot's case with fewer than ${MIN_KEPT_SAMPLES} samples left has no figure (status "slowed" below). results.json keeps the left-out samples (\`slowed\`) and the readings (\`guest.ref_ps\`, \`guest.mref_ps\`).`,
    '',
    '| backend | samples left out (cases that kept a figure) | cases left without a figure | boots affected |',
    '|---|---|---|---|',
    ...rows,
    '',
  ];
}

function renderNotRunCases(r: Results): string[] {
  if (r.benchStatus.length === 0) return [];
  const seen = new Map<string, { sides: Set<string>; backends: Set<string> }>();
  for (const s of r.benchStatus) {
    const key = `${s.status}\0${s.suite}/${s.case}\0${s.reason}`;
    const e = seen.get(key) ?? { sides: new Set(), backends: new Set() };
    e.sides.add(s.side);
    e.backends.add(s.backend);
    seen.set(key, e);
  }
  const L = ['## Benchmark cases without figures', '', '| case | status | sides | backends | reason |', '|---|---|---|---|---|'];
  for (const [key, e] of [...seen].sort()) {
    const [status, name, reason] = key.split('\0');
    L.push(`| ${name} | ${status} | ${[...e.sides].join(', ')} | ${[...e.backends].join(', ')} | ${reason!.replace(/\|/g, '\\|')} |`);
  }
  L.push('');
  return L;
}

/** A few lines for the terminal at the end of a run: the goals, the headline side changes and the A/A control. */
export function headlineSummary(r: Results): string[] {
  const L: string[] = [];
  const j = judged(r);
  const q = (s: PairedStat) => (s.q === undefined ? '' : ` q=${fmtP(s.q)}`);
  for (const x of goals(r).filter((g) => g.fit)) {
    const p = x.result;
    L.push(`  ${p.name} ÷ ${p.peer} on ${p.backend} (${p.side}): ${fmtStat(p.stat)} n=${p.stat.n}${q(p.stat)}, ${p.stat.verdict}; goal ≤${x.goal.max}×: ${x.state}`);
  }
  for (const c of j.sides.filter((s) => !s.control && (HEADLINE_SIDE_CASES as readonly string[]).includes(s.name))) {
    L.push(`  ${c.name} on ${c.backend}: ${c.side} ÷ ${c.ref} ${fmtStat(c.stat)} n=${c.stat.n}${q(c.stat)}, ${c.stat.verdict}`);
  }
  for (const f of j.families.filter((x) => x.kind === 'comparisons' && x.tests > 0)) {
    L.push(`  ${f.backend}: ${f.tests} tests, ${f.changes} faster/slower after Benjamini–Hochberg (${f.changesRaw} on p alone), threshold ±${(f.threshold * 100).toFixed(1)}%`);
  }
  for (const c of j.controls) L.push(`  ${controlLine(c)}`);
  return L.length > 0 ? ['headline (ratios from this run; lower is better):', ...L] : [];
}

/** Per backend: how many tests, what survived the correction, the threshold. */
function renderFamilies(families: readonly Family[]): string[] {
  const main = families.filter((f) => f.kind === 'comparisons');
  if (main.length === 0) return [];
  const L = ['### Tests and verdicts per backend', '', '| backend | tests | p ≤ 0.05 | faster/slower on p alone | faster/slower on q (reported) | inconclusive | practical threshold |', '|---|---|---|---|---|---|---|'];
  for (const f of main) {
    L.push(f.backend === 'icount'
      ? `| icount | – (no test: one pair decides) | – | ${f.changesRaw} | ${f.changes} | ${f.inconclusive} | ±${(f.threshold * 100).toFixed(1)}% |`
      : `| ${f.backend} | ${f.tests} | ${f.significantRaw} | ${f.changesRaw} | ${f.changes} | ${f.inconclusive} | ±${(f.threshold * 100).toFixed(1)}% |`);
  }
  L.push('');
  return L;
}

function controlLine(c: ControlResult): string {
  const state = c.flagged
    ? `FLAGGED: more than the ${c.allowed} that ${c.tests} independent tests exceed with probability ≤ ${ALPHA}`
    : `within the ${c.allowed} that ${c.tests} independent tests exceed with probability ≤ ${ALPHA}`;
  return `A/A control on ${c.backend} (${c.side}, the ${c.twinOf} kernel again): ${c.significantRaw} of ${c.tests} tests at p ≤ ${ALPHA} (expected ${c.expected.toFixed(2)} with no difference), ${state}; ${c.changes} faster/slower verdict(s) after the correction`;
}

/** The A/A control: how often the test fired on one kernel against itself. */
function renderControls(controls: readonly ControlResult[]): string[] {
  if (controls.length === 0) return [];
  const L = ['### The A/A control', ''];
  for (const c of controls) L.push(`- ${controlLine(c)}.`);
  L.push('',
    'Both sides of the control boot one kernel image with one command line in every round, alternating position, so every difference between them is noise or a position effect. ' +
      'Boots share their noise across cases (one boot\'s state moves all its figures), so significant control tests come in clusters more often than independent tests would; ' +
      'a flag means the verdicts on that backend deserve less trust than their q-values say (on UML, the first result of a boot running fast makes this likely). The flag does not fail the run.', '');
  return L;
}

/**
 * The pool's own counters per case, summed over a side's boots: proof that
 * a qmempool or sk_buff case went through the pool (allocs) and which paths
 * it took. Hits are allocations the pool served without the slab fallback.
 */
function renderPoolCounters(r: Results): string[] {
  const sums = new Map<string, { boots: number; c: Record<string, number>; note?: string }>();
  for (const m of r.metrics) {
    if (m.suite === NET_SUITE) continue; // their own section, renderNetScenarios()
    const pool = m.guest?.['pool'];
    const note = typeof m.guest?.['pool_note'] === 'string' ? (m.guest['pool_note'] as string) : undefined;
    if ((pool === undefined || pool === null) && !note) continue;
    const key = `${m.name}\0${m.backend}\0${m.side}`;
    const e = sums.get(key) ?? { boots: 0, c: {} };
    e.boots++;
    if (pool && typeof pool === 'object') for (const [k, v] of Object.entries(pool)) if (typeof v === 'number' && k !== 'cached') e.c[k] = (e.c[k] ?? 0) + v;
    if (note) e.note = note;
    sums.set(key, e);
  }
  if (sums.size === 0) return [];
  const L = ['## Pool counters', '', 'Summed over the boots of each side (deltas over the timed samples). hits = allocs − fallback_alloc: allocations the pool served itself; refills and flushes show which level of the pool moved objects.', '',
    '| case | backend | side | boots | allocs | hits | shared refill / flush | slab refill / flush | fallback alloc / free | note |', '|---|---|---|---|---|---|---|---|---|---|'];
  for (const [key, e] of [...sums].sort()) {
    const [name, backend, side] = key.split('\0');
    const c = (k: string) => e.c[k] ?? 0;
    L.push(`| ${name} | ${backend} | ${side} | ${e.boots} | ${c('allocs')} | ${c('allocs') - c('fallback_alloc')} | ${c('shared_refill')} / ${c('shared_flush')} | ${c('slab_refill')} / ${c('slab_flush')} | ${c('fallback_alloc')} / ${c('fallback_free')} | ${e.note ?? ''} |`);
  }
  L.push('');
  return L;
}
