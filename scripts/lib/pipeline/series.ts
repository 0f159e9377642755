/**
 * The patch series: kernel-patches/series lists the patches in order (one
 * file name a line, '#' comments), git format-patch style. Without a series
 * file, every NNNN-*.patch but the 0000 cover letter is taken in name order.
 */
import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { compareVersions } from './kconfig.ts';
import { commitOf, objectType } from '../plumbing/git.ts';
import { QkError } from '../plumbing/errors.ts';
import { exists, sha256 } from '../plumbing/fsutil.ts';
import { capture, spawn } from '../plumbing/proc.ts';

export interface Series {
  readonly dir: string;
  readonly patches: readonly { readonly name: string; readonly path: string; readonly sha256: string }[];
  /** Hash over names and contents; the empty series has a fixed hash. */
  readonly hash: string;
  /** The series' own Kconfig fragment (`kernel.config`), for the tree that carries the series (patched, or other). */
  readonly configFragments: readonly string[];
  /** In-tree KUnit modules the series adds (`kunit-modules`, one name a line). */
  readonly kunitModules: readonly string[];
  /** Kernel command-line arguments for boots of the tree that carries the series (`cmdline`), e.g. a runtime switch. */
  readonly cmdline: readonly string[];
  /** The release this version of the series is for (its `base` file), when the directory says. */
  readonly base?: string;
}

/**
 * A series directory may hold one version of the series per base: the top
 * level (the one we would send; its `base` file names the release, e.g.
 * 7.3) and `for-X.Y/` subdirectories for older bases, each a complete
 * series (patches, `series`, `kernel.config`, `kunit-modules`, `cmdline`).
 * A kernel takes the version for the smallest release at or above its
 * own (7.2 takes 7.3's, 6.1 takes 6.12's), else the newest.
 */
export async function seriesVersions(dir: string): Promise<{ dir: string; base: string | undefined }[]> {
  const abs = resolve(dir);
  const top = (await tryRead(join(abs, 'base')))?.trim();
  const subs = (await readdir(abs, { withFileTypes: true }).catch(() => []))
    .filter((d) => d.isDirectory() && /^for-\d+\.\d+$/.test(d.name))
    .map((d) => ({ dir: join(abs, d.name), base: d.name.slice('for-'.length) }));
  return [{ dir: abs, base: top || undefined }, ...subs];
}

export function pickSeriesVersion<T extends { base: string | undefined }>(versions: readonly T[], kernelVersion: string): T {
  // The top level without a base file counts as the newest.
  const rel = (v: T) => v.base ?? '999.0';
  const sorted = [...versions].sort((a, b) => compareVersions(rel(a), rel(b)));
  const release = kernelVersion.split('.').slice(0, 2).join('.');
  return sorted.find((v) => compareVersions(rel(v), release) >= 0) ?? sorted[sorted.length - 1]!;
}

/** The version of the series in `dir` for a kernel of `kernelVersion`. */
export async function readSeriesFor(dir: string, kernelVersion: string): Promise<Series> {
  if (!(await exists(resolve(dir)))) return readSeries(dir);
  return readSeries(pickSeriesVersion(await seriesVersions(dir), kernelVersion).dir);
}

async function tryRead(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(() => undefined);
}

export function parseSeriesFile(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l.length > 0)
    .map((l) => l.split(/\s+/)[0]!);
}

/** Whitespace-separated words, '#' comments. */
export function parseArgsFile(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter(Boolean)
    .flatMap((l) => l.split(/\s+/));
}

/** A patch as git format-patch names it: `0001-subject.patch` (0000 is the cover letter). */
const PATCH_NAME_RE = /^\d{4}-.*\.patch$/;

/**
 * A series a tree is to carry must have a patch: an empty one builds the
 * same kernel as baseline, and the run would compare baseline with itself
 * without saying so. (An empty `series` file is the one way to ask for no
 * patch: bisect.mjs series does for its base step, with baseline alone.)
 */
export function requirePatches(s: Series, flag: string): void {
  if (s.patches.length > 0) return;
  throw new QkError('usage-error', `${flag} ${s.dir} has no patches`, { hint: 'give a directory of git format-patch files (NNNN-*.patch, or listed in a series file)' });
}

