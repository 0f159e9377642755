/**
 * The bench line parser, the pairing and the statistics on a recorded run:
 * tests/fixtures/run-bench-uml holds the 16 UML benchmark boots (baseline
 * and patched, 8 interleaved rounds) of a real run, console logs and facts
 * files as the run wrote them.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { regenerate } from '../../scripts/lib/pipeline/recorder.ts';
import { goals, judged, peerComparisons, sideComparisons } from '../../scripts/lib/analysis/bench.ts';
import { Results } from '../../scripts/lib/analysis/results.ts';

const dir = join(__dirname, '..', 'fixtures', 'run-bench-uml');

describe('a recorded benchmark run (uml, 8 rounds)', () => {
  it('reads every QK-BENCH line: figures, skips with their reason, no protocol error', async () => {
    const { results } = await regenerate(dir);
    expect(results.class).toBe('ok');
    expect(results.boots).toHaveLength(16);
    expect(results.boots.every((b) => b.purpose === 'bench' && b.class === 'ok')).toBe(true);
    const patched = results.metrics.filter((m) => m.side === 'patched' && m.round === 0).map((m) => m.name).sort();
    expect(patched).toEqual(expect.arrayContaining(['qmempool/reuse', 'slab/reuse', 'alf_queue/mpmc_single', 'skb/napi_alloc_consume']));
    const q = results.metrics.find((m) => m.name === 'qmempool/reuse')!;
    expect(q).toMatchObject({ unit: 'ns', per: 'op', group: 'alloc_reuse', param: 1, peer: 'slab/reuse', loops: expect.any(Number) });
    expect(q.samples).toHaveLength(7);
    expect(q.guest?.['pool']).toMatchObject({ allocs: expect.any(Number) });
    // Baseline has no series: its cases are skipped with the reason; uml has one CPU.
    expect(results.benchStatus.filter((s) => s.side === 'baseline' && s.suite === 'qmempool').every((s) => s.status === 'skip' && /CONFIG_QMEMPOOL is not set/.test(s.reason))).toBe(true);
    expect(results.benchStatus.some((s) => s.case === 'xcpu' && /needs 2 online CPUs/.test(s.reason))).toBe(true);
    expect(results.metrics.some((m) => m.side === 'baseline' && m.suite === 'qmempool')).toBe(false);
  });

  it('pairs within a boot and across sides by round, and gives the verdicts the run reported', async () => {
    const { results } = await regenerate(dir);
    const q = peerComparisons(results).find((p) => p.name === 'qmempool/reuse')!;
    expect(q.stat.n).toBe(8);
    expect(q.stat.verdict).toBe('faster');
    expect(q.stat.ratio).toBeCloseTo(0.707, 3);
    expect(q.stat.ci!.lo).toBeCloseTo(0.69, 2);
    expect(q.stat.ci!.hi).toBeCloseTo(0.795, 2);
    // The slab is not touched by the series: patched vs baseline shows no significant change.
    const slab = sideComparisons(results).find((c) => c.name === 'slab/reuse')!;
    expect(slab).toMatchObject({ ref: 'baseline', side: 'patched' });
    expect(slab.stat.n).toBe(8);
    expect(slab.stat.verdict).toBe('no significant change');
    // results.json carries the same comparison, interval and verdict.
    expect(results.comparisons.find((c) => c.name === 'slab/reuse' && c.backend === 'uml')).toEqual({
      name: 'slab/reuse', backend: 'uml', unit: 'ns', ref: 'baseline', side: 'patched', refMedian: slab.refMedian, sideMedian: slab.sideMedian,
      n: 8, ratio: slab.stat.ratio, lo: slab.stat.ci!.lo, hi: slab.stat.ci!.hi, p: slab.stat.p, verdict: 'no significant change', basis: slab.stat.basis,
      level: 0.9609375, q: slab.stat.q, tests: 12, pMin: 2 / 256, method: 'exact', medianRatio: slab.stat.medianRatio, dropped: 0, threshold: 0.03,
    });
    // The softirq goal is met on uml in this run, the process-context one is not.
    const g = goals(results);
    expect(g.find((x) => x.goal.id === 'qmempool-softirq')!.state).toBe('met');
    expect(g.find((x) => x.goal.id === 'qmempool-reuse')!.state).toBe('not met');
  });

  it('decides its verdicts over the 12 tests of the uml family: 6 changes on p alone, 4 after Benjamini–Hochberg', async () => {
    const { results } = await regenerate(dir);
    const j = judged(results);
    const sides = j.sides;
    const change = (v: string) => v === 'faster' || v === 'slower';
    // Before the correction, the untouched ptr_ring/single was "slower" (p = 0.039) and skb/alloc_free "faster" (p = 0.023).
    const ptr = sides.find((c) => c.name === 'ptr_ring/single')!;
    const skb = sides.find((c) => c.name === 'skb/alloc_free')!;
    expect(ptr.stat.p).toBeCloseTo(10 / 256, 12);
    expect(skb.stat.p).toBeCloseTo(6 / 256, 12);
    expect(sides.filter((c) => c.stat.p! <= 0.05)).toHaveLength(2);
    // After it: q = 12·p/rank over sides and peers together; neither survives.
    expect(ptr.stat.q).toBeCloseTo((12 * 10) / 256 / 6, 12);
    expect(skb.stat.q).toBeCloseTo((12 * 6) / 256 / 5, 12);
    expect(sides.filter((c) => change(c.stat.verdict))).toEqual([]);
    // The four peer ratios (p = 2/256 each, q = 12·2/256/4) hold.
    expect(j.peers.map((p) => [p.name, p.stat.verdict, p.stat.q])).toEqual([
      ['alf_queue/mpmc_single', 'slower', 0.0234375], ['qmempool/pattern_n256', 'faster', 0.0234375], ['qmempool/reuse', 'faster', 0.0234375], ['qmempool/reuse_softirq', 'faster', 0.0234375],
    ]);
    expect(j.families).toEqual([{ backend: 'uml', kind: 'comparisons', tests: 12, significantRaw: 6, changes: 4, changesRaw: 5, inconclusive: 0, threshold: 0.03 }]);
    // results.json and report.md say how many tests there were.
    expect(results.families).toEqual([{ backend: 'uml', kind: 'comparisons', tests: 12, significantRaw: 6, changes: 4, changesRaw: 5, inconclusive: 0, threshold: 0.03, alpha: 0.05 }]);
    const { report } = await regenerate(dir);
    expect(report).toContain('| uml | 12 | 6 | 5 | 4 | 0 | ±3.0% |');
    expect(report).toMatch(/\| skb\/alloc_free \| uml \| patched vs baseline \| [\d.]+ \/ [\d.]+ ns \| 0\.919× \[0\.861–0\.975\] 96\.1% \| 8 \| 0\.056 \| no significant change \(signed-rank p=0\.023, q=0\.056 over 12 tests\) \|/);
    // The report leads with the forest plot.
    expect(report.indexOf('charts/forest.svg')).toBeLessThan(report.indexOf('### Goals'));
    expect(report.indexOf('## Benchmarks: the headline')).toBeLessThan(report.indexOf('charts/forest.svg'));
  });

  it('one boot fewer is seven pairs, not "inconclusive": skb/alloc_free at p = 0.016 is faster (q = 0.0375)', async () => {
    const { results } = await regenerate(dir);
    const less = Results.parse({ ...results, metrics: results.metrics.filter((m) => !(m.side === 'patched' && m.round === 5)) });
    const skb = sideComparisons(less).find((c) => c.name === 'skb/alloc_free')!;
    expect(skb.stat.n).toBe(7);
    expect(skb.stat.p).toBeCloseTo(2 / 128, 12);
    expect(skb.stat.q).toBeCloseTo(0.0375, 12);
    expect(skb.stat.ci!.hi).toBeLessThan(1);
    expect(skb.stat.ci!.level).toBeCloseTo(1 - 6 / 128, 12);
    expect(skb.stat.verdict).toBe('faster');
  });
});
