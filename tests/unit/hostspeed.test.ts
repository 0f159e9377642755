/**
 * Samples taken in a slow spell of the host (hostspeed.ts): the guest's
 * reference loop reading before each sample, not the sample, decides.
 */
import { describe, expect, it } from 'vitest';
import { HOST_SLOW_FACTOR, fastLevels, levelKeys, levelsFor, referenceReadings, splitSlowed } from '../../scripts/lib/analysis/hostspeed.ts';
import { assembleResults, type AttemptFacts } from '../../scripts/lib/pipeline/recorder.ts';
import { renderReport } from '../../scripts/lib/analysis/report.ts';

const facts = (seq: number, round: number): AttemptFacts => ({
  factsVersion: 1, seq, attempt: 1, side: 'baseline', variant: 'baseline', backend: 'uml', flavor: 'normal', arch: 'um', round, position: 0,
  consoleLog: `logs/console-baseline-uml-r${round}.log`, ending: 'exited', wallMs: 1000, exitCode: 0, argv: ['linux'], kernelCmdline: '',
});

/** A boot with one slab/reuse line: the readings, one before each sample and one after the last, default to the fast level. */
const boot = (samples: number[], ref?: number[], mref?: number[]): string[] => [
  'QK-BEGIN {"proto":1}',
  `QK-BENCH ${JSON.stringify({ suite: 'slab', case: 'reuse', group: 'alloc_reuse', param: 1, unit: 'ns', per: 'op', loops: 60000, samples, ref_ps: ref ?? samples.concat(0).map(() => 280), mref_ps: mref ?? samples.concat(0).map(() => 600), loop_overhead_ns: 0.28 })}`,
  'QK-END {"status":0}',
];
const fill = (n: number, v: number) => Array.from({ length: n }, () => v);
const R = (ref_ps: number[], mref_ps: number[]) => ({ ref_ps, mref_ps });

