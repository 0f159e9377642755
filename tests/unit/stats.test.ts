import { describe, expect, it } from 'vitest';
import { ALPHA, bhQValues, fmtStat, judgeFamily, locationInterval, pairedStat, rankInterval, signedRank, type PairedStat } from '../../scripts/lib/analysis/stats.ts';

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

  it('says inconclusive, never "no change", when no p below α is attainable (n = 5), and decides from n = 6', () => {
    const five = pairedStat(pairs(a.slice(0, 5), b.slice(0, 5)), 'tcg')!;
    expect(five.verdict).toBe('inconclusive');
    expect(five.test!.pMin).toBe(0.0625); // 2/2⁵
    expect(five.basis).toMatch(/smallest possible p, 0\.063/);
    expect(five.ci).toBeUndefined(); // 5 pairs cannot reach 95% coverage
    // Six rounds, all agreeing: p = 2/64 = 0.031, an interval of 96.9% coverage (1 − 2/64), a verdict.
    const six = pairedStat(pairs(a.slice(0, 6), b.slice(0, 6)), 'tcg')!;
    expect(six.p).toBe(0.03125);
    expect(six.verdict).toBe('faster');
    expect(six.ci!.level).toBeCloseTo(1 - 2 / 64, 12);
    expect(fmtStat(six)).toMatch(/\] 96\.9%$/);
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

  it('gives a chart interval whose point is its own estimate: rank-based with enough boots, else median and range', () => {
    expect(locationInterval([5, 6, 7])).toEqual({ center: 6, lo: 5, hi: 7, kind: 'range' });
    const l = locationInterval(b);
    expect(l.kind).toBe('rank');
    // The Hodges–Lehmann estimate of the logs, not the plain median the bar used to show.
    expect(l.center).toBeCloseTo(Math.exp(rankInterval(b.map(Math.log)).estimate), 12);
    expect(l.center).not.toBeCloseTo(20.15, 3); // the plain median of b
    expect(l.level).toBeCloseTo(1 - 50 / 1024, 12); // n = 10: 1 − 2·P(T ≤ 8) = 1 − 2·25/1024 = 95.1%
    expect(l.lo).toBeLessThanOrEqual(l.center);
    expect(l.hi).toBeGreaterThanOrEqual(l.center);
  });
});

/** Every one of the 2ⁿ sign assignments of the midranks, counted directly: the definition the fast count must match. */
function bruteForceP(d: number[]): number {
  const nz = d.filter((x) => x !== 0);
  const abs = nz.map(Math.abs);
  const rank = abs.map((x) => abs.filter((y) => y < x).length + (abs.filter((y) => y === x).length + 1) / 2);
  const total = rank.reduce((s, r) => s + r, 0);
  const t = nz.reduce((s, x, i) => s + (x > 0 ? rank[i]! : 0), 0);
  let hits = 0;
  for (let mask = 0; mask < 2 ** nz.length; mask++) {
    let tp = 0;
    for (let i = 0; i < nz.length; i++) if (mask & (1 << i)) tp += rank[i]!;
    if (Math.abs(tp - total / 2) >= Math.abs(t - total / 2) - 1e-9) hits++;
  }
  return hits / 2 ** nz.length;
}

describe('the exact signed-rank test with ties and zeros', () => {
  // Known answers enumerated independently (Python: 2ⁿ sign assignments of scipy's rankdata midranks).
  it.each([
    ['a zero and seven negatives (the issue\'s example; stdlib\'s normal fallback printed 0.0225)', [0, -0.01, -0.02, -0.03, -0.04, -0.05, -0.06, -0.07], 0.015625, 7],
    ['ties, n = 8', [0.1, 0.1, -0.1, 0.2, 0.2, 0.3, 0.3, 0.3], 0.03125, 8],
    ['ties and two zeros, n = 10', [0, 0, 0.5, 0.5, -0.5, 1, 1, 1, 2, -2], 0.2890625, 8],
    ['one tie, n = 8', [0.05, -0.01, 0.03, 0.07, 0.02, 0.04, -0.02, 0.06], 0.046875, 8],
    ['n = 5, all positive', [0.1, 0.2, 0.3, 0.4, 0.5], 0.0625, 5],
    ['n = 6, all negative', [-0.1, -0.2, -0.3, -0.4, -0.5, -0.6], 0.03125, 6],
  ])('%s', (_what, d, p, nonZero) => {
    const t = signedRank(d);
    expect(t.p).toBeCloseTo(p, 12);
    expect(t.nonZero).toBe(nonZero);
    expect(t.method).toBe('exact');
    expect(t.pMin).toBeCloseTo(2 / 2 ** nonZero, 12);
  });

  it('matches a direct enumeration on random vectors with ties and zeros', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let k = 0; k < 60; k++) {
      const n = 4 + (k % 11);
      // Coarse values: many ties, some zeros.
      const d = Array.from({ length: n }, () => Math.round((rnd() - 0.4) * 6) / 2);
      expect(signedRank(d).p, JSON.stringify(d)).toBeCloseTo(bruteForceP(d), 12);
    }
  });

  it('knows its real false-positive rate at α: 10/256 at n = 8 (scipy: the same), 0 at n = 5', () => {
    expect(signedRank([1, 2, 3, 4, 5, 6, 7, 8]).size).toBeCloseTo(10 / 256, 12);
    expect(signedRank([1, 2, 3, 4, 5]).size).toBe(0);
    // Hollander & Wolfe's depression data again: exact p 0.0390625 (scipy.stats.wilcoxon, method='exact').
    const x = [1.83, 0.5, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.3];
    const y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
    expect(signedRank(x.map((v, i) => v - y[i]!)).p).toBeCloseTo(0.0390625, 12);
  });

  it('counts pairs with a figure ≤ 0 and says so, instead of dropping them silently', () => {
    const s = pairedStat([...pairs(a, b), [0, 5], [-1, 5]], 'uml')!;
    expect(s.n).toBe(10);
    expect(s.dropped).toBe(2);
    expect(s.basis).toMatch(/2 pair\(s\) with a figure ≤ 0 dropped/);
  });

  it('gives the paired median: the median of the per-pair ratios, not a ratio of column medians', () => {
    const s = pairedStat([[2, 1], [3, 3], [1, 4]], 'uml')!;
    expect(s.medianRatio).toBe(1); // ratios 2, 1, 0.25; the columns' medians would give 2/3
  });
});

