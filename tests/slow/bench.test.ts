/**
 * The slow tier's benchmark runs: the full sweep the README documents
 * (`npm run bench:full`: every case on uml and tcg, baseline and patched, 8
 * interleaved rounds) and icount's promise that a run repeats.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { median } from 'simple-statistics';
import { goals } from '../../scripts/lib/analysis/bench.ts';
import { ICOUNT_THRESHOLD } from '../../scripts/lib/analysis/stats.ts';
import { runScriptArgs, runTool } from '../integration/tool.ts';

const qk = inject('qk');
const tool = (name: string, args: string[]) => runTool(qk, `slow-${name}-${Date.now().toString(36)}`, args);

/** Cases of `--bench full` that need the series (skipped on baseline) or two CPUs (skipped on uml). */
const SERIES_SUITES = ['qmempool', 'alf_queue'];

describe('benchmarks', () => {
  it('the full sweep: every case, both kernels, uml and tcg, 8 rounds, each with its interval and verdict', async () => {
    const args = await runScriptArgs('bench:full');
    expect(args.slice(0, 6)).toEqual(['--backend', 'uml,tcg', '--bench', 'full', '--boots', '8']);
    const r = await tool('full-sweep', args);
    expect(r.exitCode, r.output.slice(-3000)).toBe(0);
    const res = await r.results();
    const names = (side: string, backend: string) => new Set(res.metrics.filter((m) => m.side === side && m.backend === backend).map((m) => m.name));
    // --bench full carries the A/A twin on every backend.
    expect(res.sides.map((s) => s.name)).toEqual(['baseline', 'off', 'on', 'baseline-aa']);
    expect(res.families.filter((f) => f.kind === 'control').map((f) => f.backend).sort()).toEqual(['tcg', 'uml']);
    const patchedTcg = names('on', 'tcg');
    // Everything baseline measured, patched measured too; and the series' own cases on top.
    for (const n of names('baseline', 'tcg')) expect(patchedTcg.has(n), n).toBe(true);
    expect([...names('off', 'tcg')].sort()).toEqual([...patchedTcg].sort());
    for (const suite of [...SERIES_SUITES, 'slab', 'skb', 'ptr_ring', 'kfifo', 'objpool']) {
      expect([...patchedTcg].some((n) => n.startsWith(`${suite}/`)), suite).toBe(true);
    }
    expect(res.benchStatus.filter((s) => s.status === 'error')).toEqual([]);
    for (const s of res.benchStatus) {
      const why = s.side === 'baseline' && SERIES_SUITES.includes(s.suite) ? /CONFIG_/ : s.backend === 'uml' ? /CPU/ : /./;
      expect(s.reason, `${s.suite}/${s.case} on ${s.side}/${s.backend}`).toMatch(why);
    }
    for (const name of patchedTcg) {
      const rounds = res.metrics.filter((m) => m.name === name && m.side === 'on' && m.backend === 'tcg');
      expect(rounds.map((m) => m.round).sort((a, b) => a - b), name).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    }
    // The sk_buff pool: on uses it, off does not.
    const skb = (side: string) => res.metrics.find((m) => m.side === side && m.backend === 'uml' && m.name === 'skb/alloc_free')!.guest?.['pool'] as Record<string, number>;
    expect(skb('on')['allocs']).toBeGreaterThan(0);
    expect(skb('off')['allocs']).toBe(0);
    for (const g of goals(res).filter((x) => x.fit)) {
      expect(g.result.stat.n, g.goal.id).toBe(8);
      // At n = 8 the rank interval exists, covers 96.1%, and holds the estimate inside it.
      const ci = g.result.stat.ci;
      expect(ci, g.goal.id).toMatchObject({ lo: expect.any(Number), hi: expect.any(Number) });
      expect(ci!.level, g.goal.id).toBeCloseTo(0.961, 3);
      expect(ci!.lo, g.goal.id).toBeGreaterThan(0);
      expect(ci!.lo, g.goal.id).toBeLessThanOrEqual(g.result.stat.ratio);
      expect(ci!.hi, g.goal.id).toBeGreaterThanOrEqual(g.result.stat.ratio);
      expect(g.result.stat.verdict, g.goal.id).not.toBe('inconclusive');
    }
    const charts = await readdir(join(r.runDir, 'charts'));
    expect(charts.length).toBeGreaterThan(8);
    expect((await readFile(join(r.runDir, 'results.csv'), 'utf8')).trim().split('\n')).toHaveLength(res.metrics.length + 1);
  });

  it('icount repeats: two runs give the same medians to within 0.05%, ten times under the change threshold', async () => {
    // Not bit for bit: measured here, the guest still draws host entropy and
    // the serial line's timing (medians moved 0.000–0.039% between runs).
    const args = ['--backend', 'icount', '--variants', 'patched', '--boots', '1'];
    const [a, b] = [await tool('icount-a', args), await tool('icount-b', args)];
    for (const r of [a, b]) expect(r.exitCode, r.output.slice(-2000)).toBe(0);
    const figures = async (r: typeof a) => new Map((await r.results()).metrics.map((m) => [m.name, median(m.samples)]));
    const [fa, fb] = [await figures(a), await figures(b)];
    expect(fa.size).toBeGreaterThan(10);
    expect([...fb.keys()].sort()).toEqual([...fa.keys()].sort());
    for (const [name, x] of fa) expect(Math.abs(fb.get(name)! / x - 1), name).toBeLessThan(ICOUNT_THRESHOLD / 10);
  });
});
