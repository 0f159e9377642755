/**
 * Paired A/B statistics for benchmark figures. The unit of evidence is a
 * pair of boots from the same round (or two cases from the same boot), never
 * a pooled sample: samples inside one boot share that boot's page layout,
 * frequency and host noise, so n is the number of pairs.
 *
 * Each pair gives a log ratio d = ln(A / B). On noisy backends (tcg, uml,
 * kvm):
 * - the test is the Wilcoxon signed-rank test on d, its p-value exact: the
 *   distribution of the signed-rank sum over all 2ⁿ sign assignments of the
 *   observed (mid)ranks, counted by dynamic programming, so ties keep the
 *   exact answer and zero differences are left out of the test (Wilcoxon's
 *   convention). Above EXACT_MAX_PAIRS non-zero differences it is the normal
 *   approximation with the tie correction, and the basis says so;
 * - the interval is the rank-based Hodges–Lehmann interval of the
 *   pseudo-median of d: the Walsh averages' order statistics at the
 *   signed-rank distribution's quantiles (@stdlib/stats-base-dists-signrank-
 *   quantile and -cdf), as R's wilcox.test(conf.int = TRUE) computes it, with
 *   the coverage that discrete distribution actually gives (96.1% at n = 8);
 * - a run makes many such tests, so verdicts are decided on Benjamini–
 *   Hochberg q-values over a family (judgeFamily: bench.ts makes one family
 *   per backend), and a change smaller than the backend's practical
 *   threshold (PRACTICAL_THRESHOLD) is "no meaningful change" even when it
 *   is significant;
 * - "inconclusive" means the test could not have passed whatever its pairs
 *   said: even its smallest attainable p (2/2ⁿ with n non-zero differences:
 *   0.031 at n = 6, 0.0078 at n = 8) would not have cleared the family's
 *   Benjamini–Hochberg threshold. It is never "no change".
 * On icount, where a boot repeats to the digit, a ratio beyond the icount
 * threshold is a change without an interval or a test.
 */
import signrankQuantile from '@stdlib/stats-base-dists-signrank-quantile';
import signrankCdf from '@stdlib/stats-base-dists-signrank-cdf';
import { errorFunction, median } from 'simple-statistics';
import type { Backend } from './results.ts';

export const ALPHA = 0.05;
/** Up to this many non-zero differences the p-value is exact (enumerated); above, the normal approximation. */
export const EXACT_MAX_PAIRS = 200;

/**
 * Practical significance per backend: a change smaller than this is "no
 * meaningful change" even when the test finds it. icount repeats to ~0.03%,
 * so 0.5% is well clear of its noise. uml: two builds of the same code
 * differ by their layout alone; cases the series does not touch moved
 * 2.2–2.9% between the baseline and patched images here (ptr_ring/single
 * 1.029×, slab/reuse 1.022×, slab/pattern_n256 0.973×), so 3%. tcg: emulated
 * time adds the translation cache to the layout, and its figures moved ±15%
 * between runs of one kernel: 5%. kvm: real hardware, where layout effects of
 * 1–2% are common; not measured here (KVM does not work on this host): 2%.
 * The A/A control (--aa-control) shows what each backend really does.
 */
export const PRACTICAL_THRESHOLD = { icount: 0.005, uml: 0.03, tcg: 0.05, kvm: 0.02 } as const satisfies Record<Backend, number>;
/** icount: a relative difference at least this large is a change (its spread is ~0.03%). */
export const ICOUNT_THRESHOLD = PRACTICAL_THRESHOLD.icount;

export const VERDICTS = ['faster', 'slower', 'no meaningful change', 'no significant change', 'inconclusive'] as const;
export type Verdict = (typeof VERDICTS)[number];

export interface Interval {
  readonly lo: number;
  readonly hi: number;
  /** Coverage actually achieved by the discrete distribution (≥ 0.95): 0.961 at n = 8. */
  readonly level: number;
}

/** The signed-rank test of one vector of differences. */
export interface SignedRank {
  /** Two-sided p-value. */
  readonly p: number;
  /** The smallest two-sided p these |d| could give (all signs alike): 2/2ⁿ for n non-zero differences. */
  readonly pMin: number;
  /** P(p ≤ α) when there is no difference: the test's real false-positive rate at α for these ranks (10/256 at n = 8). */
  readonly size: number;
  /** Differences in the test (zeros are left out). */
  readonly nonZero: number;
  readonly ties: boolean;
  readonly method: 'exact' | 'normal';
}

