/**
 * What a run's benchmark figures say: sides compared round by round,
 * cases compared with their peer in the same boot (qmempool vs SLUB,
 * alf_queue vs ptr_ring), the goals set for the series, and the 2014
 * reference figures. Pure functions of results.json; report.md, the CSV,
 * the charts and compare.mjs all read them from here.
 */
import { median } from 'simple-statistics';
import { ALPHA, PRACTICAL_THRESHOLD, judgeFamily, pairedStat, type PairedStat } from './stats.ts';
import type { Backend, Metric, Results } from './results.ts';

const figures = new WeakMap<Metric, number>();

/** One boot's figure for a case: the median of its samples. */
export function bootFigure(m: Metric): number {
  let f = figures.get(m);
  if (f === undefined) {
    f = median([...m.samples]);
    figures.set(m, f);
  }
  return f;
}

type ByBoot = Map<number, Map<string, Metric & { med: number }>>;
const byBootCache = new WeakMap<readonly Metric[], ByBoot>();

/** Normal-flavor figures by boot and case name; computed once per results' metrics. */
function bootMedians(metrics: readonly Metric[]): ByBoot {
  const cached = byBootCache.get(metrics);
  if (cached) return cached;
  const byBoot: ByBoot = new Map();
  for (const m of metrics) {
    if (m.flavor !== 'normal') continue;
    const b = byBoot.get(m.boot) ?? new Map();
    b.set(m.name, { ...m, med: bootFigure(m) });
    byBoot.set(m.boot, b);
  }
  byBootCache.set(metrics, byBoot);
  return byBoot;
}

export interface SideComparison {
  readonly name: string;
  readonly unit: string;
  readonly backend: Backend;
  /** Reference side (earlier in the run's side order) and the side measured against it. */
  readonly ref: string;
  readonly side: string;
  /** Median over the paired rounds (the rounds both sides have) of each side's per-boot figures. */
  readonly refMedian: number;
  readonly sideMedian: number;
  /** side / ref, paired by round, judged within its family. */
  readonly stat: PairedStat;
  /** An A/A control: `side` boots the same kernel and command line as `ref`. */
  readonly control: boolean;
}

/** Side names in the run's order (sides without a declaration last). */
export function sideOrder(r: Results): string[] {
  const seen = [...new Set(r.metrics.map((m) => m.side))];
  return [...r.sides.map((s) => s.name).filter((n) => seen.includes(n)), ...seen.filter((n) => !r.sides.some((s) => s.name === n))];
}

/** The A/A twins of a run: twin side → the side it repeats. */
export function twins(r: Results): Map<string, string> {
  return new Map(r.sides.flatMap((s) => (s.twinOf ? [[s.name, s.twinOf] as const] : [])));
}

/**
 * Whether two sides are compared. Sides of one base: always. Sides of
 * different bases: only the same tree with the same arguments (what the
 * base changed for that kernel), not every cross-base mixture, which would
 * only widen the family and weaken every verdict in it.
 */
export function comparable(r: Results, a: string, b: string): boolean {
  const x = r.sides.find((s) => s.name === a);
  const y = r.sides.find((s) => s.name === b);
  if (!x || !y || (x.base ?? '') === (y.base ?? '')) return true;
  return x.variant === y.variant && x.cmdline.join(' ') === y.cmdline.join(' ');
}

/**
 * Every later side against every earlier one it is comparable() with, per
 * case and backend, paired by round, before any family is judged. An A/A
 * twin is compared with the side it repeats only (a control), never with
 * the others: those comparisons are the original's again.
 */
