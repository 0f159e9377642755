import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classVerdict, criterionOptions, metricModule, parseBisectOutput, prefixFiles } from '../../scripts/lib/bisect/bisect.ts';
import { judgeMetric } from '../../scripts/lib/analysis/judgemetric.ts';
import { buildBisectCommand } from '../../scripts/lib/commands/bisectcmd.ts';
import { readSteps, stepOptions } from '../../scripts/lib/bisect/step.ts';
import { useTempDir } from './tempdir.ts';
import { BisectState } from '../../scripts/lib/bisect/state.ts';
import { optionsFromArgv } from '../../scripts/lib/commands/cli.ts';
import { runArgv } from '../../scripts/lib/commands/runargv.ts';
import { consoleEvidence } from '../../scripts/lib/bisect/outcome.ts';
import { readSeries } from '../../scripts/lib/pipeline/series.ts';
import { REPO_ROOT } from '../../scripts/lib/plumbing/paths.ts';

describe('bisection verdicts', () => {
  it('a failure at the criterion is bad, before it skip (kernel) or bad (series), after it good', () => {
    expect(classVerdict('build', 'build-failure', 'kernel')).toBe('bad');
    expect(classVerdict('build', 'config-failure', 'kernel')).toBe('bad');
    expect(classVerdict('build', 'ok', 'kernel')).toBe('good');
    expect(classVerdict('metric', 'build-failure', 'kernel')).toBe('skip');
    expect(classVerdict('metric', 'build-failure', 'series')).toBe('bad');
    expect(classVerdict('boot', 'apply-failure', 'kernel')).toBe('skip');
    expect(classVerdict('boot', 'oops', 'kernel')).toBe('bad');
    expect(classVerdict('boot', 'test-failure', 'kernel')).toBe('good');
    expect(classVerdict('kunit', 'test-failure', 'series')).toBe('bad');
    expect(classVerdict('kunit', 'hang', 'kernel')).toBe('skip');
    expect(classVerdict('metric', 'ok', 'kernel')).toBe('measure');
    expect(classVerdict('metric', 'flaky', 'kernel')).toBe('measure');
    for (const c of ['infra-error', 'usage-error', 'missing-dependency', 'interrupted'] as const) expect(classVerdict('build', c, 'kernel')).toBe('abort');
  });

  it('runs only what the criterion needs', () => {
    expect(criterionOptions('build', { repeat: 1 })).toEqual({ stopAfter: 'build' });
    expect(criterionOptions('apply', { repeat: 1 })).toEqual({ stopAfter: 'apply' });
    expect(criterionOptions('kunit', { repeat: 3 })).toEqual({ modules: [], boots: 1 });
    expect(criterionOptions('metric', { metric: 'skb/alloc_free', repeat: 5 })).toEqual({ modules: ['qk_bench_skb'], extraCmdline: ['qk_bench_skb.only=skb/alloc_free'], boots: 5 });
    expect(metricModule('alf_queue/mpmc_single').module).toBe('qk_bench_queue');
    expect(() => metricModule('reuse')).toThrow(/suite\/case/);
    expect(() => metricModule('net/drop')).toThrow(/no benchmark module/);
  });

  it('makes a step’s run from the bisection’s run.mjs flags, the step and the criterion, keeping the user’s kernel arguments', () => {
    const st = BisectState.parse({ mode: 'kernel', criterion: 'metric', metric: 'slab/reuse', threshold: 0.02, backend: 'tcg', repeat: 5, dir: '/b/bisect-1', workDir: '/w', install: true, runArgs: [] });
    // The user's flags after --: theirs stay unless the bisection decides (backend, A/A control, directories).
    const base = optionsFromArgv(['--tree', '/src/linux', '--variants', 'patched', '--append', 'x=1', '--aa-control', 'all', '--backend', 'uml', '--smp', '4', '--no-install']);
    const o = stepOptions(st, base, { runId: 'step-01', ref: 'abc123' });
    expect(o).toMatchObject({
      source: { kind: 'tree', path: '/src/linux', ref: 'abc123' },
      sides: [{ name: 'patched', variant: 'patched', cmdline: [] }],
      modules: ['qk_bench'],
      extraCmdline: ['x=1', 'qk_bench.only=slab/reuse'],
      boots: 5,
      backends: ['tcg'],
      aaControl: 'none',
      smp: 4,
      outputDir: '/b/bisect-1/steps',
      runId: 'step-01',
      workDir: '/w',
      allowInstall: false,
    });
    // What the child run.mjs gets, read back by its own parser, is the step's run.
    expect(optionsFromArgv(runArgv(o))).toEqual({ ...o, argv: runArgv(o) });
    // Series mode: the prefix's series, on the tree that carries it.
    const series = stepOptions({ ...st, mode: 'series', criterion: 'build' }, optionsFromArgv(['--source', 'debian:7.3']), { runId: 'prefix-0', seriesDir: '/b/prefix-0', variant: 'baseline' });
    expect(series).toMatchObject({ source: { kind: 'debian', release: '7.3' }, seriesDir: '/b/prefix-0', sides: [{ name: 'baseline', variant: 'baseline', cmdline: [] }], stopAfter: 'build', allowInstall: true });
    expect(() => stepOptions(st, optionsFromArgv([]), { runId: 'x', ref: 'abc123' })).toThrow(/needs a --tree source/);
  });

  it('judges a figure against the good end: icount by threshold, noisy backends by a permutation test', () => {
    expect(judgeMetric([136.4], [136.38], { backend: 'icount', threshold: 0.02 }).verdict).toBe('good');
    const slow = judgeMetric([180.1], [136.38], { backend: 'icount', threshold: 0.02 });
    expect(slow.verdict).toBe('bad');
    expect(slow.ratio).toBeCloseTo(180.1 / 136.38, 6);
    // Five boots a side, clearly apart: bad; overlapping: the ratio decides good; past the threshold but not significant: skip.
    const rng = (() => {
      let s = 1;
      return () => ((s = (s * 16807) % 2147483647) / 2147483647);
    })();
    expect(judgeMetric([12, 12.4, 12.2, 12.1, 12.3], [10, 10.2, 10.1, 9.9, 10.05], { backend: 'uml', threshold: 0.05, rng }).verdict).toBe('bad');
    expect(judgeMetric([10.1, 10.2, 9.9, 10, 10.1], [10, 10.2, 10.1, 9.9, 10.05], { backend: 'uml', threshold: 0.05, rng }).verdict).toBe('good');
    expect(judgeMetric([9, 14, 8, 15, 12], [10, 10.2, 9, 11, 10.05], { backend: 'uml', threshold: 0.05, rng }).verdict).toBe('skip');
    expect(judgeMetric([], [1], { backend: 'icount', threshold: 0.02 }).verdict).toBe('skip');
  });

  it('reads git bisect run’s answer, with and without skipped commits', () => {
    const sha = 'a'.repeat(40);
    expect(parseBisectOutput(`running ...\n${sha} is the first bad commit\ncommit ${sha}\n`).first).toBe(sha);
    const b = 'b'.repeat(40);
    const r = parseBisectOutput(`There are only 'skip'ped commits left to test.\nThe first bad commit could be any of:\n${sha}\n${b}\nWe cannot bisect more!\n`);
    expect(r.first).toBeUndefined();
    expect(r.candidates).toEqual([sha, b]);
  });

  it('cuts the series’ config and KUnit modules to what a prefix adds', async () => {
    const s = await readSeries(join(REPO_ROOT, 'kernel-patches'));
    const patches = await Promise.all(s.patches.map((p) => readFile(p.path, 'utf8')));
    const config = await readFile(join(s.dir, 'kernel.config'), 'utf8');
    const kunit = await readFile(join(s.dir, 'kunit-modules'), 'utf8');
    const one = prefixFiles({ patches, k: 1, config: `${config}CONFIG_SLUB=y\n`, kunit });
    expect(one.config).toContain('CONFIG_ALF_QUEUE_KUNIT_TEST=m');
    expect(one.config).not.toContain('CONFIG_QMEMPOOL=y');
    expect(one.config).not.toContain('CONFIG_SKB_QMEMPOOL');
    expect(one.config).toContain('CONFIG_SLUB=y'); // no patch introduces it: a base symbol stays
    expect(one.kunit.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual(['alf_queue_kunit']);
    const two = prefixFiles({ patches, k: 2, config, kunit });
    expect(two.config).toContain('CONFIG_QMEMPOOL=y');
    expect(two.config).not.toContain('CONFIG_SKB_QMEMPOOL=y');
    expect(two.kunit.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual(['alf_queue_kunit', 'qmempool_kunit']);
    const all = prefixFiles({ patches, k: patches.length, config, kunit });
    expect(all).toEqual({ config, kunit });
  });

  it('has --help and rejects a bad criterion', () => {
    const cmd = buildBisectCommand();
    expect(cmd.helpInformation()).toContain('kernel');
    expect(() => cmd.parse(['kernel', '--tree', 't', '--good', 'a', '--bad', 'b', '--criterion', 'speed'], { from: 'user' })).toThrow(/speed/);
  });
});

describe('the evidence a bisection quotes from a failed step', () => {
  // A UBSAN report, which the old hand-written regex (panic, Oops, BUG, WARNING) passed over for the end of the log.
  const log = [
    '[    1.0] Linux version 6.12.0',
    '[    1.1] qk-init: loading qk_bench',
    '[    1.2] ------------[ cut here ]------------',
    '[    1.3] UBSAN: array-index-out-of-bounds in mm/qmempool.c:120:9',
    '[    1.4] index 17 is out of range for type \'void *[16]\'',
    ...Array.from({ length: 40 }, (_, i) => `[    2.${i}] later line ${i}`),
  ].join('\n');

  it('starts at the classifier\'s first finding, with three lines before it', () => {
    const ev = consoleEvidence(log, { findings: [{ kind: 'ubsan', line: 4, text: 'UBSAN: array-index-out-of-bounds in mm/qmempool.c:120:9' }] });
    expect(ev[0]).toBe('[    1.0] Linux version 6.12.0');
    expect(ev[3]).toMatch(/UBSAN: array-index-out-of-bounds/);
    expect(ev).toHaveLength(18);
  });

  it('without a finding, starts at the first failed KTAP case, else quotes the end of the log', () => {
    const ktap = ['[ 1.0] KTAP version 1', '[ 1.1]     ok 1 a', '[ 1.2]     not ok 2 qmp_test_stress', '[ 1.3] # end'].join('\n');
    expect(consoleEvidence(ktap, { findings: [] })[2]).toBe('[ 1.2]     not ok 2 qmp_test_stress');
    expect(consoleEvidence(log, { findings: [] }).at(-1)).toBe('[    2.39] later line 39');
    // Lines with the caller's id after the time (CONFIG_PRINTK_CALLER), as the run's KTAP parser reads them.
    const caller = ['[    1.0][    T1] KTAP version 1', '[    1.1][    T1]     ok 1 a', '[    1.2][    T1]     not ok 2 qmp_test_stress', '[    1.3][    T1] # end', ...Array.from({ length: 20 }, (_, i) => `[    2.${i}][    T1] later ${i}`)].join('\n');
    expect(consoleEvidence(caller, { findings: [] })[2]).toBe('[    1.2][    T1]     not ok 2 qmp_test_stress');
  });
});

describe('the record of a bisection\'s steps', () => {
  const dir = useTempDir('qk-steps-');
  const step = { role: 'good end', commit: 'a'.repeat(40), runId: 'good', runDir: '/b/steps/good', class: 'ok', verdict: 'good', reason: 'ok', wallMs: 1200 };

  it('reads each step through its schema; a corrupt line is an error naming it', async () => {
    expect(await readSteps(dir())).toEqual([]);
    await writeFile(join(dir(), 'steps.jsonl'), `${JSON.stringify(step)}\n`);
    expect(await readSteps(dir())).toEqual([step]);
    // Written by a step's process that was killed half-way, or by another version of the kit.
    await writeFile(join(dir(), 'steps.jsonl'), `${JSON.stringify(step)}\n${JSON.stringify({ ...step, verdict: 'maybe' })}\n`);
    await expect(readSteps(dir())).rejects.toThrow(/steps\.jsonl line 2 is not a bisection step record/);
    await writeFile(join(dir(), 'steps.jsonl'), `${JSON.stringify(step)}\n{"role": "st`);
    await expect(readSteps(dir())).rejects.toThrow(/steps\.jsonl line 2 is corrupt/);
  });
});
