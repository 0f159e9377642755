/**
 * A throwaway kernel history for the bisection tests: a shared clone of a
 * base repository (no checkout: commits are written with git's plumbing,
 * so no 80,000-file work tree is needed) and three commits on top (each
 * step of a bisection costs a build and a boot, so the history is short):
 *
 *   slow   a delay loop in kmem_cache_free(): slab/reuse slows down
 *   brk    an #error in lib/sort.c: the build breaks
 *   fix    the #error removed
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { sourceKey } from '../../scripts/lib/pipeline/source.ts';

export interface History {
  readonly repo: string;
  readonly commits: Readonly<Record<'base' | 'slow' | 'brk' | 'fix', string>>;
}

const ID = { GIT_AUTHOR_NAME: 'qk test', GIT_AUTHOR_EMAIL: 'qk@localhost', GIT_COMMITTER_NAME: 'qk test', GIT_COMMITTER_EMAIL: 'qk@localhost', GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z', GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z' };

/** The delay the "slow" commit puts into kmem_cache_free(): barrier() keeps every iteration. */
export const SLOWDOWN = '\tfor (int qk_i = 0; qk_i < 32; qk_i++)\n\t\tbarrier();\t/* deliberate slowdown: bisection test */\n';

/**
 * The history in <parent>/qk-history. Commits have fixed authors and dates,
 * so making it again (another test file) gives the same commits, and the
 * bisection and nightly tests share one base and its built trees.
 */
export async function makeHistory(baseRepo: string, baseCommit: string, parent: string): Promise<History> {
  const repo = join(parent, 'qk-history');
  if (!existsSync(join(repo, '.git'))) await execa('git', ['clone', '-q', '--shared', '--no-checkout', baseRepo, repo]);
  const index = join(repo, '.git', 'qk-index');
  const git = async (args: string[], input?: string) => (await execa('git', ['-C', repo, ...args], { env: { ...ID, GIT_INDEX_FILE: index }, ...(input !== undefined ? { input } : {}) })).stdout.trim();
  const show = (c: string, path: string) => git(['show', `${c}:${path}`]);
  let head = baseCommit;
  const commit = async (subject: string, path: string, edit: (text: string) => string) => {
    await git(['read-tree', head]);
    const blob = await git(['hash-object', '-w', '--stdin'], `${edit(await show(head, path))}\n`);
    await git(['update-index', '--cacheinfo', `100644,${blob},${path}`]);
    const tree = await git(['write-tree']);
    head = await git(['commit-tree', tree, '-p', head, '-m', subject]);
    return head;
  };
  const slow = await commit('mm/slub: slow down kmem_cache_free (deliberate, bisection test)', 'mm/slub.c', (t) => {
    const at = 'void kmem_cache_free(struct kmem_cache *s, void *x)\n{\n';
    if (!t.includes(at)) throw new Error('kmem_cache_free() not found in mm/slub.c');
    return t.replace(at, `${at}${SLOWDOWN}`);
  });
  const brk = await commit('lib/sort: break the build (deliberate, bisection test)', 'lib/sort.c', (t) => `${t}\n#error "deliberate build break: bisection test"`);
  const fix = await commit('lib/sort: mend the build (bisection test)', 'lib/sort.c', (t) => t.replace('\n#error "deliberate build break: bisection test"', ''));
  await git(['update-ref', 'refs/heads/main', fix]);
  await git(['symbolic-ref', 'HEAD', 'refs/heads/main']);
  return { repo, commits: { base: baseCommit, slow, brk, fix } };
}

/** The history on the work directory's Debian 6.12 base (the README run made it), in <root>/qk-history. */
export async function debianHistory(d: { work: string; root: string }): Promise<History> {
  const base = join(d.work, 'bases', await sourceKey({ kind: 'debian' }));
  const { baseCommit } = JSON.parse(await readFile(join(base, 'base.json'), 'utf8')) as { baseCommit: string };
  return makeHistory(join(base, 'repo'), baseCommit, d.root);
}
