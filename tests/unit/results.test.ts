import { describe, expect, it } from 'vitest';
import { BenchLine, Results, renderReport, summarize, type Metric } from '../../scripts/lib/results.ts';

const metric = (variant: 'baseline' | 'patched', backend: 'tcg' | 'uml', samples: number[]): Metric => ({
  name: 'slab/kmem_cache_alloc_free_256',
  suite: 'slab',
  case: 'kmem_cache_alloc_free_256',
  unit: 'ns',
  variant,
  backend,
  flavor: 'normal',
  samples,
  loops: 1000000,
});

const results = {
  schemaVersion: 1,
  runId: 'r1',
  class: 'ok',
  boots: [],
  tests: [{ variant: 'baseline', backend: 'tcg', round: 0, suite: 'example', case: 'example_simple_test', status: 'pass' }],
  metrics: [metric('baseline', 'tcg', [100, 110, 120]), metric('patched', 'tcg', [90, 95, 100]), metric('baseline', 'uml', [30, 31])],
  notRun: [{ variant: 'patched', backend: 'uml', reason: 'round 0: benchmarks after the failure did not run (panic)' }],
};

describe('results.json schema', () => {
  it('accepts a well-formed result', () => {
    expect(Results.parse(results).metrics).toHaveLength(3);
  });

  it('rejects what a reader could not use', () => {
    expect(Results.safeParse({ ...results, schemaVersion: 2 }).success).toBe(false);
    expect(Results.safeParse({ ...results, metrics: [{ ...metric('baseline', 'tcg', [1]), samples: [] }] }).success).toBe(false);
    expect(Results.safeParse({ ...results, metrics: [{ ...metric('baseline', 'tcg', [1]), backend: 'qemu' }] }).success).toBe(false);
    expect(Results.safeParse({ ...results, class: 'fine' }).success).toBe(false);
  });

  it('validates guest benchmark lines and keeps extra fields', () => {
    const b = BenchLine.parse({ suite: 's', case: 'c', unit: 'ns', loops: 10, samples: [1.5], cpu: 1, preempt: 'voluntary' });
    expect(b['preempt']).toBe('voluntary');
    expect(BenchLine.safeParse({ suite: 's', case: 'c', unit: 'ns', samples: [] }).success).toBe(false);
    expect(BenchLine.safeParse({ suite: 's', unit: 'ns', samples: [1] }).success).toBe(false);
  });
});

describe('report', () => {
  it('summarizes with median and spread', () => {
    expect(summarize([3, 1, 2, 10])).toMatchObject({ n: 4, median: 2.5, min: 1, max: 10 });
  });

  it('puts baseline and patched side by side per backend, never across backends', () => {
    const md = renderReport(Results.parse(results), { startedAt: '2026-11-27T00:00:00Z' });
    expect(md).toContain('| slab/kmem_cache_alloc_free_256 | tcg | ns | 110.0 [100.0–120.0] n=3 | 95.00 [90.00–100.0] n=3 | -15.00 (-13.6%) |');
    expect(md).toContain('| slab/kmem_cache_alloc_free_256 | uml | ns | 30.50 [30.00–31.00] n=2 | not run | – |');
    expect(md).toContain('patched on uml: round 0');
    expect(md).toMatch(/tcg: emulated time/);
    expect(md).toContain('| example | baseline | tcg | normal | 1 | 0 | 0 | 0 |');
  });
});