export interface PairedStat {
  /** Number of pairs used. */
  readonly n: number;
  /** Pairs left out because a figure was ≤ 0 (no log ratio). */
  readonly dropped: number;
  /** A / B: the pseudo-median (Hodges–Lehmann) of the log ratios, exponentiated; icount: the median ratio. */
  readonly ratio: number;
  /** The plain paired median: the median of the per-pair ratios A/B. */
  readonly medianRatio: number;
  /** Interval of the ratio at its achieved coverage; absent when n is too small or on icount. */
  readonly ci?: Interval;
  /** The signed-rank test; absent on icount. */
  readonly test?: SignedRank;
  /** Two-sided signed-rank p-value (= test.p); absent on icount. */
  readonly p?: number;
  /** Benjamini–Hochberg q-value within its family (a family of one: q = p). */
  readonly q?: number;
  /** Tests in the family the q-value was taken over. */
  readonly family?: number;
  /** The practical threshold the verdict used (relative change). */
  readonly threshold: number;
  readonly verdict: Verdict;
  /** Why the verdict is what it is, in a few words. */
  readonly basis: string;
}

/* ---- the signed-rank test ------------------------------------------------ */

/** Relative tolerance under which two |d| are one tie, and under which d is zero. */
const TIE_EPS = 1e-9;
const ZERO_EPS = 1e-12;

/** Midranks of `v` (ascending), equal values within TIE_EPS sharing their mean rank. */
export function midranks(v: readonly number[]): { ranks: number[]; ties: boolean } {
  const idx = v.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(v.length);
  let ties = false;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1]![0] - idx[i]![0] <= TIE_EPS * Math.max(Math.abs(idx[i]![0]), Math.abs(idx[j + 1]![0]))) j++;
    if (j > i) ties = true;
    for (let k = i; k <= j; k++) ranks[idx[k]![1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return { ranks, ties };
}

/**
 * Wilcoxon signed-rank test of `d` against 0, two-sided. Zeros are left out;
 * ties get midranks. Exact: under no difference every sign assignment of the
 * ranks is equally likely, so the distribution of T+ (the sum of the
 * positive differences' ranks) is counted over all 2ⁿ of them, by dynamic
 * programming on doubled ranks (whole numbers even with midranks). The
 * distribution is symmetric about S/2, so p = P(|T+ − S/2| ≥ |t − S/2|).
 */
export function signedRank(d: readonly number[]): SignedRank {
  const nz = d.filter((x) => Math.abs(x) > ZERO_EPS);
  const n = nz.length;
  if (n === 0) return { p: 1, pMin: 1, size: 0, nonZero: 0, ties: false, method: 'exact' };
  const { ranks, ties } = midranks(nz.map(Math.abs));
  const scores = ranks.map((r) => Math.round(2 * r));
  const total = scores.reduce((a, b) => a + b, 0);
  const t = nz.reduce((a, x, i) => a + (x > 0 ? scores[i]! : 0), 0);
  const pMin = Math.min(1, 2 / 2 ** n);
  if (n > EXACT_MAX_PAIRS) {
    // Normal approximation with the tie correction (Var T+ = Σ rank² / 4), continuity half a rank.
    const sd = Math.sqrt(scores.reduce((a, s) => a + s * s, 0) / 4);
    const z = Math.max(0, Math.abs(t - total / 2) - 1) / sd;
    const p = Math.min(1, 1 - errorFunction(z / Math.SQRT2));
    // z at α: the size of a normal test is α itself.
    return { p, pMin, size: ALPHA, nonZero: n, ties, method: 'normal' };
  }
  // prob[s] = P(T+ = s) in doubled-rank units; each difference adds its score with probability 1/2.
  let prob = new Float64Array(total + 1);
  prob[0] = 1;
  let reach = 0;
  for (const s of scores) {
    const next = new Float64Array(total + 1);
    for (let k = 0; k <= reach; k++) {
      const v = prob[k]! / 2;
      if (v === 0) continue;
      next[k] = next[k]! + v;
      next[k + s] = next[k + s]! + v;
    }
    reach += s;
    prob = next;
  }
  // By symmetry the two tails are equal: p(k) = 2·P(T+ ≤ min(k, S − k)), at most 1.
  const cdf = new Float64Array(total + 1);
  for (let k = 0, a = 0; k <= total; k++) cdf[k] = a += prob[k]!;
  const pAt = (k: number) => Math.min(1, 2 * cdf[Math.min(k, total - k)]!);
  const p = pAt(t);
  let size = 0;
  for (let k = 0; k <= total; k++) if (pAt(k) <= ALPHA + 1e-12) size += prob[k]!;
  return { p, pMin, size, nonZero: n, ties, method: 'exact' };
}

/* ---- the interval -------------------------------------------------------- */

/** Walsh averages (d_i + d_j) / 2 for i ≤ j, sorted. */
function walshAverages(d: readonly number[]): number[] {
  const w: number[] = [];
  for (let i = 0; i < d.length; i++) for (let j = i; j < d.length; j++) w.push((d[i]! + d[j]!) / 2);
  return w.sort((a, b) => a - b);
}

/**
 * Hodges–Lehmann estimate and rank-based interval of the location of `d`.
 * Undefined when n is so small that even the widest interval (min, max)
 * covers less than `level` (n ≤ 5 at 95%).
 */
export function rankInterval(d: readonly number[], level = 1 - ALPHA): { estimate: number; ci?: Interval } {
  const n = d.length;
  const w = walshAverages(d);
  const estimate = median(w);
  if (n < 2) return { estimate };
  const m = w.length;
  // The k-th smallest and k-th largest Walsh average bound the interval, k from the
  // signed-rank distribution: P(T < k) ≤ α/2 (R: qu <- qsignrank(α/2, n)).
  const k = Math.max(1, signrankQuantile((1 - level) / 2, n));
  // Achieved coverage: 1 - 2·P(T ≤ k - 1).
  const achieved = 1 - 2 * signrankCdf(k - 1, n);
  if (achieved < level - 1e-9) return { estimate };
  return { estimate, ci: { lo: w[k - 1]!, hi: w[m - k]!, level: achieved } };
}

/* ---- verdicts ------------------------------------------------------------ */

/**
 * Benjamini–Hochberg q-values (adjusted p-values) of `ps`, in their order:
 * q_(i) = min over k ≥ i of m·p_(k)/k, at most 1. A test is significant at
 * false-discovery rate α when q ≤ α.
 */
export function bhQValues(ps: readonly number[]): number[] {
  const m = ps.length;
  const order = ps.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0]);
  const q = new Array<number>(m);
  let run = 1;
  for (let k = m; k >= 1; k--) {
    const [p, i] = order[k - 1]!;
    run = Math.min(run, (m * p) / k);
    q[i] = run;
  }
  return q;
}

