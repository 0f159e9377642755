import { describe, expect, it } from 'vitest';
import { BenchLine, Results, readResults, renderReport, summarize, pairedChange, comparisons, type Metric } from '../../scripts/lib/results.ts';

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
  metrics: [metric('baseline', 'tcg', 0, [100, 110, 120]), metric('patched', 'tcg', 0, [90, 95, 100]), metric('baseline', 'uml', 0, [30, 31])],
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
  });
});

describe('paired comparison', () => {
  it('pairs sides by round and counts rounds, not samples', () => {
    const ms = [
      metric('baseline', 'uml', 0, [100, 100, 100]), metric('patched', 'uml', 0, [90, 90, 90]),
      metric('baseline', 'uml', 1, [200, 200, 200]), metric('patched', 'uml', 1, [190, 190, 190]),
      // A round without its peer does not pair.
      metric('patched', 'uml', 2, [1, 1, 1]),
    ];
    const [c] = comparisons(ms);
    const d = pairedChange(c!, 'baseline', 'patched')!;
    expect(d.n).toBe(2);
    expect(d.minPct).toBeCloseTo(-10);
    expect(d.maxPct).toBeCloseTo(-5);
    expect(d.medianPct).toBeCloseTo(-7.5);
  });
});

describe('report', () => {
  it('summarizes with median and spread', () => {
    expect(summarize([3, 1, 2, 10])).toMatchObject({ n: 4, median: 2.5, min: 1, max: 10 });
  });

  it('puts the sides next to each other per backend, never across backends', () => {
    const md = renderReport(Results.parse(results), { startedAt: '2026-11-27T00:00:00Z', reproduce: 'npx zx scripts/run.mjs' });
    expect(md).toContain('| slab/kmem_cache_alloc_free_256 | tcg | ns | 110.0 [100.0–120.0] n=3, b=1 | 95.00 [90.00–100.0] n=3, b=1 | -13.6% (1 round) |');
    expect(md).toContain('| slab/kmem_cache_alloc_free_256 | uml | ns | 30.50 [30.00–31.00] n=2, b=1 | not run | – |');
    expect(md).toContain('patched on uml: round 0');
    expect(md).toMatch(/tcg: emulated time/);
    expect(md).toContain('| example | baseline | tcg | normal | 1 | 0 | 0 | 0 |');
    expect(md).toContain('- reproduce: `npx zx scripts/run.mjs`');
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