function rawSideComparisons(r: Results): SideComparison[] {
  const order = sideOrder(r);
  const twin = twins(r);
  const perRound = new Map<string, Map<string, Map<number, number>>>(); // key → side → round → median
  const units = new Map<string, string>();
  for (const b of bootMedians(r.metrics).values()) {
    for (const m of b.values()) {
      const key = `${m.backend}\0${m.name}`;
      units.set(key, m.unit);
      const sides = perRound.get(key) ?? new Map<string, Map<number, number>>();
      const rounds = sides.get(m.side) ?? new Map<number, number>();
      rounds.set(m.round, m.med);
      sides.set(m.side, rounds);
      perRound.set(key, sides);
    }
  }
  // Which sides are compared is the same for every case: decided once.
  const compared = order.flatMap((ref, i) =>
    order.slice(i + 1).flatMap((side) => {
      const control = twin.get(side) === ref || twin.get(ref) === side;
      return !control && (twin.has(side) || twin.has(ref) || !comparable(r, ref, side)) ? [] : [{ ref, side, control }];
    }),
  );
  const out: SideComparison[] = [];
  for (const [key, sides] of perRound) {
    const [backend, name] = key.split('\0') as [Backend, string];
    for (const { ref, side, control } of compared) {
      const a = sides.get(side);
      const b = sides.get(ref);
      if (!a || !b) continue;
      const pairs = [...a].flatMap(([round, v]) => (b.has(round) ? [[v, b.get(round)!] as [number, number]] : []));
      const stat = pairedStat(pairs, backend);
      if (!stat) continue;
      out.push({ name, unit: units.get(key) ?? '', backend, ref, side, refMedian: median(pairs.map((x) => x[1])), sideMedian: median(pairs.map((x) => x[0])), stat, control });
    }
  }
  return out.sort((x, y) => x.backend.localeCompare(y.backend) || x.name.localeCompare(y.name) || order.indexOf(x.ref) - order.indexOf(y.ref) || order.indexOf(x.side) - order.indexOf(y.side));
}

export interface WithinBoot {
  readonly name: string;
  readonly peer: string;
  readonly backend: Backend;
  readonly side: string;
  /** name / peer, one pair per boot. */
  readonly stat: PairedStat;
  readonly nameMedian: number;
  readonly peerMedian: number;
}

/** `name` against `peer` in the same boots of one side and backend (each judged alone). */
export function withinBoot(r: Results, name: string, peer: string): WithinBoot[] {
  const groups = new Map<string, [number, number][]>();
  for (const b of bootMedians(r.metrics).values()) {
    const a = b.get(name);
    const p = b.get(peer);
    if (!a || !p) continue;
    const key = `${a.backend}\0${a.side}`;
    groups.set(key, [...(groups.get(key) ?? []), [a.med, p.med]]);
  }
  const out: WithinBoot[] = [];
  for (const [key, pairs] of groups) {
    const [backend, side] = key.split('\0') as [Backend, string];
    const stat = pairedStat(pairs, backend);
    if (stat) out.push({ name, peer, backend, side, stat, nameMedian: median(pairs.map((x) => x[0])), peerMedian: median(pairs.map((x) => x[1])) });
  }
  return out;
}

/** Every declared peer pair, per backend and side; an A/A twin's boots repeat its original's and are left out. */
function rawPeerComparisons(r: Results): WithinBoot[] {
  const pairs = new Map<string, string>();
  for (const m of r.metrics) if (m.peer) pairs.set(m.name, m.peer);
  const twin = twins(r);
  return [...pairs].flatMap(([name, peer]) => withinBoot(r, name, peer)).filter((p) => !twin.has(p.side))
    .sort((x, y) => x.backend.localeCompare(y.backend) || x.name.localeCompare(y.name) || x.side.localeCompare(y.side));
}

/**
 * A family of tests whose verdicts are decided together (Benjamini–Hochberg):
 * per backend, every comparison of the run (sides against sides, cases
 * against their peers), and apart from them the A/A control's comparisons.
 * Families are per backend so that what one backend shows does not depend
 * on how many cases another ran.
 */
export interface Family {
  readonly backend: Backend;
  readonly kind: 'comparisons' | 'control';
  /** Comparisons with a signed-rank test (icount's have none and are not counted). */
  readonly tests: number;
  /** Tests with p ≤ α, before any correction. */
  readonly significantRaw: number;
  /** Verdicts faster or slower: q ≤ α and beyond the practical threshold. */
  readonly changes: number;
  /** What faster/slower would have been on p alone (p ≤ α and beyond the threshold). */
  readonly changesRaw: number;
  readonly inconclusive: number;
  readonly threshold: number;
}