export async function readSeries(dir: string): Promise<Series> {
  const abs = resolve(dir);
  if (!(await exists(abs))) throw new QkError('usage-error', `series directory ${abs} does not exist`, { hint: 'pass --series DIR with a directory of git format-patch files' });
  let names: string[];
  const seriesFile = join(abs, 'series');
  if (await exists(seriesFile)) {
    names = parseSeriesFile(await readFile(seriesFile, 'utf8'));
  } else {
    const files = await readdir(abs);
    // Without a series file the order is in the names: a patch named otherwise would be left out without a word.
    const misnamed = files.filter((n) => /\.(patch|diff|mbox|eml)$/.test(n) && !PATCH_NAME_RE.test(n));
    if (misnamed.length > 0) {
      throw new QkError('usage-error', `series directory ${abs}: ${misnamed.join(', ')} not named NNNN-*.patch`, { hint: `name the patches as git format-patch does (0001-subject.patch, ...), or list them in order in ${seriesFile}` });
    }
    names = files.filter((n) => PATCH_NAME_RE.test(n) && !n.startsWith('0000-')).sort();
  }
  const patches = [];
  for (const name of names) {
    const path = join(abs, name);
    if (!(await exists(path))) {
      throw new QkError('usage-error', `${seriesFile} lists ${name}, which does not exist in ${abs}`);
    }
    patches.push({ name, path, sha256: sha256(await readFile(path)) });
  }
  const fragment = join(abs, 'kernel.config');
  const kunitFile = join(abs, 'kunit-modules');
  const kunitModules = (await exists(kunitFile)) ? parseSeriesFile(await readFile(kunitFile, 'utf8')) : [];
  const base = (await tryRead(join(abs, 'base')))?.trim() || /^for-(\d+\.\d+)$/.exec(basename(abs))?.[1];
  for (const m of kunitModules) if (!/^\w+$/.test(m)) throw new QkError('usage-error', `${kunitFile}: '${m}' is not a module name`);
  return {
    dir: abs,
    patches,
    hash: sha256('series-v1', ...patches.flatMap((p) => [p.name, p.sha256])),
    configFragments: (await exists(fragment)) ? [fragment] : [],
    kunitModules,
    cmdline: (await exists(join(abs, 'cmdline'))) ? parseArgsFile(await readFile(join(abs, 'cmdline'), 'utf8')) : [],
    ...(base ? { base } : {}),
  };
}

/** The series directory inside a revision of this repository. */
export const SERIES_PATH = 'kernel-patches';

/** A series named on the command line, and where it came from. */
export interface LoadedSeries {
  readonly series: Series;
  /** The revision as given and the commit it names, when the series came from git. */
  readonly revision?: { readonly spec: string; readonly commit: string };
}

/**
 * A series given as DIR|REV (`--other-series`): an existing directory is
 * read as it is; anything else must be a revision of the git repository
 * `repo`, whose kernel-patches/ is extracted into `dest` (created) and read
 * from there. Neither: a usage error, with a hint.
 */
export async function loadSeries(spec: string, o: { flag: string; repo: string; dest: string }): Promise<LoadedSeries> {
  const found = await findSeries(spec, o);
  if ('series' in found) return found;
  const { commit } = found;
  await mkdir(o.dest, { recursive: true });
  const tar = join(o.dest, '.series.tar');
  await capture('git', ['archive', '--format=tar', `--output=${tar}`, `${commit}:${SERIES_PATH}`], { what: `extracting ${SERIES_PATH}/ of ${spec}`, cwd: o.repo });
  await spawn('tar', ['-xf', tar, '-C', o.dest], { what: `unpacking ${SERIES_PATH}/ of ${spec}` });
  await rm(tar);
  return { series: await readSeries(o.dest), revision: { spec, commit } };
}

/**
 * Where a DIR|REV series is, checked without writing anything (so before a
 * run creates its directory): a directory's series read, or the commit of a
 * revision that has kernel-patches/.
 */
export async function findSeries(spec: string, o: { flag: string; repo: string }): Promise<{ series: Series } | { commit: string }> {
  if (await stat(resolve(spec)).then((s) => s.isDirectory(), () => false)) return { series: await readSeries(spec) };
  const hint = `give a directory of git format-patch files, or a revision of ${o.repo} that has ${SERIES_PATH}/ (see: git -C ${o.repo} log --oneline -- ${SERIES_PATH})`;
  const commit = await commitOf(o.repo, spec);
  if (!commit) throw new QkError('usage-error', `${o.flag} '${spec}' is neither a directory nor a revision of ${o.repo}`, { hint });
  if ((await objectType(o.repo, `${commit}:${SERIES_PATH}`)) !== 'tree') {
    throw new QkError('usage-error', `${o.flag} '${spec}': revision ${commit.slice(0, 12)} has no ${SERIES_PATH}/ directory`, { hint });
  }
  return { commit };
}

/**
 * Pull the useful part out of `git am` output: which files failed.
 * Recognizes "error: patch failed: FILE:LINE", "error: FILE: does not exist
 * in index", "CONFLICT (...): Merge conflict in FILE", and --3way's
 * "error: sha1 information is lacking or useless (FILE)".
 */
export function failedFilesFromAm(output: string): string[] {
  const files = new Set<string>();
  for (const line of output.split('\n')) {
    let m = /^error: patch failed: (.+):\d+$/.exec(line.trim());
    if (m) files.add(m[1]!);
    m = /^error: (.+): (does not exist in index|already exists in (index|working directory)|patch does not apply)$/.exec(line.trim());
    if (m) files.add(m[1]!);
    m = /^CONFLICT \([^)]*\): Merge conflict in (.+)$/.exec(line.trim());
    if (m) files.add(m[1]!);
    m = /^error: sha1 information is lacking or useless \((.+)\)\.?$/.exec(line.trim());
    if (m) files.add(m[1]!);
  }
  return [...files];
}

/** The lines of `git am` output worth showing: what failed, not how to continue. */
export function amSummary(output: string): string {
  return output
    .split('\n')
    .filter((l) => /^(Applying:|Patch failed at|error:|CONFLICT|Falling back|Auto-merging)/.test(l.trim()))
    .join('\n');
}
