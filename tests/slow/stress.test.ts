/**
 * The slow tier's long stress (`npm run stress:long`): at least 10^7
 * elements through alf_queue and 10^7 objects through qmempool, on 4
 * emulated CPUs, under KASAN (with lockdep, kmemleak and slub_debug) and
 * under KCSAN, with no report. The totals land in results.json.
 */
import { describe, expect, inject, it } from 'vitest';
import { runScriptArgs, runTool } from '../integration/tool.ts';

const qk = inject('qk');


describe('long stress', () => {
  it('moves >= 10^7 elements through alf_queue and qmempool on -smp 4 under KASAN and KCSAN, every check passing', async () => {
    const args = await runScriptArgs('stress:long');
    const r = await runTool(qk, `slow-long-stress-${Date.now().toString(36)}`, args);
    const res = await r.results();
    expect(res.boots.map((b) => [b.flavor, b.class])).toEqual([
      ['debug', 'ok'],
      ['kcsan', 'ok'],
    ]);
    expect(r.exitCode, r.output.slice(-3000)).toBe(0);
    for (const flavor of ['debug', 'kcsan'] as const) {
      const stress = res.stress.filter((s) => s.flavor === flavor);
      expect([...new Set(stress.map((s) => s.case))].sort(), flavor).toEqual(['alf_test_mpmc_stress', 'qmp_test_stress']);
      for (const s of stress) {
        expect(s.values['cpus'], `${flavor} ${s.case}`).toBe(4);
        expect(s.values['passed'], `${flavor} ${s.case}`).toBe(1);
      }
      // The qmempool stress runs as several cases (KUnit's 5-minute limit per case): totals add up.
      for (const c of ['alf_test_mpmc_stress', 'qmp_test_stress']) {
        const moved = stress.filter((s) => s.case === c).reduce((n, s) => n + (s.values['moved'] ?? 0), 0);
        expect(moved, `${flavor} ${c}`).toBeGreaterThanOrEqual(1e7);
      }
      const failed = res.tests.filter((t) => t.flavor === flavor && !['pass', 'skip'].includes(t.status));
      expect(failed, flavor).toEqual([]);
    }
  }, 6 * 3600_000);
});
