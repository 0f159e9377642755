/**
 * nightly() end to end with its runs faked: the runner writes the run
 * directory (manifest.json, results.json) a run.mjs run of that outcome
 * leaves, so the naming of nights, the expectations file and what the night
 * writes (record, JUnit, KCIDB, exit code) are tested without a kernel.
 */
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureLogger } from '../../scripts/lib/plumbing/log.ts';
import { nextNightName, nightly, type Flags, type NightRunner } from '../../scripts/lib/commands/nightlycmd.ts';
import { Night } from '../../scripts/lib/ci/night.ts';
import { QkError } from '../../scripts/lib/plumbing/errors.ts';
import type { RunOptions } from '../../scripts/lib/pipeline/options.ts';
import { useTempDir } from './tempdir.ts';

const SERIES = join(import.meta.dirname, '..', '..', 'kernel-patches', 'for-6.12');
const PATCHES = ['0001-lib-alf_queue-add-an-array-based-queue-of-pointers-w.patch'];

/** A runner that leaves a run directory: both trees built and booted, or the series not applying to the patched tree. */
function fakeRuns(outcome: () => 'ok' | 'apply-failure'): NightRunner & { ids: string[] } {
  const ids: string[] = [];
  const runner: NightRunner = async (opts) => {
    ids.push(opts.runId);
    const runDir = join(opts.outputDir, opts.runId);
    const variants = opts.sides.map((s) => s.variant);
    const failed = outcome() === 'apply-failure' && variants.includes('patched');
    await mkdir(runDir);
    const stages = failed ? [] : variants.flatMap((v) => [{ stage: 'build', variant: v, status: 'ok', wallMs: 1000, cached: false }]);
    // A manifest as run.mjs writes it (manifest.json is read through its schema).
    await writeFile(join(runDir, 'manifest.json'), JSON.stringify({
      schemaVersion: 2,
      runId: opts.runId,
      state: 'complete',
      class: failed ? 'apply-failure' : 'ok',
      exitCode: failed ? 1 : 0,
      ...(failed ? { error: 'error (apply-failure): patch 1/1 0001-lib-alf_queue.patch does not apply to 6.1.0 (abc): conflicts in MAINTAINERS' } : {}),
      startedAt: '2026-12-06T00:00:00.000Z',
      argv: [...opts.argv],
      reproduce: '',
      tool: { version: '0.1.0' },
      host: { hostname: 'h', os: 'Debian GNU/Linux 12', kernel: '6.1.0', cpus: 2, memoryGiB: 4, kvm: false },
      toolchain: {},
      options: {},
      source: { version: '6.1.0', baseCommit: 'b'.repeat(40), description: 'Debian linux-source-6.1', key: 'k' },
      series: { dir: SERIES, hash: 'h', patches: PATCHES },
      sides: variants.map((v) => ({ name: v, variant: v, cmdline: [] })),
      variants: failed ? {} : Object.fromEntries(variants.map((v) => [v, { head: 'h', treeHash: 't', patches: [], builds: {} }])),
      stages,
      notRun: [],
      boots: [],
    }));
    if (!failed) {
      const boot = (side: string) => ({ side, variant: side, backend: 'uml', flavor: 'normal', round: 0, position: 0, arch: 'um', seq: 0, purpose: 'bench', class: 'ok', reason: 'the guest finished and reported success', findings: [], reachedUserspace: true, guestStatus: 0, wallMs: 3000, consoleLog: 'logs/c.log', cmdline: '', reproduce: '', attempts: [], kunit: { pass: 0, fail: 0, skip: 0, crashed: 0 } });
      await writeFile(join(runDir, 'results.json'), JSON.stringify({ schemaVersion: 2, runId: opts.runId, class: 'ok', sides: [], boots: variants.map(boot), tests: [], metrics: [], notRun: [] }));
    }
  };
  return Object.assign(runner, { ids });
}

