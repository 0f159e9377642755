import { describe, expect, it } from 'vitest';
import { compareRuns, renderComparison } from '../../scripts/lib/comparecmd.ts';
import { Results, type Metric } from '../../scripts/lib/results.ts';

const m = (name: string, backend: 'uml' | 'icount', boot: number, samples: number[], peer?: string): Metric => ({
  name, suite: name.split('/')[0]!, case: name.split('/')[1]!, unit: 'ns', side: 'patched', variant: 'patched', backend, flavor: 'normal',
  round: boot, position: 0, boot, samples, ...(peer ? { peer } : {}),
});
// One run: qmempool at `q` ns against SLUB at `s` ns, 8 boots on uml and one on icount.
const run = (id: string, q: number, s: number, scale = 1) => Results.parse({
  schemaVersion: 2, runId: id, class: 'ok', sides: [{ name: 'patched', variant: 'patched', cmdline: [] }], boots: [], tests: [], notRun: [],
  metrics: [
    ...Array.from({ length: 8 }, (_, i) => [m('slab/reuse', 'uml', i, [s * scale * (1 + i * 0.002)]), m('qmempool/reuse', 'uml', i, [q * scale * (1 + i * 0.003)], 'slab/reuse')]).flat(),
    m('slab/reuse', 'icount', 100, [s * 10]), m('qmempool/reuse', 'icount', 100, [q * 10], 'slab/reuse'),
  ],
});

describe('compare.mjs', () => {
  it('compares ratios within each run, not absolute native figures', () => {
    // Run B ran on a machine twice as slow: every absolute figure doubled, the ratio did not move.
    const c = compareRuns(run('a', 8, 20), run('b', 8, 20, 2), { metrics: [], threshold: 0.05 });
    const uml = c.ratios.find((r) => r.backend === 'uml' && r.key === 'qmempool/reuse ÷ slab/reuse')!;
    expect(uml.change).toBeCloseTo(0, 6);
    expect(uml.regressed).toBe(false);
    expect(c.regressions).toBe(0);
  });

  it('flags a chosen metric whose ratio regressed past the threshold, and icount in absolute terms', () => {
    const c = compareRuns(run('a', 8, 20), run('b', 10, 20), { metrics: ['qmempool/reuse'], threshold: 0.05 });
    expect(c.ratios.find((r) => r.backend === 'uml')!.regressed).toBe(true);
    expect(c.absolute.find((r) => r.name === 'qmempool/reuse')).toMatchObject({ a: 80, b: 100, regressed: true });
    expect(c.absolute.find((r) => r.name === 'slab/reuse')!.regressed).toBe(false);
    expect(c.regressions).toBe(3);
    const md = renderComparison(c, { id: 'a', dir: '/a' }, { id: 'b', dir: '/b' }, 0.05, ['qmempool/reuse']);
    expect(md).toMatch(/\| qmempool\/reuse ÷ slab\/reuse \| uml \| patched \| 0\.40\d× \[.*\] 96\.1% \| faster \(n=8\) \| 0\.50\d× .* \| \+2\d\.\d% \*\*regressed\*\* \|/);
    // Not chosen: the same change is reported but does not fail.
    expect(compareRuns(run('a', 8, 20), run('b', 10, 20), { metrics: ['slab/reuse'], threshold: 0.05 }).regressions).toBe(0);
  });
});
