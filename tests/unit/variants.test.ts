/** A variant tree made again for a changed series keeps the times of the files the new series leaves as they were. */
import { execFileSync } from 'node:child_process';
import { mkdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureLogger } from '../../scripts/lib/plumbing/log.ts';
import { prepareTree } from '../../scripts/lib/pipeline/variants.ts';
import { GIT_IDENTITY, type SourceResult } from '../../scripts/lib/pipeline/source.ts';
import type { Series } from '../../scripts/lib/pipeline/series.ts';
import { useTempDir } from './tempdir.ts';

const tmp = useTempDir('qk-variants-');

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: { ...process.env, ...GIT_IDENTITY }, encoding: 'utf8' }).trim();
}

/** A series directory made from commits on top of base: `files` written, committed as one patch. */
async function series(repo: string, base: string, name: string, files: Record<string, string>): Promise<Series> {
  git(repo, 'checkout', '-q', '--detach', base);
  for (const [f, text] of Object.entries(files)) await writeFile(join(repo, f), text);
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', `series ${name}`);
  const dir = join(tmp(), `series-${name}`);
  await mkdir(dir);
  const patch = git(repo, 'format-patch', '-o', dir, `${base}..HEAD`);
  const file = patch.split('\n')[0]!;
  const patchName = file.slice(file.lastIndexOf('/') + 1);
  return { dir, patches: [{ name: patchName, path: file, sha256: name }], hash: name, configFragments: [], kunitModules: [], cmdline: [] };
}

describe('variant trees', () => {
  it('a changed series rewrites what it changed; the files it leaves as they were keep their times', async () => {
    const repo = join(tmp(), 'repo');
    await mkdir(repo);
    git(repo, 'init', '-q', '-b', 'base');
    for (const f of ['same.c', 'edited.c', 'dropped.c']) await writeFile(join(repo, f), `${f} at base\n`);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-q', '-m', 'base');
    const base = git(repo, 'rev-parse', 'HEAD');
    const v1 = await series(repo, base, 'v1', { 'same.c': 'same.c patched\n', 'edited.c': 'edited.c v1\n', 'dropped.c': 'dropped.c v1\n' });
    const v2 = await series(repo, base, 'v2', { 'same.c': 'same.c patched\n', 'edited.c': 'edited.c v2\n', 'added.c': 'added.c v2\n' });
    git(repo, 'checkout', '-q', '--detach', base);

    const source: SourceResult = { key: 'test', repo, baseCommit: base, version: '6.12.0', description: 'test base', cached: true };
    const o = { source, workDir: join(tmp(), 'work'), log: captureLogger(), logFile: join(tmp(), 'tree.log') };
    const first = await prepareTree('patched', { ...o, series: v1, patches: v1.patches, seriesHash: v1.hash });
    // As if built long ago: objects are newer than these.
    const old = new Date('2001-01-01T00:00:00Z');
    for (const f of ['same.c', 'edited.c', 'dropped.c']) await utimes(join(first.src, f), old, old);

    const second = await prepareTree('patched', { ...o, series: v2, patches: v2.patches, seriesHash: v2.hash });
    expect(second.cached).toBe(false);
    const mtime = async (f: string) => (await stat(join(second.src, f))).mtime.getTime();
    expect(await mtime('same.c')).toBe(old.getTime());
    for (const f of ['edited.c', 'dropped.c', 'added.c']) expect(await mtime(f), f).toBeGreaterThan(old.getTime());
    expect(git(second.src, 'status', '--porcelain')).toBe('');

    // A tree with changes of its own: its times say nothing about HEAD's content, so none is kept
    // (same.c still has the old time the second tree kept for it).
    await writeFile(join(second.src, 'edited.c'), 'edited.c changed by hand\n');
    const third = await prepareTree('patched', { ...o, series: v1, patches: v1.patches, seriesHash: v1.hash });
    expect((await stat(join(third.src, 'same.c'))).mtime.getTime()).toBeGreaterThan(old.getTime());
  });
});
