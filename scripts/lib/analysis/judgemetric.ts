/**
 * A benchmark figure against a reference from another run: the boots of
 * the two sides are not paired (they could not boot in one run), so the
 * medians of their per-boot figures are compared, with a one-sided
 * permutation test where the backend is noisy. A bisection step is judged
 * so against the good end, and a night's absolute figures against the
 * previous night's (nightly.ts).
 */
import { median, permutationTest } from 'simple-statistics';
import type { Backend } from './results.ts';

export interface MetricJudgement {
  /** As a bisection step's (bisect.ts Verdict): skip when the figures cannot tell. */
  readonly verdict: 'good' | 'bad' | 'skip';
  /** Step ÷ reference, medians of the per-boot figures. */
  readonly ratio: number;
  /** One-sided permutation p (step slower), noisy backends with ≥2 boots a side. */
  readonly p?: number;
  readonly basis: string;
}

/**
 * Is this step's figure past the threshold above the reference (the good
 * end)? On icount one boot decides: instruction counts repeat to within
 * 0.04%. On noisy backends the boots' figures of both sides are compared
 * with a one-sided permutation test on their logs (unpaired: the two
 * commits cannot boot in one run); a ratio past the threshold that the test
 * does not confirm is a skip, not a guess.
 */
export function judgeMetric(step: readonly number[], ref: readonly number[], o: { backend: Backend; threshold: number; alpha?: number; rng?: () => number }): MetricJudgement {
  if (step.length === 0 || ref.length === 0) return { verdict: 'skip', ratio: NaN, basis: 'no figure for the metric on one side' };
  const ratio = median([...step]) / median([...ref]);
  const past = ratio > 1 + o.threshold;
  const pct = `${((ratio - 1) * 100).toFixed(2)}% vs threshold ${(o.threshold * 100).toFixed(1)}%`;
  if (o.backend === 'icount' || step.length < 2 || ref.length < 2) {
    const basis = o.backend === 'icount' ? `icount, one boot decides: ${pct}` : `one boot a side, no test possible: ${pct}`;
    if (o.backend !== 'icount' && past) return { verdict: 'skip', ratio, basis };
    return { verdict: past ? 'bad' : 'good', ratio, basis };
  }
  const p = permutationTest(step.map(Math.log), ref.map(Math.log), 'greater', 10_000, o.rng);
  const alpha = o.alpha ?? 0.05;
  if (!past) return { verdict: 'good', ratio, p, basis: `${pct}, p=${p.toFixed(3)}` };
  return { verdict: p < alpha ? 'bad' : 'skip', ratio, p, basis: `${pct}, one-sided permutation p=${p.toFixed(3)}${p < alpha ? '' : ' (not significant: skipped)'}` };
}