describe('nightly runs', () => {
  const tmp = useTempDir('qk-nightly-');
  const flags = (o: Partial<Flags & { extra: string[] }> = {}): Flags & { extra: string[] } => ({
    base: 'debian-6.12', source: 'debian:6.12', history: join(tmp(), 'history'), output: join(tmp(), 'runs'), backend: 'uml', variants: 'baseline,patched',
    threshold: '2', confirm: true, workDir: join(tmp(), 'work'), install: false, origin: 'qmempool_kit', expected: join(tmp(), 'none.json'), extra: [], ...o,
  });
  const record = async (f: Flags, night: string) => Night.parse(JSON.parse(await readFile(join(f.history, f.base, `${night}.json`), 'utf8')));

  it('records two nights of one base on one UTC date: the second is <date>.2, compared with the first', async () => {
    await writeFile(join(tmp(), 'none.json'), JSON.stringify({ version: 1, bases: {} }));
    const runs = fakeRuns(() => 'ok');
    const f = flags();
    const today = new Date().toISOString().slice(0, 10);
    expect(await nightly(f, captureLogger(), new AbortController().signal, runs)).toBe(0);
    expect(await nightly(f, captureLogger(), new AbortController().signal, runs)).toBe(0);
    expect(runs.ids).toEqual([`nightly-debian-6.12-${today}`, `nightly-debian-6.12-${today}.2`]);
    expect((await readdir(join(f.history, f.base))).filter((n) => n.endsWith('.json')).sort()).toEqual([`${today}.2.json`, `${today}.json`]);
    const second = await record(f, `${today}.2`);
    expect(second).toMatchObject({ night: `${today}.2`, result: 'ok', exitCode: 0, backends: ['uml'] });
    const kcidb = JSON.parse(await readFile(join(f.history, f.base, `${today}.2`, 'kcidb.json'), 'utf8'));
    expect(kcidb.checkouts[0].id).toBe(`qmempool_kit:debian-6.12-uml-${today}.2`);
    // An explicit name that is taken is still refused, with the way out.
    await expect(nightly({ ...f, night: today }, captureLogger(), new AbortController().signal, runs)).rejects.toThrow(/already recorded[\s\S]*/);
  });

  it("gives each run the night's options, the run.mjs flags after -- winning; a bad one stops the night before any run", async () => {
    await writeFile(join(tmp(), 'none.json'), JSON.stringify({ version: 1, bases: {} }));
    const runs = fakeRuns(() => 'ok');
    const seen: RunOptions[] = [];
    const spy: NightRunner = async (opts, o) => {
      seen.push(opts);
      await runs(opts, o);
    };
    const f = flags({ night: 'x1', extra: ['--aa-control', 'cheap', '--bench', 'full', '--append', 'a=1'] });
    expect(await nightly(f, captureLogger(), new AbortController().signal, spy)).toBe(0);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      source: { kind: 'debian', release: '6.12' },
      sides: [{ name: 'baseline', variant: 'baseline', cmdline: [] }, { name: 'patched', variant: 'patched', cmdline: [] }],
      backends: ['uml'],
      boots: 8,
      aaControl: 'cheap',
      benchSet: 'full',
      extraCmdline: ['a=1'],
      outputDir: f.output,
      workDir: f.workDir,
      allowInstall: false,
      runId: 'nightly-debian-6.12-x1',
    });
    await expect(nightly(flags({ night: 'x2', extra: ['--bogus'] }), captureLogger(), new AbortController().signal, spy)).rejects.toThrow(/--bogus/);
    expect(seen).toHaveLength(1);
  });

  it('takes the next attempt when a failed attempt left only its run directory', async () => {
    const runs = join(tmp(), 'runs');
    await mkdir(join(runs, 'nightly-debian-6.1-2026-12-02'), { recursive: true });
    expect(await nextNightName('2026-12-02', join(tmp(), 'h'), runs, 'debian-6.1')).toBe('2026-12-02.2');
    expect(await nextNightName('2026-12-02', join(tmp(), 'h'), runs, 'debian-6.12')).toBe('2026-12-02');
  });

  it('reports a declared failure as expected (exit 0, a skip in JUnit), and its end as news (exit 1)', async () => {
    const expected = join(tmp(), 'expected.json');
    await writeFile(expected, JSON.stringify({ version: 1, bases: { 'debian-6.1': [{ tree: 'patched', step: 'apply', why: 'not ported to 6.1' }] } }));
    let outcome: 'ok' | 'apply-failure' = 'apply-failure';
    const runs = fakeRuns(() => outcome);
    const f = flags({ base: 'debian-6.1', source: 'debian:6.1', expected });
    const log = captureLogger();
    expect(await nightly({ ...f, night: 'n1' }, log, new AbortController().signal, runs)).toBe(0);
    // The patched tree failed: the baseline ran on its own, as on any night.
    expect(runs.ids).toEqual(['nightly-debian-6.1-n1', 'nightly-debian-6.1-n1-baseline']);
    const n1 = await record(f, 'n1');
    expect(n1.result).toBe('ok');
    expect(n1.findings).toEqual([{ kind: 'expected', key: 'patched.apply', message: expect.stringMatching(/^patched apply fails on debian-6\.1 as expected \(not ported to 6\.1\): patch 1\/1 .* conflicts in MAINTAINERS/) }]);
    expect(log.lines.join('\n')).toMatch(/expected: patched apply fails on debian-6\.1 as expected/);
    const junit = await readFile(join(f.history, f.base, 'n1', 'junit.xml'), 'utf8');
    expect(junit).toMatch(/name="patched\.apply">\n\s+<skipped message="expected failure: /);
    expect(junit).not.toContain('<failure');
    // The same failure again: still expected, still green.
    expect(await nightly({ ...f, night: 'n2' }, captureLogger(), new AbortController().signal, runs)).toBe(0);
    // The series applies: news, and the night says so until the expectation is updated.
    outcome = 'ok';
    expect(await nightly({ ...f, night: 'n3' }, captureLogger(), new AbortController().signal, runs)).toBe(1);
    expect((await record(f, 'n3')).findings.map((x) => [x.kind, x.key])).toEqual([['expectation-changed', 'patched.apply']]);
  });

  it('fails the night on an undeclared failure, and refuses a broken expectations file', async () => {
    const runs = fakeRuns(() => 'apply-failure');
    await writeFile(join(tmp(), 'none.json'), JSON.stringify({ version: 1, bases: {} }));
    expect(await nightly(flags({ base: 'debian-6.1', source: 'debian:6.1', night: 'n1' }), captureLogger(), new AbortController().signal, runs)).toBe(1);
    const bad = join(tmp(), 'bad.json');
    await writeFile(bad, JSON.stringify({ version: 1, bases: { 'debian-6.1': [{ tree: 'patched', step: 'compile', why: 'x' }] } }));
    const err = await nightly(flags({ night: 'n2', expected: bad }), captureLogger(), new AbortController().signal, runs).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QkError);
    expect((err as QkError).exitCode).toBe(2);
    expect((err as QkError).message).toMatch(/bad\.json is not an expectations file: bases\.debian-6\.1\.0\.step/);
    await expect(nightly(flags({ night: 'n3', expected: join(tmp(), 'missing.json') }), captureLogger(), new AbortController().signal, runs)).rejects.toThrow(/cannot read the expectations file/);
  });

  it('the repository declares debian-6.1 not ported, and nothing else', async () => {
    const { DEFAULT_EXPECTED, readExpectations } = await import('../../scripts/lib/ci/expected.ts');
    expect((await readExpectations(DEFAULT_EXPECTED, 'debian-6.1', true)).map((e) => `${e.tree}.${e.step}`)).toEqual(['patched.apply']);
    expect(await readExpectations(DEFAULT_EXPECTED, 'debian-7.3', true)).toEqual([]);
    expect(await readExpectations(DEFAULT_EXPECTED, 'debian-6.12', true)).toEqual([]);
  });
});