describe('samples taken while the host ran the guest slow', () => {
  it('reads the readings only when both kinds have one before each sample and one after the last', () => {
    expect(referenceReadings({ ref_ps: [280, 281, 282], mref_ps: [600, 601, 602] }, 2)).toEqual(R([280, 281, 282], [600, 601, 602]));
    expect(referenceReadings({ ref_ps: [280, 281], mref_ps: [600, 601] }, 2)).toBeUndefined();
    expect(referenceReadings({ ref_ps: [280, 281, 282] }, 2)).toBeUndefined();
    expect(referenceReadings({ ref_ps: [280, 'x', 282], mref_ps: [600, 601, 602] }, 2)).toBeUndefined();
    expect(referenceReadings({}, 2)).toBeUndefined();
  });

  it('takes each fast level per backend from all its readings, and leaves out a sample with a slow reading before or after it', () => {
    const keys = (backend: string, suite: string, variant = 'patched') => levelKeys({ backend, variant, flavor: 'normal', suite });
    const levels = fastLevels([
      { keys: keys('uml', 'slab'), ref: R(fill(20, 280), fill(20, 600)) },
      { keys: keys('uml', 'slab'), ref: R(fill(10, 480), fill(10, 900)) },
      // Another module's buffer, placed elsewhere, walks slower at full speed: a walk level of its own; the loop's is the backend's.
      { keys: keys('uml', 'ptr_ring'), ref: R(fill(20, 282), fill(20, 800)) },
      // A kernel whose every boot ran slow: its loop is judged by the backend's level all the same.
      { keys: keys('uml', 'slab', 'baseline'), ref: R(fill(20, 470), fill(20, 900)) },
      { keys: keys('tcg', 'slab'), ref: R([2000, 2000, 2100], [5000, 5000, 5100]) },
    ]);
    expect(levelsFor(levels, keys('uml', 'slab'))).toEqual({ ref_ps: 280, mref_ps: 600 });
    expect(levelsFor(levels, keys('uml', 'ptr_ring'))).toEqual({ ref_ps: 280, mref_ps: 800 });
    expect(levelsFor(levels, keys('uml', 'slab', 'baseline'))).toEqual({ ref_ps: 280, mref_ps: 900 });
    expect(levelsFor(levels, keys('tcg', 'slab'))!.ref_ps).toBeGreaterThanOrEqual(2000);
    expect(levelsFor(levels, keys('tcg', 'slab'))!.ref_ps).toBeLessThan(2100);
    expect(levelsFor(levels, keys('kvm', 'slab'))).toBeUndefined();
    const level = { ref_ps: 280, mref_ps: 600 };
    const edge = 280 * HOST_SLOW_FACTOR;
    // A slow loop reading between samples 1 and 2: the spell may have covered the end of one and the start of the other.
    expect(splitSlowed([13, 23, 22, 14, 13], R([280, 280, 480, 280, 280, 280], fill(6, 600)), level)).toEqual({ kept: [13, 14, 13], slowed: [23, 22] });
    // A reading at the threshold is at speed; just over it is not.
    expect(splitSlowed([13, 13], R([edge, edge, 280], fill(3, 600)), level).slowed).toEqual([]);
    expect(splitSlowed([13, 13], R([280, 280, edge + 1], fill(3, 600)), level).slowed).toEqual([13]);
    // The loop at speed while memory accesses were slow: the walk tells.
    expect(splitSlowed([13, 21, 21, 13], R(fill(5, 280), [600, 600, 900, 600, 600]), level)).toEqual({ kept: [13, 13], slowed: [21, 21] });
    // No readings (a packet scenario): nothing is left out.
    expect(splitSlowed([13, 23], undefined, level)).toEqual({ kept: [13, 23], slowed: [] });
  });

  it('in results.json: slow samples leave the figure, a boot with too few left has none, and the report counts both', () => {
    const r = assembleResults({
      runId: 'r', errorClass: undefined, sides: [], notRun: [],
      attempts: [
        { facts: facts(0, 0), lines: boot(fill(15, 13.5)) },
        // A spell over the last five samples: they read 1.7× slower, and so does the loop after each of them.
        { facts: facts(1, 1), lines: boot([...fill(10, 13.6), ...fill(5, 23)], [...fill(11, 280), ...fill(5, 476)]) },
        // A boot slow throughout but for its first two samples.
        { facts: facts(2, 2), lines: boot([13.4, 13.4, ...fill(13, 23.5)], [280, 281, 280, ...fill(13, 470)]) },
      ],
    });
    expect(r.metrics.map((m) => [m.round, m.samples.length, m.slowed?.length])).toEqual([[0, 15, undefined], [1, 10, 5]]);
    expect(r.metrics[1]!.slowed).toEqual(fill(5, 23));
    expect(r.benchStatus).toEqual([expect.objectContaining({ round: 2, suite: 'slab', case: 'reuse', status: 'slowed' })]);
    expect(r.benchStatus[0]!.reason).toMatch(/fewer than 3 of its 15 samples were taken at speed/);
    const md = renderReport(r, { startedAt: '2026-12-06T00:00:00Z', reproduce: 'x' });
    // The same boots on tcg keep every sample: QEMU backends' readings are reported, not used.
    const tcg = assembleResults({
      runId: 'r', errorClass: undefined, sides: [], notRun: [],
      attempts: [0, 1, 2].map((i) => ({ facts: { ...facts(i, i), backend: 'tcg' as const, arch: 'x86_64' as const }, lines: boot([13.4, 13.4, ...fill(13, 23.5)], [280, 281, 280, ...fill(13, 470)]) })),
    });
    expect(tcg.metrics.map((m) => [m.samples.length, m.slowed])).toEqual([[15, undefined], [15, undefined], [15, undefined]]);
    expect(tcg.benchStatus).toEqual([]);
    const section = md.slice(md.indexOf('## Samples taken while'));
    expect(section, section).toMatch(/\| uml \| 5 of 30 \| 1 \| 2 of 2 \|/);
  });

  it('judges each kernel\'s walk by its own level: one tree built with two profiles is two kernels', () => {
    // Run 20261207-114709-cnzt (7.3, uml): the patched tree's distro kernel walked 390-406 ps at full speed where its
    // trimmed kernel walked 328; one level for both read every distro boot as slow.
    const side = (name: string, profile?: string) => ({ name, variant: 'patched' as const, cmdline: [], ...(profile ? { profile } : {}) });
    const at = (seq: number, name: string, mref: number) => ({
      facts: { ...facts(seq, seq >> 1), side: name, variant: 'patched' as const },
      lines: boot(fill(15, 13.5), fill(16, 280), fill(16, mref)),
    });
    const attempts = [at(0, 'on', 328), at(1, 'don', 400), at(2, 'on', 328), at(3, 'don', 406)];
    const r = assembleResults({ runId: 'r', errorClass: undefined, sides: [side('on'), side('don', 'distro')], notRun: [], attempts });
    expect(r.metrics.map((m) => [m.side, m.samples.length])).toEqual([['on', 15], ['don', 15], ['on', 15], ['don', 15]]);
    expect(r.benchStatus).toEqual([]);
    // The same boots, both sides the same kernel: the distro walks are over 1.1x the trimmed level.
    const one = assembleResults({ runId: 'r', errorClass: undefined, sides: [side('on'), side('don')], notRun: [], attempts });
    expect(one.metrics.map((m) => m.side)).toEqual(['on', 'on']);
    expect(one.benchStatus.map((b) => [b.side, b.status])).toEqual([['don', 'slowed'], ['don', 'slowed']]);
  });
});
