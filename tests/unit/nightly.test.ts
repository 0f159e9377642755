import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classify, logLines } from '../../scripts/lib/pipeline/classify.ts';
import { compareNights, conflictsOf, crashFingerprint, nightResult, nightTests, type NightRun } from '../../scripts/lib/ci/nightly.ts';
import { Results } from '../../scripts/lib/analysis/results.ts';
import { NIGHT_VERSION, type Night, type NightMetric } from '../../scripts/lib/ci/night.ts';

const FIX = join(import.meta.dirname, '..', 'fixtures');

const absolute = (value: number): NightMetric => ({ key: 'slab/reuse@baseline/icount', name: 'slab/reuse', backend: 'icount', kind: 'absolute', unit: 'ns', value, lo: value, hi: value, figures: [value], samples: [[value, value]] });
const ratio = (value: number, lo: number, hi: number): NightMetric => ({ key: 'skb/alloc_free: patched vs baseline (uml)', name: 'skb/alloc_free', backend: 'uml', kind: 'ratio', unit: 'ratio', value, lo, hi, figures: [] });

function night(name: string, o: Partial<Night> = {}): Night {
  return {
    version: NIGHT_VERSION,
    night: name,
    base: 'debian-6.12',
    startedAt: `${name}T01:00:00Z`,
    wallMs: 1,
    kernel: { version: '6.12.117', description: 'Debian' },
    tool: {},
    series: { hash: 'h', patches: ['0001-a.patch'] },
    runDir: `runs/${name}`,
    report: `runs/${name}/report.md`,
    trees: [
      { variant: 'baseline', apply: 'pass', build: 'pass', boot: 'pass', kunit: 'skip' },
      { variant: 'patched', apply: 'pass', build: 'pass', boot: 'pass', kunit: 'pass' },
    ],
    tests: [{ name: 'kunit.patched.icount.alf_queue.alf_test_wrap', status: 'pass' }],
    metrics: [absolute(136.4), ratio(0.93, 0.9, 0.96)],
    crashes: [],
    findings: [],
    result: 'ok',
    exitCode: 0,
    ...o,
  };
}

