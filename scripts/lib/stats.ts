/**
 * Paired A/B statistics for benchmark figures. The unit of evidence is a
 * pair of boots from the same round (or two cases from the same boot), never
 * a pooled sample: samples inside one boot share that boot's page layout,
 * frequency and host noise, so n is the number of pairs.
 *
 * Each pair gives a log ratio d = ln(A / B). On noisy backends (tcg, uml,
 * kvm) the test is the Wilcoxon signed-rank test on d (@stdlib/stats-wilcoxon,
 * exact distribution for small n), and the 95% interval is the rank-based
 * Hodges–Lehmann interval of the pseudo-median of d: the Walsh averages'
 * order statistics at the signed-rank distribution's quantiles
 * (@stdlib/stats-base-dists-signrank-quantile and -cdf), as R's
 * wilcox.test(conf.int = TRUE) computes it. Fewer than MIN_PAIRS pairs give
 * "inconclusive", never "no change". On icount, where a boot repeats to the
 * digit, a ratio beyond ICOUNT_THRESHOLD is a change without an interval.
 */
import wilcoxon from '@stdlib/stats-wilcoxon';
import signrankQuantile from '@stdlib/stats-base-dists-signrank-quantile';
import signrankCdf from '@stdlib/stats-base-dists-signrank-cdf';
import { median } from 'simple-statistics';
import type { Backend } from './results.ts';

/** Pairs a signed-rank test needs to reach significance at 5% with margin for ties. */
export const MIN_PAIRS = 8;
/** icount: a relative difference at least this large is a change (its spread is ~0.03%). */
export const ICOUNT_THRESHOLD = 0.005;
export const ALPHA = 0.05;

export const VERDICTS = ['faster', 'slower', 'no significant change', 'inconclusive'] as const;
export type Verdict = (typeof VERDICTS)[number];

export interface Interval {
  readonly lo: number;
  readonly hi: number;
  /** Coverage actually achieved by the discrete distribution (≥ 0.95). */
  readonly level: number;
}

export interface PairedStat {
  /** Number of pairs. */
  readonly n: number;
  /** A / B: the pseudo-median (Hodges–Lehmann) of the log ratios, exponentiated; icount: the median ratio. */
  readonly ratio: number;
  /** 95% interval of the ratio; absent when n is too small or on icount. */
  readonly ci?: Interval;
  /** Two-sided signed-rank p-value; absent on icount and for n < 2. */
  readonly p?: number;
  readonly verdict: Verdict;
  /** Why the verdict is what it is, in a few words. */
  readonly basis: string;
}

/** Walsh averages (d_i + d_j) / 2 for i ≤ j, sorted. */
function walshAverages(d: readonly number[]): number[] {
  const w: number[] = [];
  for (let i = 0; i < d.length; i++) for (let j = i; j < d.length; j++) w.push((d[i]! + d[j]!) / 2);
  return w.sort((a, b) => a - b);
}

/**
 * Hodges–Lehmann estimate and rank-based interval of the location of `d`.
 * Undefined when n is so small that even the widest interval (min, max)
 * covers less than `level`.
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

/**
 * Compare A with B from paired figures (lower is better: ns per op).
 * `pairs` holds [a, b] per round or per boot.
 */
export function pairedStat(pairs: readonly (readonly [number, number])[], backend: Backend): PairedStat | undefined {
  const d = pairs.filter(([a, b]) => a > 0 && b > 0).map(([a, b]) => Math.log(a / b));
  const n = d.length;
  if (n === 0) return undefined;
  if (backend === 'icount') {
    const ratio = Math.exp(median(d));
    const change = ratio - 1;
    const verdict: Verdict = Math.abs(change) < ICOUNT_THRESHOLD ? 'no significant change' : change < 0 ? 'faster' : 'slower';
    return { n, ratio, verdict, basis: `icount: ${(ICOUNT_THRESHOLD * 100).toFixed(1)}% threshold, no interval needed` };
  }
  const { estimate, ci } = rankInterval(d);
  const ratio = Math.exp(estimate);
  const eci = ci ? { lo: Math.exp(ci.lo), hi: Math.exp(ci.hi), level: ci.level } : undefined;
  let p: number | undefined;
  // The exact two-sided p counts the centre twice when T sits on it and can exceed 1: clamp.
  if (n >= 2 && d.some((x) => x !== 0)) p = Math.min(1, wilcoxon(d, { alpha: ALPHA }).pValue);
  else if (n >= 2) p = 1;
  let verdict: Verdict;
  let basis: string;
  if (n < MIN_PAIRS) {
    verdict = 'inconclusive';
    basis = `${n} pair(s); the signed-rank test needs ≥${MIN_PAIRS}`;
  } else if (p !== undefined && p < ALPHA) {
    verdict = ratio < 1 ? 'faster' : 'slower';
    basis = `signed-rank p=${fmtP(p)}`;
  } else {
    verdict = 'no significant change';
    basis = `signed-rank p=${fmtP(p ?? 1)}`;
  }
  return { n, ratio, ...(eci ? { ci: eci } : {}), ...(p !== undefined ? { p } : {}), verdict, basis };
}

/** Location and interval of one side's per-boot medians (for charts). */
export function locationInterval(values: readonly number[]): { center: number; lo: number; hi: number; kind: 'rank 95%' | 'range' } {
  const v = values.filter((x) => x > 0);
  if (v.length === 0) return { center: 0, lo: 0, hi: 0, kind: 'range' };
  const logs = v.map(Math.log);
  const { ci } = rankInterval(logs);
  const center = median(v);
  if (ci) return { center, lo: Math.exp(ci.lo), hi: Math.exp(ci.hi), kind: 'rank 95%' };
  return { center, lo: Math.min(...v), hi: Math.max(...v), kind: 'range' };
}

export function fmtP(p: number): string {
  return p < 0.001 ? '<0.001' : p.toFixed(3);
}

export function fmtRatio(r: number): string {
  return r >= 10 ? r.toFixed(1) : r.toFixed(3);
}

/** "0.412× [0.398–0.430]" */
export function fmtStat(s: PairedStat): string {
  return `${fmtRatio(s.ratio)}×${s.ci ? ` [${fmtRatio(s.ci.lo)}–${fmtRatio(s.ci.hi)}]` : ''}`;
}
