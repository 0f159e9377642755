/**
 * Variant trees: each variant gets its own worktree of the base repository,
 * laid out as <trees>/<variant>/src beside its build directories, so that
 * ccache (CCACHE_BASEDIR=<trees>) shares objects between variants. A tree is
 * reused as it is when it already holds the same base and series, so make
 * only rebuilds what changed. When the series changed, the tree is reset to
 * the base and the new series applied; a file the new series leaves as the
 * old one had it gets its old mtime back (keepTimes), so that editing one
 * patch rebuilds what that patch changed, not every file of the series.
 */
import { lstat, mkdir, rm, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { QkError } from '../plumbing/errors.ts';
import { z } from 'zod';
import { exists, readJson, writeJsonAtomic } from '../plumbing/fsutil.ts';
import { spawn, capture } from '../plumbing/proc.ts';
import { amSummary, failedFilesFromAm, type Series } from './series.ts';
import { seriesFiles } from './seed.ts';
import { GIT_IDENTITY, type SourceResult } from './source.ts';
import type { VariantName } from '../analysis/results.ts';
import type { Logger } from '../plumbing/log.ts';

export interface VariantTree {
  /** baseline, patched, other, or a helper tree such as "bisect". */
  readonly name: VariantName | 'bisect';
  /** <trees>/<variant>: holds src/, build-<arch>/, module-<arch>/ ... */
  readonly root: string;
  readonly src: string;
  readonly head: string;
  /** Tree hash of HEAD: equal trees build equal kernels. */
  readonly treeHash: string;
  readonly applied: readonly string[];
  readonly cached: boolean;
}

const TreeState = z.object({ baseCommit: z.string(), seriesHash: z.string(), head: z.string() }).readonly();
type TreeState = z.infer<typeof TreeState>;

export function treesDir(workDir: string, source: SourceResult): string {
  return join(workDir, 'trees', source.key);
}

/** The series of each kernel tree: baseline carries none, patched `--series`, other `--other-series`. */
export interface TreeSeries {
  readonly patched: Series;
  readonly other?: Series;
}

/** The series a tree carries (its patches, Kconfig fragment, KUnit modules and command line). */
export function seriesOf(variant: VariantName, s: TreeSeries): Series | undefined {
  switch (variant) {
    case 'baseline':
      return undefined;
    case 'patched':
      return s.patched;
    case 'other':
      if (!s.other) throw new QkError('usage-error', "the 'other' kernel tree needs a series: --other-series DIR|REV", { hint: 'e.g. --other-series 9a40062 --side old=other --side new=patched' });
      return s.other;
  }
}

export async function prepareVariant(
  name: VariantName,
  o: { source: SourceResult; series: TreeSeries; workDir: string; log: Logger; logFile: string; signal?: AbortSignal | undefined },
): Promise<VariantTree> {
  const own = seriesOf(name, o.series);
  return prepareTree(name, { ...o, series: own ?? o.series.patched, patches: own?.patches ?? [], seriesHash: own?.hash ?? 'none' });
}

/** A worktree of the base with these patches applied, reused when it already is. */
export async function prepareTree(
  name: VariantTree['name'],
  o: { source: SourceResult; series: Series; patches: Series['patches']; seriesHash: string; workDir: string; log: Logger; logFile: string; signal?: AbortSignal | undefined },
): Promise<VariantTree> {
  const root = join(treesDir(o.workDir, o.source), name);
  const src = join(root, 'src');
  const stateFile = join(root, 'tree.json');
  const { patches, seriesHash } = o;
  await mkdir(root, { recursive: true });
  const git = (args: string[], what: string, cwd = src) =>
    spawn('git', args, { what, cwd, logFile: o.logFile, env: GIT_IDENTITY, timeoutMs: 30 * 60_000, signal: o.signal });

  const state = await readJson(stateFile, TreeState, { what: 'tree record' });
  let restore: { from: string; times: Map<string, FileTimes> } | undefined;
  if (await exists(join(src, '.git'))) {
    const head = await capture('git', ['rev-parse', 'HEAD'], { what: 'git rev-parse', cwd: src }).catch(() => '');
    const dirty = await capture('git', ['status', '--porcelain', '--untracked-files=no'], { what: 'git status', cwd: src }).catch(() => 'unknown');
    if (state && state.baseCommit === o.source.baseCommit && state.seriesHash === seriesHash && state.head === head && dirty === '') {
      return { name, root, src, head, treeHash: await treeOf(src), applied: patches.map((p) => p.name), cached: true };
    }
    // Only a clean tree's mtimes say when its files got the content HEAD has.
    if (head !== '' && dirty === '') restore = { from: head, times: await seriesTimes(src, o.source.baseCommit, head) };
    o.log.info(`${name}: resetting ${src} to the base commit`);
    await spawn('git', ['am', '--abort'], { what: 'git am --abort', cwd: src, allowFailure: true, logFile: o.logFile });
    await git(['checkout', '-q', '-f', '--detach', o.source.baseCommit], 'checking out the base commit');
  } else {
    o.log.info(`${name}: creating worktree ${src}`);
    await spawn('git', ['worktree', 'prune'], { what: 'git worktree prune', cwd: o.source.repo, logFile: o.logFile });
    await spawn('git', ['worktree', 'add', '-f', '--detach', src, o.source.baseCommit], {
      what: `git worktree add for ${name}`,
      cwd: o.source.repo,
      logFile: o.logFile,
      timeoutMs: 30 * 60_000,
      signal: o.signal,
    });
  }

  // The tree is about to change: until the new state is written, it is unknown.
  await rm(stateFile, { force: true });
  // English messages: failedFilesFromAm and amSummary parse them.
  const amOptions = { cwd: src, logFile: o.logFile, env: { LC_ALL: 'C', ...GIT_IDENTITY }, allowFailure: true, timeoutMs: 10 * 60_000, signal: o.signal } as const;
  for (const [i, p] of patches.entries()) {
    const am = await spawn('git', ['am', '--3way', '--keep-non-patch', p.path], { what: `applying ${p.name}`, ...amOptions });
    if (am.exitCode === 0 && !am.timedOut) continue;
    await spawn('git', ['am', '--abort'], { what: 'git am --abort', ...amOptions });
    if (am.timedOut) {
      throw new QkError('infra-error', `applying ${p.name} failed: git am timed out after ${amOptions.timeoutMs / 60_000} min`, { logFile: o.logFile });
    }
    const files = failedFilesFromAm(am.output);
    throw new QkError(
      'apply-failure',
      `patch ${i + 1}/${patches.length} ${p.name} does not apply to ${o.source.version} (${o.source.baseCommit.slice(0, 12)})${files.length ? `: conflicts in ${files.join(', ')}` : ''}`,
      {
        details: amSummary(am.output),
        logFile: o.logFile,
        hint: `rebase the series onto this base: git am --3way the series on ${o.source.description}, resolve, and export it again into ${o.series.dir}`,
      },
    );
  }
  const head = await capture('git', ['rev-parse', 'HEAD'], { what: 'git rev-parse', cwd: src });
  if (restore) {
    const kept = await keepTimes(src, restore.from, head, restore.times);
    if (kept > 0) o.log.info(`${name}: ${kept} file(s) the new series leaves as they were keep their times (make keeps their objects)`);
  }
  await writeJsonAtomic(stateFile, { baseCommit: o.source.baseCommit, seriesHash, head } satisfies TreeState);
  return { name, root, src, head, treeHash: await treeOf(src), applied: patches.map((p) => p.name), cached: false };
}

interface FileTimes {
  readonly atime: Date;
  readonly mtime: Date;
}

/** The times of the regular files the series (base..head) adds or changes, as the tree has them now. */
async function seriesTimes(src: string, base: string, head: string): Promise<Map<string, FileTimes>> {
  const times = new Map<string, FileTimes>();
  for (const f of await seriesFiles(src, base, head)) {
    const st = await lstat(join(src, f)).catch(() => undefined);
    if (st?.isFile()) times.set(f, { atime: st.atime, mtime: st.mtime });
  }
  return times;
}

/**
 * After the tree went from commit `from` to `to` (reset to the base, the
 * new series applied), give each file in `times` whose content `to` has as
 * `from` had it its old times back. make compares those with the objects:
 * an object newer than the file was built from this same content (the
 * tree had it since then), one older is rebuilt as before. Returns how
 * many files kept their times.
 */
async function keepTimes(src: string, from: string, to: string, times: ReadonlyMap<string, FileTimes>): Promise<number> {
  const changed = new Set(await seriesFiles(src, from, to));
  let kept = 0;
  for (const [f, t] of times) {
    if (changed.has(f)) continue;
    const st = await lstat(join(src, f)).catch(() => undefined);
    // Gone in `to` (the new series does not add it): nothing to keep.
    if (!st?.isFile()) continue;
    await utimes(join(src, f), t.atime, t.mtime);
    kept++;
  }
  return kept;
}

async function treeOf(src: string): Promise<string> {
  return capture('git', ['rev-parse', 'HEAD^{tree}'], { what: 'git rev-parse HEAD^{tree}', cwd: src });
}