export interface ControlResult extends Family {
  readonly kind: 'control';
  readonly side: string;
  readonly twinOf: string;
  /** Expected tests with p ≤ α when nothing differs: the sum of each test's real size at α. */
  readonly expected: number;
  /** The most tests with p ≤ α that independent tests exceed with probability ≤ α. */
  readonly allowed: number;
  /** More control tests came out significant than the rate allows. */
  readonly flagged: boolean;
}

export interface Judged {
  readonly sides: readonly SideComparison[];
  readonly peers: readonly WithinBoot[];
  readonly families: readonly Family[];
  readonly controls: readonly ControlResult[];
}

/**
 * P(X > c) ≤ α for the smallest such c, X the number of successes of
 * independent trials with the given probabilities (Poisson-binomial).
 */
export function allowedCount(probs: readonly number[], alpha = ALPHA): number {
  let dist = [1];
  for (const p of probs) {
    const next = new Array<number>(dist.length + 1).fill(0);
    dist.forEach((v, k) => {
      next[k] = next[k]! + v * (1 - p);
      next[k + 1] = next[k + 1]! + v * p;
    });
    dist = next;
  }
  let above = 1;
  for (let c = 0; c < dist.length; c++) {
    above -= dist[c]!;
    if (above <= alpha + 1e-12) return c;
  }
  return dist.length - 1;
}

const judgedCache = new WeakMap<Results, Judged>();

/** The run's comparisons with their verdicts decided per family, and the families' counts. */
export function judged(r: Results): Judged {
  const cached = judgedCache.get(r);
  if (cached) return cached;
  const sides = rawSideComparisons(r);
  const peers = rawPeerComparisons(r);
  type Slot = { stat: PairedStat; set: (s: PairedStat) => void };
  const groups = new Map<string, Slot[]>();
  const outSides = [...sides];
  const outPeers = [...peers];
  const add = (key: string, slot: Slot) => groups.set(key, [...(groups.get(key) ?? []), slot]);
  sides.forEach((c, i) => add(`${c.backend}\0${c.control ? 'control' : 'comparisons'}`, { stat: c.stat, set: (stat) => (outSides[i] = { ...c, stat }) }));
  peers.forEach((p, i) => add(`${p.backend}\0comparisons`, { stat: p.stat, set: (stat) => (outPeers[i] = { ...p, stat }) }));
  const families: Family[] = [];
  const controls: ControlResult[] = [];
  for (const [key, slots] of [...groups].sort((a, b) => a[0].localeCompare(b[0]))) {
    const [backend, kind] = key.split('\0') as [Backend, Family['kind']];
    const stats = judgeFamily(slots.map((s) => s.stat));
    stats.forEach((s, i) => slots[i]!.set(s));
    const tested = stats.filter((s) => s.test);
    const rawChange = (s: PairedStat) => s.test!.p <= ALPHA && Math.abs(s.ratio - 1) >= s.threshold;
    const family: Family = {
      backend, kind,
      tests: tested.length,
      significantRaw: tested.filter((s) => s.test!.p <= ALPHA).length,
      changes: stats.filter((s) => s.verdict === 'faster' || s.verdict === 'slower').length,
      changesRaw: backend === 'icount' ? stats.filter((s) => s.verdict === 'faster' || s.verdict === 'slower').length : tested.filter(rawChange).length,
      inconclusive: stats.filter((s) => s.verdict === 'inconclusive').length,
      threshold: PRACTICAL_THRESHOLD[backend],
    };
    families.push(family);
    if (kind === 'control') {
      const first = sides.find((c) => c.control && c.backend === backend)!;
      const twinSide = twins(r).has(first.side) ? first.side : first.ref;
      const sizes = tested.map((s) => s.test!.size);
      const allowed = allowedCount(sizes);
      controls.push({ ...family, kind: 'control', side: twinSide, twinOf: twins(r).get(twinSide)!, expected: sizes.reduce((a, b) => a + b, 0), allowed, flagged: family.significantRaw > allowed });
    }
  }
  const out = { sides: outSides, peers: outPeers, families, controls };
  judgedCache.set(r, out);
  return out;
}

/** Every later side against every earlier one it is comparable() with, per case and backend, paired by round; verdicts decided per family. */
export function sideComparisons(r: Results): SideComparison[] {
  return [...judged(r).sides];
}

