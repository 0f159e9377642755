/**
 * The `other` tree: the series at another version (--other-series DIR|REV)
 * as a side of its own. Sides, usage errors, a series taken from a git
 * revision, the boot command line of an `other` side, and what results.json
 * and report.md say about it. Nothing here builds or boots a kernel.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildCommand, optionsFromFlags } from '../../scripts/lib/commands/cli.ts';
import { QkError } from '../../scripts/lib/plumbing/errors.ts';
import { REPO_ROOT } from '../../scripts/lib/plumbing/paths.ts';
import { bootPlan, parseSide, planRun } from '../../scripts/lib/pipeline/plan.ts';
import { bootRequest, bootSettings } from '../../scripts/lib/pipeline/pipeline.ts';
import { treeSeries } from '../../scripts/lib/pipeline/recorder.ts';
import { Results } from '../../scripts/lib/analysis/results.ts';
import { renderReport } from '../../scripts/lib/analysis/report.ts';
import { loadSeries, parseSeriesFile, type Series } from '../../scripts/lib/pipeline/series.ts';
import type { ImageResult } from '../../scripts/lib/pipeline/image.ts';
import { useTempDir } from './tempdir.ts';

function parse(argv: string[]) {
  const cmd = buildCommand();
  cmd.parse(argv, { from: 'user' });
  return optionsFromFlags(cmd.opts(), argv);
}

function usageError(f: () => unknown): QkError {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(QkError);
  expect((err as QkError).runClass).toBe('usage-error');
  return err as QkError;
}

describe('sides on the other tree', () => {
  it('reads --side NAME=other', () => {
    expect(parseSide('old=other')).toEqual({ name: 'old', variant: 'other', cmdline: [] });
    expect(parseSide('old-off=other skb_qmempool=off')).toEqual({ name: 'old-off', variant: 'other', cmdline: ['skb_qmempool=off'] });
  });

  it('takes the old-vs-new command line, and compares all three trees when no side is named', () => {
    const o = parse(['--backend', 'tcg', '--bench', 'full', '--other-series', '9a40062', '--side', 'old=other', '--side', 'new=patched']);
    expect(o.otherSeries).toBe('9a40062');
    expect(o.sides.map((s) => `${s.name}=${s.variant}`)).toEqual(['old=other', 'new=patched']);
    expect(parse(['--other-series', '9a40062']).sides.map((s) => s.variant)).toEqual(['baseline', 'patched', 'other']);
    expect(parse([]).sides.map((s) => s.variant)).toEqual(['baseline', 'patched']);
    expect(parse([]).otherSeries).toBeUndefined();
  });

  it('refuses a side on other without --other-series, and --other-series without a side on other', () => {
    expect(usageError(() => parse(['--side', 'old=other', '--side', 'new=patched'])).hint).toMatch(/--other-series DIR\|REV/);
    expect(usageError(() => parse(['--variants', 'baseline,other'])).message).toMatch(/side other boots the 'other' kernel tree.*--other-series/);
    expect(usageError(() => parse(['--other-series', 'HEAD~1', '--side', 'new=patched'])).message).toMatch(/--other-series HEAD~1 is given, but no side boots the 'other' kernel tree/);
    // The plan checks it too (series.mjs and tests make runs without the command line).
    const base = { backends: ['tcg'] as const, flavors: ['normal'] as const, workDir: '/w', outputDir: '/o', runId: 'r' };
    expect(usageError(() => planRun({ ...base, sides: [parseSide('old=other')] })).message).toMatch(/--other-series/);
    expect(usageError(() => planRun({ ...base, sides: [parseSide('new=patched')], otherSeries: 'HEAD' })).message).toMatch(/no side boots the 'other'/);
  });

  it('plans a tree, kernels and KUnit boots for other like for patched', () => {
    const sides = [parseSide('new=patched'), parseSide('old=other'), parseSide('base=baseline')];
    const plan = planRun({ sides, otherSeries: 'HEAD', backends: ['tcg', 'uml'], flavors: ['normal'], workDir: '/w', outputDir: '/o' });
    expect(plan.variants).toEqual(['baseline', 'patched', 'other']);
    expect(plan.kernels.map((k) => `${k.variant}/${k.target.arch}`)).toEqual(['baseline/x86_64', 'patched/x86_64', 'other/x86_64', 'baseline/um', 'patched/um', 'other/um']);
    const boots = bootPlan(1, ['tcg'], sides, ['normal'], ['patched', 'other']);
    expect(boots.map((s) => `${s.purpose}:${s.side.name}`)).toEqual(['kunit:new', 'kunit:old', 'bench:new', 'bench:old', 'bench:base']);
  });
});

describe('a series from a git revision (--other-series REV)', () => {
  const tmp = useTempDir('qk-other-');

  it("extracts this repository's kernel-patches/ at HEAD and reads it from there", async () => {
    const dest = tmp();
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const out = join(dest, 'other-series');
    const { series, revision } = await loadSeries('HEAD', { flag: '--other-series', repo: REPO_ROOT, dest: out });
    expect(revision).toEqual({ spec: 'HEAD', commit: head });
    expect(series.dir).toBe(out);
    // The patches the series file lists at HEAD (three today), in that order.
    const listed = parseSeriesFile(execFileSync('git', ['show', 'HEAD:kernel-patches/series'], { cwd: REPO_ROOT, encoding: 'utf8' }));
    expect(series.patches.map((p) => p.name)).toEqual(listed);
    expect(series.patches.length).toBeGreaterThanOrEqual(3);
    expect(series.patches.every((p) => p.path.startsWith(`${out}/`))).toBe(true);
    expect(series.configFragments).toEqual([join(out, 'kernel.config')]);
    expect(series.kunitModules.length).toBeGreaterThan(0);
    expect(series.cmdline).toContain('skb_qmempool=on');
    // Only the series' files (and its versions for other bases): the tar file it came in is gone.
    expect((await readdir(out)).filter((f) => !/\.patch$/.test(f)).sort()).toEqual(['base', 'cmdline', 'for-6.12', 'kernel.config', 'kunit-modules', 'series']);
  });

  it('reads a directory as it is, extracting nothing', async () => {
    const dest = tmp();
    const dir = join(dest, 'mine');
    await mkdir(dir);
    await writeFile(join(dir, 'series'), '0001-a.patch\n');
    await writeFile(join(dir, '0001-a.patch'), 'From: x\n');
    await writeFile(join(dir, 'cmdline'), 'skb_qmempool=off\n');
    const { series, revision } = await loadSeries(dir, { flag: '--other-series', repo: REPO_ROOT, dest: join(dest, 'x') });
    expect(revision).toBeUndefined();
    expect(series).toMatchObject({ dir, patches: [{ name: '0001-a.patch', path: join(dir, '0001-a.patch') }], cmdline: ['skb_qmempool=off'] });
    expect(await readdir(dest)).toEqual(['mine']);
  });

  it('refuses a bad revision, an option and a revision without kernel-patches/, with a hint', async () => {
    const dest = tmp();
    const o = { flag: '--other-series', repo: REPO_ROOT, dest: join(dest, 'x') };
    for (const spec of ['no-such-revision-qk', '--output=/tmp/x']) {
      const err = await loadSeries(spec, o).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(QkError);
      expect((err as QkError).runClass).toBe('usage-error');
      expect((err as Error).message).toContain(`--other-series '${spec}' is neither a directory nor a revision of ${REPO_ROOT}`);
      expect((err as QkError).hint).toMatch(/git -C .* log --oneline -- kernel-patches/);
    }
    // A repository whose commit has no kernel-patches/.
    const repo = join(dest, 'repo');
    const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };
    execFileSync('git', ['init', '-q', repo], { env });
    await writeFile(join(repo, 'README'), 'x\n');
    execFileSync('git', ['add', 'README'], { cwd: repo, env });
    execFileSync('git', ['commit', '-q', '-m', 'x'], { cwd: repo, env });
    const err = await loadSeries('HEAD', { ...o, repo }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(QkError);
    expect((err as Error).message).toMatch(/--other-series 'HEAD': revision [0-9a-f]{12} has no kernel-patches\/ directory/);
  });
});

describe('boots of an other side', () => {
  const series = (cmdline: string[]): Series => ({ dir: '/s', patches: [], hash: 'h', configFragments: [], kunitModules: [], cmdline });
  const trees = { patched: series(['skb_qmempool=on']), other: series(['skb_qmempool=off', 'old.knob=1']) };
  const image: ImageResult = { kind: 'initramfs', path: '/x/initramfs.cpio', init: '/init', moduleDir: '/qk/modules', key: 'k', cached: false };
  const kernel = { kb: { image: '/k/bzImage' }, image, kunit: [] } as unknown as Parameters<typeof bootRequest>[1];
  const cmdlineOf = (name: string) => {
    const opts = parse(['--backend', 'tcg', '--other-series', 'HEAD', '--side', 'old=other x=1', '--side', 'new=patched', '--side', 'base=baseline', '--append', 'user=1']);
    const side = opts.sides.find((s) => s.name === name)!;
    const step = { seq: 0, round: 0, position: 0, flavor: 'normal', backend: 'tcg', side, purpose: 'bench' } as const;
    return bootRequest(step, kernel, trees, 1, { boot: bootSettings(opts), rec: { logs: '/r/logs' }, signal: new AbortController().signal }).extraCmdline;
  };

  it("carry the other series' command line, as patched boots carry the main series'", () => {
    expect(cmdlineOf('old')).toEqual(['skb_qmempool=off', 'old.knob=1', 'x=1', 'user=1']);
    expect(cmdlineOf('new')).toEqual(['skb_qmempool=on', 'user=1']);
    expect(cmdlineOf('base')).toEqual(['user=1']);
  });
});

describe('which series each side used', () => {
  const manifest = {
    series: { dir: '/repo/kernel-patches', hash: 'a'.repeat(64), patches: ['0001-a.patch', '0002-b.patch', '0003-c.patch'] },
    otherSeries: { dir: '/repo/results/r/other-series', hash: 'b'.repeat(64), patches: ['0001-a.patch', '0002-b.patch'], revision: '9a40062', commit: '9a4006232cce40d8a95b2cec98669ab299e368f2' },
  };
  const results = (series: Results['series']) => Results.parse({
    schemaVersion: 2,
    runId: 'r',
    class: 'ok',
    sides: [{ name: 'old', variant: 'other', cmdline: [] }, { name: 'new', variant: 'patched', cmdline: [] }, { name: 'base', variant: 'baseline', cmdline: [] }],
    ...(series ? { series } : {}),
    boots: [],
    tests: [],
    metrics: [],
    notRun: [],
  });

  it('results.json names the series of each tree, and report.md shows it', () => {
    const r = results(treeSeries(manifest));
    expect(r.series).toEqual({
      patched: { hash: 'a'.repeat(64), patches: manifest.series.patches, from: '/repo/kernel-patches' },
      other: { hash: 'b'.repeat(64), patches: manifest.otherSeries.patches, from: 'revision 9a40062 (commit 9a4006232cce)' },
    });
    const md = renderReport(r, { startedAt: 'now', series: manifest.series });
    expect(md).toContain('- other = the series from revision 9a40062 (commit 9a4006232cce): 2 patch(es), hash bbbbbbbbbbbb');
    expect(md).toContain('| old | other | bbbbbbbbbbbb: 2 patch(es) from revision 9a40062 (commit 9a4006232cce) | – |');
    expect(md).toContain('| new | patched | aaaaaaaaaaaa: 3 patch(es) from /repo/kernel-patches | – |');
    expect(md).toContain('| base | baseline | none | – |');
  });

  it('a run without --other-series, or from before, says nothing of it', () => {
    expect(treeSeries({ series: manifest.series })).toEqual({ patched: { hash: 'a'.repeat(64), patches: manifest.series.patches, from: '/repo/kernel-patches' } });
    expect(treeSeries({})).toBeUndefined();
    const md = renderReport(results(undefined), { startedAt: 'now' });
    expect(md).not.toContain('- other =');
    expect(md).toContain('| new | patched | – | – |');
  });
});

describe('one version of the series per base', () => {
  const tmp = useTempDir('qk-series-');

  it('picks the version for the smallest release at or above the kernel, else the newest', async () => {
    const { readSeriesFor, seriesVersions, pickSeriesVersion } = await import('../../scripts/lib/pipeline/series.ts');
    const dir = join(tmp(), 'versions');
    await mkdir(dir);
    const patch = (d: string, name: string) => writeFile(join(d, name), `Subject: ${name}\n`);
    await writeFile(join(dir, 'base'), '7.3\n');
    await patch(dir, '0001-new.patch');
    await mkdir(join(dir, 'for-6.12'));
    await patch(join(dir, 'for-6.12'), '0001-old.patch');
    await writeFile(join(dir, 'for-6.12', 'cmdline'), 'old.knob=1\n');
    const versions = await seriesVersions(dir);
    expect(versions.map((v) => v.base).sort()).toEqual(['6.12', '7.3']);
    const pick = (k: string) => pickSeriesVersion(versions, k).base;
    expect([pick('6.1.158'), pick('6.12.118'), pick('6.18.2'), pick('7.2.13'), pick('7.3.4'), pick('7.4.0')]).toEqual(['6.12', '6.12', '7.3', '7.3', '7.3', '7.3']);
    const old = await readSeriesFor(dir, '6.12.118');
    expect(old.patches.map((p) => p.name)).toEqual(['0001-old.patch']);
    expect(old.cmdline).toEqual(['old.knob=1']);
    expect(old.base).toBe('6.12');
    expect((await readSeriesFor(dir, '7.3.4')).patches.map((p) => p.name)).toEqual(['0001-new.patch']);
    // A directory with one version (no base file, no for-X.Y/) serves every kernel.
    const single = join(tmp(), 'single');
    await mkdir(single);
    await patch(single, '0001-only.patch');
    expect((await readSeriesFor(single, '6.1.1')).dir).toBe(single);
    expect((await readSeriesFor(single, '7.3.4')).dir).toBe(single);
  });
});