describe('verdicts over a family of tests', () => {
  const stat = (d: number[]): PairedStat => pairedStat(d.map((x) => [Math.exp(x), 1] as [number, number]), 'uml')!;
  const strong8 = [-0.1, -0.11, -0.12, -0.13, -0.14, -0.15, -0.16, -0.17]; // p = 2/256
  const six = [-0.1, -0.11, -0.12, -0.13, -0.14, -0.15]; // p = 2/64
  const noise8 = [0.05, -0.04, 0.03, -0.06, 0.02, -0.01, 0.07, -0.08];

  it('gives Benjamini–Hochberg q-values (known answers: scipy.stats.false_discovery_control)', () => {
    const q = bhQValues([0.01, 0.04, 0.03, 0.2]);
    [0.04, 0.0533333333, 0.0533333333, 0.2].forEach((v, i) => expect(q[i]).toBeCloseTo(v, 8));
    const many = bhQValues([...Array(10).fill(0.0078125), 0.03125, 0.5]);
    expect(many[0]).toBeCloseTo(0.009375, 10);
    expect(many[10]).toBeCloseTo(0.03409091, 8);
  });

  it('takes back a lone p = 0.031 among many tests, and says "inconclusive" when n = 6 could never pass', () => {
    const family = judgeFamily([stat(six), ...Array.from({ length: 34 }, () => stat(noise8))]);
    expect(family[0]!.p).toBeCloseTo(0.03125, 12);
    expect(family[0]!.family).toBe(35);
    expect(family[0]!.verdict).toBe('inconclusive');
    expect(family[0]!.basis).toMatch(/cannot pass Benjamini–Hochberg over 35 tests/);
    // Nor could any of the others: 35 × 2/256 = 0.27 even for a lone test at its extreme.
    expect(family.slice(1).every((s) => s.verdict === 'inconclusive')).toBe(true);
  });

  it('lets n = 6 through when enough of its family is strong (q = 0.034 with 10 tests at p = 0.0078 among 12)', () => {
    const family = judgeFamily([stat(six), ...Array.from({ length: 10 }, () => stat(strong8)), stat(noise8)]);
    expect(family[0]!.q).toBeCloseTo(0.03409091, 8);
    expect(family[0]!.verdict).toBe('faster');
    expect(family[11]!.verdict).toBe('no significant change'); // the noise could have passed here, and did not
    // With 24 unremarkable tests instead of one: q = 0.099, and 0.031 is all six pairs can give: inconclusive.
    // An n = 8 test among them could still pass (11 tests at 0.0078 of 35: q = 0.025), so its verdict stands.
    const wide = judgeFamily([stat(six), ...Array.from({ length: 10 }, () => stat(strong8)), ...Array.from({ length: 24 }, () => stat(noise8))]);
    expect(wide[0]!.q).toBeCloseTo(0.09943182, 8);
    expect(wide[0]!.verdict).toBe('inconclusive');
    expect(wide[11]!.verdict).toBe('no significant change');
  });

  it('calls a significant change inside the practical threshold "no meaningful change" (uml: 3%)', () => {
    const small = stat([0.01, 0.012, 0.014, 0.016, 0.018, 0.02, 0.022, 0.024]); // +1.7%, p = 0.0078
    expect(small.p).toBeLessThanOrEqual(ALPHA);
    expect(small.verdict).toBe('no meaningful change');
    expect(small.basis).toMatch(/within the ±3% threshold/);
    expect(stat(strong8).verdict).toBe('faster'); // −13%
  });
});

describe('a null simulation (seeded): no difference, many tests', () => {
  it('fires at the test\'s real rate per test, and Benjamini–Hochberg keeps whole families quiet', () => {
    let seed = 20261206;
    const uniform = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
    const families = 300;
    const perFamily = 30;
    let raw = 0;
    let familiesWithVerdict = 0;
    for (let f = 0; f < families; f++) {
      const stats = Array.from({ length: perFamily }, () => pairedStat(Array.from({ length: 8 }, () => [Math.exp(0.2 * normal()), 1] as [number, number]), 'uml')!);
      raw += stats.filter((s) => s.p! <= ALPHA).length;
      if (judgeFamily(stats).some((s) => s.verdict === 'faster' || s.verdict === 'slower')) familiesWithVerdict++;
    }
    // 9000 tests at a real size of 10/256: expected 351.6, sd 18.4; the band is ±4 sd.
    const tests = families * perFamily;
    const mean = tests * (10 / 256);
    const sd = Math.sqrt(mean * (1 - 10 / 256));
    expect(raw).toBeGreaterThan(mean - 4 * sd);
    expect(raw).toBeLessThan(mean + 4 * sd);
    // Uncorrected, nearly every family of 30 would show a verdict (1 − 0.961³⁰ = 70%); corrected, at most α of them.
    expect(familiesWithVerdict).toBeLessThanOrEqual(Math.ceil(families * ALPHA + 4 * Math.sqrt(families * ALPHA)));
  });
});
