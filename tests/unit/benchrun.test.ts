/**
 * The bench line parser, the pairing and the statistics on a recorded run:
 * tests/fixtures/run-bench-uml holds the 16 UML benchmark boots (baseline
 * and patched, 8 interleaved rounds) of a real run, console logs and facts
 * files as the run wrote them.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { regenerate } from '../../scripts/lib/recorder.ts';
import { goals, peerComparisons, sideComparisons } from '../../scripts/lib/bench.ts';

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
    });
    // The softirq goal is met on uml in this run, the process-context one is not.
    const g = goals(results);
    expect(g.find((x) => x.goal.id === 'qmempool-softirq')!.state).toBe('met');
    expect(g.find((x) => x.goal.id === 'qmempool-reuse')!.state).toBe('not met');
  });
});
