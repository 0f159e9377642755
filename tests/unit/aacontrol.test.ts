/**
 * The A/A control: the first side's kernel booted again in every round as
 * a twin side. Planned (same tree and build, benchmark rounds only, on the
 * backends the mode names, alternating position), chosen from the flags,
 * and judged apart: the twin is compared with its original only, in a
 * family of its own, and the run is flagged when more control tests fire
 * than the tests' real rate allows.
 */
import { describe, expect, it } from 'vitest';
import { aaTwin, bootPlan, controlBackends, parseSide, planRun, sidesFromVariants } from '../../scripts/lib/pipeline/plan.ts';
import { buildCommand, optionsFromFlags } from '../../scripts/lib/commands/cli.ts';
import { allowedCount, judged, sideComparisons } from '../../scripts/lib/analysis/bench.ts';
import { Results, type Metric } from '../../scripts/lib/analysis/results.ts';
import { renderReport } from '../../scripts/lib/analysis/report.ts';
import { headlineSummary } from '../../scripts/lib/analysis/benchreport.ts';

const base = { backends: ['tcg', 'uml'] as const, flavors: ['normal'] as const, workDir: '/w', outputDir: '/o', runId: 'r' };
const parse = (argv: string[]) => {
  const cmd = buildCommand();
  cmd.parse(argv, { from: 'user' });
  return optionsFromFlags(cmd.opts(), argv);
};

describe('planning the A/A control', () => {
  it('adds the twin of the first side last, on the same tree: no tree, kernel or build of its own', () => {
    const sides = sidesFromVariants(['baseline', 'patched']);
    const without = planRun({ ...base, sides, backends: [...base.backends], flavors: [...base.flavors] });
    const withTwin = planRun({ ...base, sides, backends: [...base.backends], flavors: [...base.flavors], aaControl: 'cheap' });
    expect(withTwin.sides.map((s) => [s.name, s.variant, s.twinOf])).toEqual([['baseline', 'baseline', undefined], ['patched', 'patched', undefined], ['baseline-aa', 'baseline', 'baseline']]);
    expect(withTwin.sides[2]!.cmdline).toEqual(without.sides[0]!.cmdline);
    expect(withTwin.trees).toEqual(without.trees);
    expect(withTwin.kernels).toEqual(without.kernels);
    // A side's command line and base come along.
    expect(aaTwin(parseSide('off=patched@debian:7.3 skb_qmempool=off'), [])).toEqual({ name: 'off-aa', variant: 'patched', base: 'debian:7.3', cmdline: ['skb_qmempool=off'], twinOf: 'off' });
    expect(() => planRun({ ...base, sides: [parseSide('a=baseline'), parseSide('a-aa=patched')], backends: ['uml'], flavors: ['normal'], aaControl: 'cheap' })).toThrow(/a side of that name is given/);
    // Nothing booted, nothing to control; icount repeats to the digit, so cheap finds no backend for it.
    expect(planRun({ ...base, sides, backends: ['uml'], flavors: ['normal'], aaControl: 'cheap', stopAfter: 'build' }).sides).toHaveLength(2);
    expect(planRun({ ...base, sides, backends: ['icount'], flavors: ['normal'], aaControl: 'cheap' }).sides).toHaveLength(2);
    expect(planRun({ ...base, sides, backends: ['icount'], flavors: ['normal'], aaControl: 'all' }).sides).toHaveLength(3);
  });

  it('boots the twin in benchmark rounds only, on the chosen backends, alternating position with its original', () => {
    const { sides } = planRun({ ...base, sides: sidesFromVariants(['baseline', 'patched']), backends: ['tcg', 'uml'], flavors: ['normal'], aaControl: 'cheap' });
    expect(controlBackends('cheap', ['tcg', 'uml'])).toEqual(['uml']);
    expect(controlBackends('cheap', ['icount', 'tcg'])).toEqual(['tcg']);
    expect(controlBackends('all', ['tcg', 'uml'])).toEqual(['tcg', 'uml']);
    const p = bootPlan(2, ['tcg', 'uml'], sides, ['normal', 'debug'], ['baseline', 'patched'], controlBackends('cheap', ['tcg', 'uml']));
    expect(p.map((s) => `${s.purpose}:${s.round}:${s.flavor}:${s.backend}:${s.position}:${s.side.name}`)).toEqual([
      'kunit:0:normal:tcg:0:baseline', 'kunit:0:normal:tcg:1:patched', 'kunit:0:normal:uml:0:baseline', 'kunit:0:normal:uml:1:patched',
      'bench:0:normal:tcg:0:baseline', 'bench:0:normal:tcg:1:patched',
      'bench:0:normal:uml:0:baseline', 'bench:0:normal:uml:1:patched', 'bench:0:normal:uml:2:baseline-aa',
      'kunit:0:debug:tcg:0:baseline', 'kunit:0:debug:tcg:1:patched',
      'bench:1:normal:tcg:0:patched', 'bench:1:normal:tcg:1:baseline',
      'bench:1:normal:uml:0:baseline-aa', 'bench:1:normal:uml:1:patched', 'bench:1:normal:uml:2:baseline',
      'kunit:1:debug:tcg:0:patched', 'kunit:1:debug:tcg:1:baseline',
    ]);
  });

  it('is chosen by --aa-control: auto is cheap for the headline set, all for the full sweep, none without benchmarks', () => {
    expect(parse([]).aaControl).toBe('cheap');
    expect(parse(['--bench', 'full']).aaControl).toBe('all');
    expect(parse(['--modules', 'none']).aaControl).toBe('none');
    expect(parse(['--modules', 'none', '--net', 'drop']).aaControl).toBe('cheap');
    expect(parse(['--bench', 'full', '--aa-control', 'none']).aaControl).toBe('none');
    expect(parse(['--aa-control', 'all']).aaControl).toBe('all');
    expect(() => parse(['--aa-control', 'some'])).toThrow(/Allowed choices are auto, none, cheap, all/);
  });
});