/** Every case that names a peer, against it, per backend and side; verdicts decided per family. */
export function peerComparisons(r: Results): WithinBoot[] {
  return [...judged(r).peers];
}

/**
 * The goals the series is held to, as ratios of two cases in one boot; set
 * a little past the original work's own (0.40, 0.26, 0.16). UML has no SMP
 * (LOCK prefixes patched out), so atomic-heavy ratios come from tcg.
 */
export const GOALS = [
  { id: 'qmempool-reuse', label: 'qmempool fast path vs SLUB instant reuse', name: 'qmempool/reuse', peer: 'slab/reuse', max: 0.35, original: 0.4, backends: ['uml', 'tcg', 'kvm', 'icount'] },
  { id: 'qmempool-pattern', label: 'qmempool vs SLUB, 256 objects outstanding', name: 'qmempool/pattern_n256', peer: 'slab/pattern_n256', max: 0.25, original: 0.26, backends: ['uml', 'tcg', 'kvm', 'icount'] },
  { id: 'qmempool-softirq', label: 'qmempool vs SLUB from softirq', name: 'qmempool/reuse_softirq', peer: 'slab/reuse_softirq', max: 0.35, original: 11.8 / 45, backends: ['uml', 'tcg', 'kvm', 'icount'] },
  { id: 'alf-bulk16', label: 'alf_queue MPMC bulk-16 per element vs one MPMC op', name: 'alf_queue/mpmc_bulk_b16', peer: 'alf_queue/mpmc_single', max: 0.15, original: 1.55 / 9.5, backends: ['tcg', 'kvm', 'icount'] },
  { id: 'alf-xcpu', label: 'alf_queue cross-CPU vs ptr_ring cross-CPU', name: 'alf_queue/xcpu_mpmc', peer: 'ptr_ring/xcpu', max: 1.0, original: undefined, backends: ['tcg', 'kvm'] },
] as const;

/**
 * Figures of the original work (Jesper Dangaard Brouer's 2014 qmempool and
 * alf_queue RFC, Xeon E5-2695), shown beside ours as a reference, never
 * compared with them: another CPU, another kernel, another decade.
 */
export const REFERENCE_2014: Readonly<Record<string, number>> = {
  'slab/reuse': 19.5,
  'slab/pattern_n256': 45,
  'qmempool/reuse': 7.8,
  'qmempool/reuse_softirq': 11.8,
  'alf_queue/mpmc_single': 9.5,
  'alf_queue/spsc_single': 1.3,
  'alf_queue/mpmc_bulk_b16': 1.55,
};

export type GoalState = 'met' | 'not met' | 'unclear';

export interface GoalResult {
  readonly goal: (typeof GOALS)[number];
  readonly result: WithinBoot;
  readonly state: GoalState;
  /** Whether this backend is the one to read this goal on. */
  readonly fit: boolean;
}

/** Met when the whole interval is at or under the goal, not met when all of it is above. */
export function goalState(s: PairedStat, max: number): GoalState {
  const lo = s.ci?.lo ?? s.ratio;
  const hi = s.ci?.hi ?? s.ratio;
  if (!s.ci && s.verdict === 'inconclusive') return 'unclear';
  if (hi <= max) return 'met';
  if (lo > max) return 'not met';
  return 'unclear';
}

/** Goals on their own interval; the verdict shown is the family's when the pair is a declared peer pair. */
export function goals(r: Results): GoalResult[] {
  const peers = judged(r).peers;
  const twin = twins(r);
  return GOALS.flatMap((goal) => withinBoot(r, goal.name, goal.peer).filter((x) => !twin.has(x.side)).map((own) => peers.find((p) => p.name === own.name && p.peer === own.peer && p.backend === own.backend && p.side === own.side) ?? own).map((result) => ({
    goal,
    result,
    state: goalState(result.stat, goal.max),
    fit: (goal.backends as readonly string[]).includes(result.backend),
  })));
}

/** Cases whose change across sides leads the report: the sk_buff paths the series changes, and a slab control. */
export const HEADLINE_SIDE_CASES = ['skb/alloc_free', 'skb/napi_alloc_consume', 'skb/build_skb', 'slab/reuse'] as const;
