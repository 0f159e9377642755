import { describe, expect, it } from 'vitest';
import { MIN_PAIRS, locationInterval, pairedStat, rankInterval } from '../../scripts/lib/stats.ts';

// Per-round medians (ns) of two sides from a recorded uml run: A is ~40% of B.
const a = [8.1, 7.9, 8.4, 8.0, 8.2, 7.7, 8.3, 8.0, 8.1, 7.95];
const b = [20.2, 19.8, 20.9, 19.5, 20.4, 19.9, 21.0, 20.1, 20.3, 20.0];
const pairs = (x: number[], y: number[]) => x.map((v, i) => [v, y[i]!] as [number, number]);

describe('paired statistics', () => {
  it('gives the Walsh-average interval on a textbook sample', () => {
    // Hollander & Wolfe's depression data, x - y, n = 9. Worked by hand (no R here): the
    // 45 sorted Walsh averages, k = qsignrank(0.025, 9) = 6, give the 6th smallest 0.010
    // and the 6th largest 0.786, median 0.46; coverage 1 - 2·P(T ≤ 5) = 96.1%.
    const x = [1.83, 0.5, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.3];
    const y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
    const r = rankInterval(x.map((v, i) => v - y[i]!));
    expect(r.estimate).toBeCloseTo(0.46, 2);
    expect(r.ci!.lo).toBeCloseTo(0.01, 3);
    expect(r.ci!.hi).toBeCloseTo(0.786, 3);
    expect(r.ci!.level).toBeCloseTo(0.961, 3);
  });

  it('calls a clear gain faster, with an interval around the ratio', () => {
    const s = pairedStat(pairs(a, b), 'uml')!;
    expect(s.n).toBe(10);
    expect(s.verdict).toBe('faster');
    expect(s.ratio).toBeGreaterThan(0.38);
    expect(s.ratio).toBeLessThan(0.42);
    expect(s.ci!.lo).toBeLessThan(s.ratio);
    expect(s.ci!.hi).toBeGreaterThan(s.ratio);
    expect(s.ci!.hi).toBeLessThan(1);
    expect(s.p!).toBeLessThan(0.01);
    expect(pairedStat(pairs(b, a), 'uml')!.verdict).toBe('slower');
  });

  it('says inconclusive, never "no change", with fewer than 8 pairs', () => {
    const s = pairedStat(pairs(a.slice(0, 5), b.slice(0, 5)), 'tcg')!;
    expect(s.verdict).toBe('inconclusive');
    expect(s.basis).toMatch(new RegExp(`≥${MIN_PAIRS}`));
    expect(s.ci).toBeUndefined(); // 5 pairs cannot reach 95% coverage
    expect(pairedStat(pairs(a.slice(0, 6), b.slice(0, 6)), 'tcg')!.ci).toBeDefined();
  });

  it('finds no significant change between two samples of the same thing', () => {
    const noise = [1.01, 0.99, 1.02, 0.98, 1.0, 1.015, 0.985, 1.005, 0.995, 1.0];
    const s = pairedStat(noise.map((x, i) => [a[i]! * x, a[i]!] as [number, number]), 'kvm')!;
    expect(s.verdict).toBe('no significant change');
    expect(s.ci!.lo).toBeLessThan(1);
    expect(s.ci!.hi).toBeGreaterThan(1);
  });

  it('never reports a p-value above 1 (the exact two-sided p of a centred statistic)', () => {
    // Log ratios recorded on tcg: skb/napi_alloc_consume, on vs off, 8 rounds (run full-sweep-1).
    const d = [-0.3237429991522999, -0.09215433845367134, 0.007543577922307018, 0.023593977165300803, 0.0020329100841575834, -0.04947912328929594, 0.5610820996993924, 0.020697699723131655];
    const s = pairedStat(d.map((x) => [Math.exp(x), 1] as [number, number]), 'tcg')!;
    expect(s.p).toBe(1);
    expect(s.verdict).toBe('no significant change');
  });

  it('on icount, a difference beyond 0.5% is a change from one pair', () => {
    expect(pairedStat([[1004, 1000]], 'icount')).toMatchObject({ n: 1, verdict: 'no significant change' });
    expect(pairedStat([[1010, 1000]], 'icount')).toMatchObject({ n: 1, verdict: 'slower' });
    expect(pairedStat([[900, 1000]], 'icount')!.ci).toBeUndefined();
  });

  it('gives a chart interval: rank-based with enough boots, else the range', () => {
    expect(locationInterval([5, 6, 7]).kind).toBe('range');
    const l = locationInterval(b);
    expect(l.kind).toBe('rank 95%');
    expect(l.lo).toBeLessThanOrEqual(l.center);
    expect(l.hi).toBeGreaterThanOrEqual(l.center);
  });
});