const pct = (x: number): string => `${(x * 100).toFixed(x < 0.01 ? 1 : 0)}%`;

/** The verdict of one test given its q-value and whether it could have passed at all. */
function decide(s: Omit<PairedStat, 'verdict' | 'basis'>, decidable: boolean): Pick<PairedStat, 'verdict' | 'basis'> {
  const t = s.test!;
  const method = t.method === 'exact' ? '' : ', normal approx.';
  const qText = s.family !== undefined && s.family > 1 ? `, q=${fmtP(s.q!)} over ${s.family} tests` : '';
  const pText = `signed-rank p=${fmtP(t.p)}${method}${qText}`;
  const left = [
    ...(s.n - t.nonZero > 0 ? [`${s.n - t.nonZero} zero difference(s) left out`] : []),
    ...(s.dropped > 0 ? [`${s.dropped} pair(s) with a figure ≤ 0 dropped`] : []),
  ];
  const extra = left.length > 0 ? `; ${left.join(', ')}` : '';
  if (s.q! <= ALPHA) {
    const change = s.ratio - 1;
    if (Math.abs(change) < s.threshold) return { verdict: 'no meaningful change', basis: `${pText}; ${change >= 0 ? '+' : ''}${(change * 100).toFixed(1)}% is within the ±${pct(s.threshold)} threshold${extra}` };
    return { verdict: s.ratio < 1 ? 'faster' : 'slower', basis: `${pText}${extra}` };
  }
  if (!decidable) {
    const why = s.family !== undefined && s.family > 1 ? `cannot pass Benjamini–Hochberg over ${s.family} tests` : `is above α=${ALPHA}`;
    return { verdict: 'inconclusive', basis: `${t.nonZero} non-zero pair(s): the smallest possible p, ${fmtP(t.pMin)}, ${why}${extra}` };
  }
  return { verdict: 'no significant change', basis: `${pText}${extra}` };
}