/** A run of 8 rounds on uml: baseline, patched and the twin; `twinShift(case, round)` moves the twin's figures. */
function run(twinShift: (c: number, round: number) => number): Results {
  let seed = 11;
  const noise = () => 1 + 0.02 * (((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5);
  const metrics: Metric[] = [];
  let boot = 0;
  for (let round = 0; round < 8; round++) {
    for (const [side, variant] of [['baseline', 'baseline'], ['patched', 'patched'], ['baseline-aa', 'baseline']] as const) {
      boot++;
      for (let c = 0; c < 10; c++) {
        const v = (10 + c) * noise() * (side === 'baseline-aa' ? twinShift(c, round) : 1) * (side === 'patched' && c < 3 ? 0.8 : 1);
        metrics.push({ name: `slab/case${c}`, suite: 'slab', case: `case${c}`, unit: 'ns', side, variant, backend: 'uml', flavor: 'normal', round, position: 0, boot, samples: [v] });
      }
    }
  }
  return Results.parse({
    schemaVersion: 2, runId: 'aa', class: 'ok', boots: [], tests: [], notRun: [], metrics,
    sides: [{ name: 'baseline', variant: 'baseline', cmdline: [] }, { name: 'patched', variant: 'patched', cmdline: [] }, { name: 'baseline-aa', variant: 'baseline', cmdline: [], twinOf: 'baseline' }],
  });
}

describe('judging the A/A control', () => {
  it('knows how many of m independent tests may fire: 8 at 10/256 allow 1 (P(X ≥ 2) = 3.6%)', () => {
    expect(allowedCount(Array(8).fill(10 / 256))).toBe(1);
    expect(allowedCount(Array(100).fill(10 / 256))).toBe(7); // mean 3.9; P(X ≥ 8) = 4.2%, P(X ≥ 7) = 9.7% (scipy binom.sf)
    expect(allowedCount([])).toBe(0);
  });

  it('compares the twin with its original only, in a family of its own', () => {
    const r = run(() => 1);
    const cmp = sideComparisons(r);
    expect(cmp.filter((c) => c.control).map((c) => `${c.side} vs ${c.ref}`)).toEqual(Array(10).fill('baseline-aa vs baseline'));
    expect(cmp.some((c) => c.side === 'baseline-aa' && c.ref === 'patched')).toBe(false);
    const j = judged(r);
    expect(j.families.map((f) => [f.kind, f.tests])).toEqual([['comparisons', 10], ['control', 10]]);
    // The real changes (case0–2, patched 0.8×) are judged among the 10 real comparisons, not diluted by the control's:
    // q = 10 · (2/256) / 3 = 0.026.
    expect(cmp.find((c) => c.name === 'slab/case0' && !c.control)!.stat).toMatchObject({ verdict: 'faster', family: 10 });
    expect(cmp.find((c) => c.name === 'slab/case0' && !c.control)!.stat.q).toBeCloseTo((10 * 2) / 256 / 3, 12);
  });

  it('stays quiet on noise and flags a run whose twin differs from its original', () => {
    const quiet = judged(run(() => 1)).controls[0]!;
    expect(quiet).toMatchObject({ kind: 'control', side: 'baseline-aa', twinOf: 'baseline', tests: 10, allowed: 2, flagged: false }); // Binomial(10, 10/256): P(X ≥ 3) = 0.6%, P(X ≥ 2) = 5.5%
    expect(quiet.expected).toBeCloseTo(10 * (10 / 256), 12);
    expect(quiet.significantRaw).toBeLessThanOrEqual(2);
    // A twin 4% slower than its original in every round: something that is not noise (a boot-order effect, a host change).
    const shifted = run(() => 1.04);
    const loud = judged(shifted).controls[0]!;
    expect(loud.significantRaw).toBe(10);
    expect(loud.significantRaw).toBeGreaterThan(loud.allowed);
    expect(loud.flagged).toBe(true);
    const md = renderReport(shifted, { startedAt: 'now' });
    expect(md).toContain('### The A/A control');
    expect(md).toMatch(/A\/A control on uml \(baseline-aa, the baseline kernel again\): \d+ of 10 tests at p ≤ 0\.05 \(expected 0\.39 with no difference\), FLAGGED/);
    expect(md).toContain('## The A/A control: one kernel booted twice per round');
    expect(md).toContain('| baseline-aa (A/A control: baseline again) | baseline |');
    expect(headlineSummary(shifted).some((l) => /A\/A control on uml .* FLAGGED/.test(l))).toBe(true);
  });
});
