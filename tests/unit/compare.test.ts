import { describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { vi } from 'vitest';
import { compareMain, compareRuns, renderComparison } from '../../scripts/lib/commands/comparecmd.ts';
import { useTempDir } from './tempdir.ts';
import { Results, type Metric } from '../../scripts/lib/analysis/results.ts';

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
    expect(md).toMatch(/\| qmempool\/reuse ÷ slab\/reuse \| uml \| patched \| 0\.40\d× \[.*\] 96\.1% \| faster \(n=8\) \| 0\.50\d× .* \| \+2\d\.\d% \(≥ \+2\d\.\d%\) \*\*regressed\*\* \|/);
    // Not chosen: the same change is reported but does not fail.
    expect(compareRuns(run('a', 8, 20), run('b', 10, 20), { metrics: ['slab/reuse'], threshold: 0.05 }).regressions).toBe(0);
  });

  it('gates on the intervals: a +8% point whose intervals overlap within 5% is not a regression', () => {
    // Noisy B: each boot's qmempool figure off by up to ±12%, so B's interval is wide.
    const wobble = [1.12, 0.9, 1.1, 0.88, 1.08, 0.93, 1.11, 0.89];
    const noisy = (id: string, q: number) => Results.parse({
      ...run(id, q, 20),
      metrics: run(id, q, 20).metrics.map((x) => (x.backend === 'uml' && x.name === 'qmempool/reuse' ? { ...x, samples: x.samples.map((v) => v * wobble[x.boot]!) } : x)),
    });
    const c = compareRuns(run('a', 8, 20), noisy('b', 8.64), { metrics: [], threshold: 0.05 });
    const uml = c.ratios.find((r) => r.backend === 'uml' && r.key === 'qmempool/reuse ÷ slab/reuse')!;
    expect(uml.change).toBeGreaterThan(0.05); // the point estimate alone would have tripped the gate
    expect(uml.b!.ci!.hi / uml.b!.ci!.lo).toBeGreaterThan(1.1);
    expect(uml.changeLo).toBeCloseTo(uml.b!.ci!.lo / uml.a!.ci!.hi - 1, 12);
    expect(uml.changeLo).toBeLessThan(0.05);
    expect(uml.regressed).toBe(false);
  });

  it('cannot call a regression without intervals on a noisy backend (too few pairs), and says why', () => {
    const few = (id: string, q: number) => Results.parse({ ...run(id, q, 20), metrics: run(id, q, 20).metrics.filter((x) => x.backend === 'icount' || x.boot < 4) });
    const c = compareRuns(few('a', 8), few('b', 12), { metrics: [], threshold: 0.05 });
    const uml = c.ratios.find((r) => r.backend === 'uml')!;
    expect(uml.change).toBeCloseTo(0.5, 1);
    expect(uml.regressed).toBe(false);
    expect(uml.note).toMatch(/no interval in either run/);
  });

  describe('on the command line', () => {
    const tmp = useTempDir('qk-compare-');
    const write = async (name: string, r: ReturnType<typeof run>) => {
      const dir = join(tmp(), name);
      await mkdir(dir);
      await writeFile(join(dir, 'results.json'), JSON.stringify(r));
      return dir;
    };

    it('refuses a --metric neither run measured (exit 2), naming the cases that exist', async () => {
      const [a, b] = [await write('a', run('a', 8, 20)), await write('b', run('b', 10, 20))];
      const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
      try {
        expect(await compareMain([a, b, '--metric', 'qmempool/reuse', '--metric', 'nosuch/case'])).toBe(2);
        const text = err.mock.calls.map((x) => String(x[0])).join('');
        expect(text).toMatch(/--metric nosuch\/case: no such case in either run/);
        expect(text).toContain('qmempool/reuse, slab/reuse');
        expect(out).not.toHaveBeenCalled();
        // A known metric gates as before: B's qmempool ratio regressed, exit 1.
        expect(await compareMain([a, b, '--metric', 'qmempool/reuse'])).toBe(1);
      } finally {
        err.mockRestore();
        out.mockRestore();
      }
    });
  });
});