/**
 * Decide the verdicts of a family of tests together: q-values by
 * Benjamini–Hochberg over the stats that carry a test (icount's do not and
 * pass through), and "inconclusive" for a test that would not have been
 * significant even at its smallest attainable p, the others' p unchanged.
 */
export function judgeFamily(stats: readonly PairedStat[]): PairedStat[] {
  const tested = stats.flatMap((s, i) => (s.test ? [i] : []));
  const ps = tested.map((i) => stats[i]!.test!.p);
  const q = bhQValues(ps);
  const out = [...stats];
  tested.forEach((i, k) => {
    const s = stats[i]!;
    const best = [...ps];
    best[k] = s.test!.pMin;
    const decidable = bhQValues(best)[k]! <= ALPHA;
    const { verdict: _v, basis: _b, ...rest } = s;
    const judged = { ...rest, q: q[k]!, family: tested.length };
    out[i] = { ...judged, ...decide(judged, decidable) };
  });
  return out;
}

/**
 * Compare A with B from paired figures (lower is better: ns per op).
 * `pairs` holds [a, b] per round or per boot. The verdict is that of a
 * family of one; judgeFamily decides it again among the run's other tests.
 */
export function pairedStat(pairs: readonly (readonly [number, number])[], backend: Backend): PairedStat | undefined {
  const usable = pairs.filter(([a, b]) => a > 0 && b > 0);
  const dropped = pairs.length - usable.length;
  const d = usable.map(([a, b]) => Math.log(a / b));
  const n = d.length;
  if (n === 0) return undefined;
  const medianRatio = Math.exp(median(d));
  const threshold = PRACTICAL_THRESHOLD[backend];
  if (backend === 'icount') {
    const ratio = medianRatio;
    const change = ratio - 1;
    const verdict: Verdict = Math.abs(change) < threshold ? 'no significant change' : change < 0 ? 'faster' : 'slower';
    return { n, dropped, ratio, medianRatio, threshold, verdict, basis: `icount: ${(threshold * 100).toFixed(1)}% threshold, no interval needed${dropped ? `; ${dropped} pair(s) with a figure ≤ 0 dropped` : ''}` };
  }
  const { estimate, ci } = rankInterval(d);
  const test = signedRank(d);
  const base = {
    n, dropped, ratio: Math.exp(estimate), medianRatio,
    ...(ci ? { ci: { lo: Math.exp(ci.lo), hi: Math.exp(ci.hi), level: ci.level } } : {}),
    test, p: test.p, q: test.p, family: 1, threshold,
  };
  return { ...base, ...decide(base, test.pMin <= ALPHA) };
}

/**
 * Location and interval of one side's per-boot figures (for charts): the
 * Hodges–Lehmann estimate with its rank interval when there are enough
 * boots, else the median with the range. The point is always the estimate
 * its interval belongs to.
 */
export function locationInterval(values: readonly number[]): { center: number; lo: number; hi: number; kind: 'rank' | 'range'; level?: number } {
  const v = values.filter((x) => x > 0);
  if (v.length === 0) return { center: 0, lo: 0, hi: 0, kind: 'range' };
  const { estimate, ci } = rankInterval(v.map(Math.log));
  if (ci) return { center: Math.exp(estimate), lo: Math.exp(ci.lo), hi: Math.exp(ci.hi), kind: 'rank', level: ci.level };
  return { center: median(v), lo: Math.min(...v), hi: Math.max(...v), kind: 'range' };
}

export function fmtP(p: number): string {
  return p < 0.001 ? '<0.001' : p.toFixed(3);
}

export function fmtRatio(r: number): string {
  return r >= 10 ? r.toFixed(1) : r.toFixed(3);
}

/** "96.1%": an interval's achieved coverage. */
export function fmtLevel(level: number): string {
  return `${(level * 100).toFixed(1)}%`;
}

/** "0.412× [0.398–0.430] 96.1%" */
export function fmtStat(s: Pick<PairedStat, 'ratio' | 'ci'>): string {
  return `${fmtRatio(s.ratio)}×${s.ci ? ` [${fmtRatio(s.ci.lo)}–${fmtRatio(s.ci.hi)}] ${fmtLevel(s.ci.level)}` : ''}`;
}