describe('a night against the history', () => {
  it('passes an unchanged night', () => {
    const { findings } = compareNights(night('2026-12-02'), [night('2026-12-01')], 0.02);
    expect(findings).toEqual([]);
    expect(nightResult(findings, false)).toEqual({ result: 'ok', exitCode: 0 });
  });

  it('flags an injected slowdown on icount, and a ratio whose interval moved past the last night’s', () => {
    const slow = compareNights(night('2026-12-02', { metrics: [absolute(150.2), ratio(0.93, 0.9, 0.96)] }), [night('2026-12-01')], 0.02);
    expect(slow.findings.map((f) => [f.kind, f.key])).toEqual([['regression', 'slab/reuse@baseline/icount']]);
    expect(nightResult(slow.findings, false)).toEqual({ result: 'regression', exitCode: 1 });
    // Within the threshold: no finding; a faster figure is an improvement, not a failure.
    expect(compareNights(night('b', { metrics: [absolute(137.5)] }), [night('a')], 0.02).findings).toEqual([]);
    const fast = compareNights(night('b', { metrics: [absolute(120)] }), [night('a')], 0.02).findings;
    expect(fast.map((f) => f.kind)).toEqual(['improvement']);
    expect(nightResult(fast, false).exitCode).toBe(0);
    // Noisy: overlapping intervals are no regression, disjoint and past the threshold are.
    expect(compareNights(night('b', { metrics: [ratio(0.97, 0.94, 1.0)] }), [night('a')], 0.02).findings).toEqual([]);
    expect(compareNights(night('b', { metrics: [ratio(1.08, 1.02, 1.12)] }), [night('a')], 0.02).findings.map((f) => f.kind)).toEqual(['regression']);
  });

  it('tells a new failure from a known one, and a series that stops applying is a result', () => {
    const broken = night('2026-12-02', { trees: [night('x').trees[0]!, { variant: 'patched', apply: 'fail', build: 'skip', boot: 'skip', kunit: 'skip', reason: 'patch 3/3 x does not apply to 6.1.0: conflicts in net/core/skbuff.c' }] });
    const first = compareNights(broken, [night('2026-12-01')], 0.02).findings;
    expect(first).toHaveLength(1);
    expect(first[0]!.message).toMatch(/^new failure: patched apply: .*conflicts in net\/core\/skbuff\.c/);
    expect(nightResult(first, false).exitCode).toBe(1);
    const again = compareNights({ ...broken, night: '2026-12-03' }, [night('2026-12-01'), { ...broken, findings: first }], 0.02).findings;
    expect(again[0]!.message).toMatch(/^still failing/);
    expect(nightResult([], true)).toEqual({ result: 'infra', exitCode: 2 });
  });

  it('recognises a repeated crash by its fingerprint', async () => {
    const sig = (f: string) => readFile(join(FIX, f), 'utf8').then((t) => classify(logLines(t), 'exited'));
    const a = await sig('flake-int3-tcg.log');
    const b = await sig('flake-int3-tcg-b.log');
    const oops = await sig('oops-tcg.log');
    const fa = crashFingerprint(a.verdict.class, a.signature!);
    expect(fa.frames.length).toBeGreaterThan(1);
    expect(fa.frames.length).toBeLessThanOrEqual(5);
    // Two int3 flakes of the emulator race hit different stacks: two crashes, not one.
    expect(crashFingerprint(b.verdict.class, b.signature!).fingerprint).not.toBe(fa.fingerprint);
    // The same oops in another boot: other timestamps, addresses and offsets, the same fingerprint.
    const text = await readFile(join(FIX, 'oops-tcg.log'), 'utf8');
    const other = text.replace(/\[\s*(\d+)\.(\d+)\]/g, (_, s: string, us: string) => `[${String(Number(s) + 7).padStart(5)}.${us}]`).replace(/0x[0-9a-f]+\/0x/g, '0x1f/0x').replace(/ffff[0-9a-f]{12}/g, 'ffff888003a1c000');
    expect(other).not.toBe(text);
    const oops2 = classify(logLines(other), 'exited');
    const fo = crashFingerprint(oops.verdict.class, oops.signature!);
    expect(crashFingerprint(oops2.verdict.class, oops2.signature!).fingerprint).toBe(fo.fingerprint);
    expect(fo.fingerprint).not.toBe(fa.fingerprint);
    const crash = (fp: typeof fa) => ({ ...fp, side: 'baseline', backend: 'tcg', log: 'x.log', seen: 'tonight' });
    const n1 = compareNights(night('n1', { crashes: [crash(fa)] }), [night('n0')], 0.02);
    expect(n1.crashes[0]!.seen).toBe('new');
    expect(n1.findings[0]!.message).toMatch(/^new crash: /);
    const stored = { ...night('n1'), crashes: n1.crashes };
    const n2 = compareNights(night('n2', { crashes: [crash(fa), crash(fo)] }), [night('n0'), stored], 0.02);
    expect(n2.crashes.map((c) => c.seen)).toEqual(['n1', 'new']);
    expect(n2.findings.filter((f) => f.kind === 'crash').map((f) => f.message.split(':')[0])).toEqual(['same crash as night n1', 'new crash']);
  });

  it('reads the conflicting files of a series that does not apply', () => {
    expect(conflictsOf('error (apply-failure): patch 2/3 0002-mm.patch does not apply to 6.1.192 (abc): conflicts in mm/Kconfig, mm/Makefile\n\nhint: ...')).toBe('patch 2/3 0002-mm.patch does not apply to 6.1.192 (abc): conflicts in mm/Kconfig, mm/Makefile');
    expect(conflictsOf('error (build-failure): x')).toBeUndefined();
  });

  it('counts a built-in KUnit case once per side and backend, failed if any boot failed it', () => {
    const origin = { side: 'patched', variant: 'patched', backend: 'icount', flavor: 'normal', round: 0, position: 0 } as const;
    const t = (status: 'pass' | 'fail', round: number) => ({ ...origin, round, suite: 'example', case: 'example_simple_test', status });
    const results = Results.parse({ schemaVersion: 2, runId: 'r', class: 'test-failure', sides: [], boots: [], tests: [t('pass', 0), t('fail', 1), t('pass', 2)], metrics: [], notRun: [] });
    const run = { runDir: '/r', manifest: {}, results } as unknown as NightRun;
    expect(nightTests([run])).toEqual([{ name: 'kunit.patched.icount.example.example_simple_test', status: 'fail' }]);
  });
});

describe('nightly bases', () => {
  it('takes any Debian release by name from the registry, and a named source as given', async () => {
    const { nightSource } = await import('../../scripts/lib/commands/nightlycmd.ts');
    const { captureLogger } = await import('../../scripts/lib/plumbing/log.ts');
    const f = { base: 'debian-7.3', install: false } as Parameters<typeof nightSource>[0];
    expect(await nightSource(f, captureLogger())).toEqual({ kind: 'debian', release: '7.3' });
    expect(await nightSource({ ...f, base: 'sheaves', source: 'debian:7.2' }, captureLogger())).toEqual({ kind: 'debian', release: '7.2' });
    expect(await nightSource({ ...f, base: 'debian-6.12' }, captureLogger())).toEqual({ kind: 'debian' });
    expect(await nightSource({ ...f, base: 'v6.18', git: 'https://example.invalid/linux.git', ref: 'v6.18' }, captureLogger())).toEqual({ kind: 'git', url: 'https://example.invalid/linux.git', ref: 'v6.18' });
    await expect(nightSource({ ...f, base: 'mainline' }, captureLogger())).rejects.toThrow(/debian-X\.Y/);
    await expect(nightSource({ ...f, source: 'debian:7.3', tree: '/x' }, captureLogger())).rejects.toThrow(/choose one kernel source/);
  });
});
