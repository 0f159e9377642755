import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { checkoutState, commitCount, commitOf, isAncestor, objectType, subjectOf } from '../../scripts/lib/plumbing/git.ts';
import { useTempDir } from './tempdir.ts';

const ENV = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@localhost', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@localhost' };

describe('the read-only git queries (simple-git)', () => {
  const dir = useTempDir('qk-git-');

  it('answers about commits, ranges, objects and the checkout, and says nothing of what is not there', async () => {
    const repo = dir();
    const git = (...a: string[]) => execa('git', ['-C', repo, ...a], { env: ENV });
    await git('init', '-q');
    await writeFile(join(repo, 'a.c'), 'one\n');
    await git('add', 'a.c');
    await git('commit', '-q', '-m', 'first: add a.c');
    await writeFile(join(repo, 'a.c'), 'two\n');
    await git('commit', '-q', '-am', 'second: change a.c');
    const first = (await git('rev-parse', 'HEAD~1')).stdout;
    const second = (await git('rev-parse', 'HEAD')).stdout;

    expect(await commitOf(repo, 'HEAD')).toBe(second);
    expect(await commitOf(repo, 'HEAD^')).toBe(first);
    expect(await commitOf(repo, 'v9.9')).toBeUndefined();
    expect(await commitOf(repo, '--all')).toBeUndefined();
    expect(await subjectOf(repo, first)).toBe('first: add a.c');
    expect(await isAncestor(repo, first, second)).toBe(true);
    expect(await isAncestor(repo, second, first)).toBe(false);
    expect(await isAncestor(repo, second, second)).toBe(true);
    expect(await commitCount(repo, `${first}..HEAD`)).toBe(1);
    expect(await objectType(repo, 'HEAD:a.c')).toBe('blob');
    expect(await objectType(repo, 'HEAD:kernel-patches')).toBeUndefined();

    expect(await checkoutState(repo)).toEqual({ commit: second, dirty: false });
    await writeFile(join(repo, 'a.c'), 'three\n');
    expect(await checkoutState(repo)).toEqual({ commit: second, dirty: true });
    // Untracked files do not make a checkout dirty.
    await git('checkout', '-q', '--', 'a.c');
    await writeFile(join(repo, 'new.c'), '');
    expect(await checkoutState(repo)).toEqual({ commit: second, dirty: false });
    expect(await checkoutState(join(repo, 'missing'))).toEqual({ commit: undefined, dirty: undefined });
  });
});
