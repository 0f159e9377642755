import { describe, expect, it } from 'vitest';
import { BenchLine, Results, readResults, type Metric } from '../../scripts/lib/analysis/results.ts';
import { renderReport } from '../../scripts/lib/analysis/report.ts';
import { goals, peerComparisons, sideComparisons } from '../../scripts/lib/analysis/bench.ts';

const metric = (side: 'baseline' | 'patched', backend: 'tcg' | 'uml', round: number, samples: number[]): Metric => ({
  name: 'slab/kmem_cache_alloc_free_256',
  suite: 'slab',
  case: 'kmem_cache_alloc_free_256',
  unit: 'ns',
  side,
  variant: side,
  backend,
  flavor: 'normal',
  round,
  position: 0,
  boot: 0,
  samples,
  loops: 1000000,
});

const sides = [{ name: 'baseline', variant: 'baseline', cmdline: [] }, { name: 'patched', variant: 'patched', cmdline: [] }];
const results = {
  schemaVersion: 2,
  runId: 'r1',
  class: 'ok',
  sides,
  boots: [],
  tests: [{ side: 'baseline', variant: 'baseline', backend: 'tcg', round: 0, position: 0, suite: 'example', case: 'example_simple_test', status: 'pass' }],
  metrics: [metric('baseline', 'tcg', 0, [100, 110, 120]), { ...metric('patched', 'tcg', 0, [90, 95, 100]), boot: 1 }, { ...metric('baseline', 'uml', 0, [30, 31]), boot: 2 }],
  notRun: [{ side: 'patched', variant: 'patched', backend: 'uml', reason: 'round 0: benchmarks after the failure did not run (panic)' }],
};

describe('results.json schema', () => {
  it('accepts a well-formed result', () => {
    expect(Results.parse(results).metrics).toHaveLength(3);
  });

  it('rejects what a reader could not use', () => {
    expect(Results.safeParse({ ...results, schemaVersion: 1 }).success).toBe(false);
    expect(Results.safeParse({ ...results, metrics: [{ ...metric('baseline', 'tcg', 0, [1]), samples: [] }] }).success).toBe(false);
    expect(Results.safeParse({ ...results, metrics: [{ ...metric('baseline', 'tcg', 0, [1]), backend: 'qemu' }] }).success).toBe(false);
    expect(Results.safeParse({ ...results, metrics: [{ ...metric('baseline', 'tcg', 0, [1]), round: undefined }] }).success).toBe(false);
    expect(Results.safeParse({ ...results, class: 'fine' }).success).toBe(false);
  });

  it('reads schema version 1 files: variants become sides, metrics get their boot round', () => {
    const v1metric = (variant: string, samples: number[]) => ({ name: 'slab/x', suite: 'slab', case: 'x', unit: 'ns', variant, backend: 'uml', flavor: 'normal', samples });
    const boot = (variant: string, round: number) => ({ variant, backend: 'uml', flavor: 'normal', arch: 'um', round, class: 'ok', reason: 'fine', findings: [], reachedUserspace: true, guestStatus: 0, wallMs: 1000, consoleLog: `logs/console-${variant}-uml-r${round}.log`, cmdline: 'uml', kunit: { pass: 1, fail: 0, skip: 0, crashed: 0 } });
    const v1 = {
      schemaVersion: 1,
      runId: 'old',
      class: 'ok',
      boots: [boot('baseline', 0), boot('patched', 0), boot('patched', 1), boot('baseline', 1)],
      tests: [{ variant: 'patched', backend: 'uml', round: 1, suite: 's', case: 'c', status: 'pass' }],
      metrics: [v1metric('baseline', [10]), v1metric('patched', [9]), v1metric('patched', [8]), v1metric('baseline', [11])],
      notRun: [],
    };
    const r = readResults(v1);
    expect(r.schemaVersion).toBe(2);
    expect(r.sides.map((s) => s.name)).toEqual(['baseline', 'patched']);
    expect(r.boots.map((b) => `${b.side}${b.round}${b.position}`)).toEqual(['baseline00', 'patched01', 'patched10', 'baseline11']);
    expect(r.metrics.map((m) => `${m.side}${m.round}b${m.boot}`)).toEqual(['baseline0b0', 'patched0b1', 'patched1b2', 'baseline1b3']);
    expect(r.tests[0]).toMatchObject({ side: 'patched', round: 1, position: 0 });
    expect(() => readResults({ ...v1, schemaVersion: 7 })).toThrow(/schema version 7/);
  });

  it('validates guest benchmark lines and keeps extra fields', () => {
    const b = BenchLine.parse({ suite: 's', case: 'c', unit: 'ns', loops: 10, samples: [1.5], cpu: 1, preempt: 'voluntary' });
    expect(b['preempt']).toBe('voluntary');
    expect(BenchLine.safeParse({ suite: 's', case: 'c', unit: 'ns', samples: [] }).success).toBe(false);
    expect(BenchLine.safeParse({ suite: 's', unit: 'ns', samples: [1] }).success).toBe(false);
    expect(BenchLine.parse({ suite: 'qmempool', case: 'reuse', status: 'skip', reason: 'CONFIG_QMEMPOOL is not set' }).status).toBe('skip');
    expect(BenchLine.safeParse({ suite: 'qmempool', case: 'reuse', status: 'skip' }).success).toBe(false);
    expect(BenchLine.safeParse({ suite: 'slab', case: 'reuse', unit: 'ns' }).success).toBe(false);
  });
});

