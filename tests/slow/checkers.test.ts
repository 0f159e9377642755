/**
 * The slow tier (`npm run test:slow`, run nightly and before a series
 * change lands): the series' KUnit suites on the checker kernels. Two
 * sanitizer kernels built cold take about half an hour on 2 cores, so they
 * are not part of `npm test`. Each version of the series on its own base:
 * 6.12 (kernel-patches/for-6.12/) and 7.3 (kernel-patches/).
 */
import { describe, expect, inject, it } from 'vitest';
import { runTool } from '../integration/tool.ts';

const qk = inject('qk');
const tool = (name: string, args: string[]) => runTool(qk, `slow-${name}-${Date.now().toString(36)}`, args);

describe.each([
  ['6.12', []],
  ['7.3', ['--source', 'debian:7.3']],
])('the %s series under the kernel checkers', (release, source) => {
  it('passes every KUnit case of the series on the debug (KASAN, lockdep, kmemleak) and kcsan kernels, with no report', async () => {
    const r = await tool(`checkers-${release}`, [...source, '--backend', 'tcg', '--variants', 'patched', '--flavors', 'debug,kcsan', '--boots', '1']);
    expect((await r.manifest()).source?.version).toMatch(new RegExp(`^${release.replace('.', '\\.')}\\.`));
    const res = await r.results();
    expect(res.boots.map((b) => [b.flavor, b.class, b.reason])).toEqual([
      ['debug', 'ok', 'the guest finished and reported success'],
      ['kcsan', 'ok', 'the guest finished and reported success'],
    ]);
    expect(r.exitCode).toBe(0);
    for (const b of res.boots) expect(b.reproduce).toContain('tcg,thread=single');
    for (const flavor of ['debug', 'kcsan'] as const) {
      const cases = res.tests.filter((t) => t.flavor === flavor && ['alf_queue', 'qmempool', 'skb_qmempool'].includes(t.suite.split('/')[0]!));
      expect(cases.length, flavor).toBeGreaterThan(20);
      for (const c of cases) expect(['pass', 'skip'], `${flavor} ${c.suite}.${c.case}`).toContain(c.status);
      const stress = res.stress.filter((s) => s.flavor === flavor);
      expect(stress.map((s) => s.case).sort(), flavor).toEqual(['alf_test_mpmc_stress', 'qmp_test_stress']);
      for (const s of stress) {
        expect(s.values['cpus']).toBe(2);
        expect(s.values['elements']).toBeGreaterThan(0);
        expect(s.values['passed'], `${flavor} ${s.case}`).toBe(1);
        expect(s.values['moved']).toBe(s.values['elements']);
      }
    }
  });
});