describe('paired comparison', () => {
  const at = (name: string, side: 'baseline' | 'patched', round: number, boot: number, samples: number[], peer?: string): Metric =>
    ({ ...metric(side, 'uml', round, samples), name, suite: name.split('/')[0]!, case: name.split('/')[1]!, boot, ...(peer ? { peer } : {}) });

  it('pairs sides by round and counts rounds, not samples', () => {
    const ms = [
      at('slab/reuse', 'baseline', 0, 0, [100, 100, 100]), at('slab/reuse', 'patched', 0, 1, [90, 90, 90]),
      at('slab/reuse', 'baseline', 1, 2, [200, 200, 200]), at('slab/reuse', 'patched', 1, 3, [190, 190, 190]),
      // A round without its peer does not pair.
      at('slab/reuse', 'patched', 2, 4, [1, 1, 1]),
    ];
    const [c] = sideComparisons(Results.parse({ ...results, metrics: ms }));
    expect(c).toMatchObject({ name: 'slab/reuse', ref: 'baseline', side: 'patched', backend: 'uml' });
    expect(c!.stat.n).toBe(2);
    expect(c!.stat.verdict).toBe('inconclusive');
    expect(c!.stat.ratio).toBeGreaterThan(0.9);
    expect(c!.stat.ratio).toBeLessThan(0.95);
  });

  it('compares a case with its peer in the same boot, boot by boot, and checks the goal', () => {
    const ms: Metric[] = [];
    for (let i = 0; i < 8; i++) {
      const noise = 1 + (i % 3) * 0.01;
      ms.push(at('slab/reuse', 'patched', i, i, [20 * noise, 21 * noise]), at('qmempool/reuse', 'patched', i, i, [6 * noise, 6.2 * noise], 'slab/reuse'));
    }
    const r = Results.parse({ ...results, metrics: ms });
    const [p] = peerComparisons(r);
    expect(p).toMatchObject({ name: 'qmempool/reuse', peer: 'slab/reuse', side: 'patched', backend: 'uml' });
    expect(p!.stat.n).toBe(8);
    expect(p!.stat.verdict).toBe('faster');
    const g = goals(r).find((x) => x.goal.id === 'qmempool-reuse')!;
    expect(g.state).toBe('met');
    const md = renderReport(r, { startedAt: 'now' });
    expect(md.indexOf('## Benchmarks: the headline')).toBeLessThan(md.indexOf('## Boots'));
    expect(md).toMatch(/\| qmempool fast path vs SLUB instant reuse \(qmempool\/reuse ÷ slab\/reuse\) \| uml \| patched \| 6\.\d+ \/ 20\.\d+ \| 0\.29\d×/);
    expect(md).toMatch(/≤0\.35×: \*\*met\*\*/);
  });
});

describe('report', () => {
  it('puts the sides next to each other per backend, never across backends', () => {
    const md = renderReport(Results.parse(results), { startedAt: '2026-11-27T00:00:00Z', reproduce: 'npx zx scripts/run.mjs' });
    expect(md).toContain('| slab/kmem_cache_alloc_free_256 | tcg | ns | 110.0 [100.0–120.0] 1×3 | 95.00 [90.00–100.0] 1×3 | – |');
    expect(md).toContain('| slab/kmem_cache_alloc_free_256 | uml | ns | 30.50 [30.00–31.00] 1×2 | not run | – |');
    expect(md).toMatch(/\| slab\/kmem_cache_alloc_free_256 \| tcg \| patched vs baseline \| 95\.00 \/ 110\.0 ns \| 0\.864× \| 1 \| 1\.000 \| inconclusive/);
    expect(md).toContain('patched on uml: round 0');
    expect(md).toMatch(/tcg: emulated time/);
    expect(md).toContain('| example | baseline | tcg | normal | 1 | 0 | 0 | 0 |');
    expect(md).toContain('- reproduce: `npx zx scripts/run.mjs`');
  });

  it('lists cases a kernel could not run, with the reason, once per case', () => {
    const skip = (side: string, round: number) => ({ side, variant: 'baseline', backend: 'tcg', round, position: 0, boot: round, suite: 'qmempool', case: 'reuse', status: 'skip', reason: 'CONFIG_QMEMPOOL is not set in this kernel' });
    const md = renderReport(Results.parse({ ...results, benchStatus: [skip('baseline', 0), skip('baseline', 1)] }), { startedAt: 'now' });
    expect(md).toContain('| qmempool/reuse | skip | baseline | tcg | CONFIG_QMEMPOOL is not set in this kernel |');
  });
});

describe('a results.json written by schema version 1', () => {
  it('reads a file the previous version of the tool wrote (tests/fixtures/results-v1.json)', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const r = readResults(JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'results-v1.json'), 'utf8')));
    expect(r.schemaVersion).toBe(2);
    expect(r.boots.map((b) => `${b.side}/${b.backend}/${b.round}/${b.position}`)).toEqual(['baseline/tcg/0/0', 'patched/tcg/0/1', 'baseline/uml/0/0', 'patched/uml/0/1']);
    const m = r.metrics.filter((x) => x.name === 'slab/kmem_cache_alloc_free_256');
    expect(m.map((x) => `${x.side}/${x.backend}/b${x.boot}`)).toEqual(['baseline/tcg/b0', 'patched/tcg/b1', 'baseline/uml/b2', 'patched/uml/b3']);
    expect(r.tests.length).toBeGreaterThan(0);
  });
});
