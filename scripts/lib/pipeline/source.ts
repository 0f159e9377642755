/**
 * Kernel source stage: turn the requested source into a pristine base git
 * repository under the work directory, reused across runs. The user's tree
 * is only read (cloned with --shared); all work happens in worktrees.
 */
import { mkdir, readdir, rename, rm, stat, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { QkError } from '../plumbing/errors.ts';
import { z } from 'zod';
import { exists, readJson, sha256, shortHash, writeJsonAtomic } from '../plumbing/fsutil.ts';
import { capture, spawn } from '../plumbing/proc.ts';
import { DEBIAN_SOURCE_TARBALL } from './hostcheck.ts';
import { DebianRegistry, registryDir, type RegistryVersion } from './debian.ts';
import type { Logger } from '../plumbing/log.ts';

/**
 * Where a base comes from. `debian` without a release is the installed
 * linux-source-6.12 tarball (offline); with one (`debian:7.3`) it is
 * linux-source-<release> from the Debian registry, looked up by
 * resolveSource before anything is built (`pkg` is then set).
 */
export type SourceSpec =
  | { readonly kind: 'debian'; readonly release?: string; readonly pkg?: RegistryVersion }
  | { readonly kind: 'tarball'; readonly path: string }
  | { readonly kind: 'tree'; readonly path: string; readonly ref?: string }
  | { readonly kind: 'git'; readonly url: string; readonly ref: string };

export interface SourceResult {
  readonly key: string;
  /** A git repository whose objects hold the base commit. */
  readonly repo: string;
  readonly baseCommit: string;
  /** "6.12.117" */
  readonly version: string;
  readonly description: string;
  readonly cached: boolean;
  /** A registry package the tree came from: name, version, suite and the .deb's sha256. */
  readonly package?: { readonly name: string; readonly version: string; readonly suite: string; readonly sha256: string };
}

const DEBIAN_RELEASE_RE = /^\d+\.\d+$/;

/**
 * Parse a base's spelling: `debian` (the installed linux-source-6.12) or
 * `debian:X.Y` (linux-source-X.Y from the Debian registry).
 */
export function parseSourceSpec(text: string, flag = '--source'): SourceSpec {
  const m = /^debian(?::(.*))?$/.exec(text.trim());
  if (!m) throw new QkError('usage-error', `${flag} '${text}': expected debian or debian:X.Y (e.g. debian:7.3)`, { hint: 'a git checkout, a tarball or a git URL: --tree, --tarball or --git' });
  if (m[1] === undefined) return { kind: 'debian' };
  if (!DEBIAN_RELEASE_RE.test(m[1])) throw new QkError('usage-error', `${flag} '${text}': '${m[1]}' is not a kernel release such as 7.3`);
  return { kind: 'debian', release: m[1] };
}

/** How a base is spelled on the command line (the inverse of parseSourceSpec for Debian bases). */
export function sourceLabel(s: SourceSpec): string {
  switch (s.kind) {
    case 'debian':
      return s.release ? `debian:${s.release}` : 'debian';
    case 'tarball':
      return `tarball:${s.path}`;
    case 'tree':
      return `tree:${s.path}${s.ref ? `@${s.ref}` : ''}`;
    case 'git':
      return `git:${s.url}@${s.ref}`;
  }
}

export function debianRegistry(workDir: string, log: Logger, logFile: string): DebianRegistry {
  return new DebianRegistry(registryDir(workDir), { log, logFile });
}

/**
 * The network lookup of a registry base (its newest version), done before
 * anything is created or built; other sources are returned as they are.
 */
export async function resolveSource(spec: SourceSpec, o: { workDir: string; log: Logger; logFile: string }): Promise<SourceSpec> {
  if (spec.kind !== 'debian' || !spec.release || spec.pkg) return spec;
  const reg = debianRegistry(o.workDir, o.log, o.logFile);
  const pkg = await reg.lookup(`linux-source-${spec.release}`, { prefix: 'linux-source-', what: 'kernel sources', flag: (n) => `debian:${n.slice('linux-source-'.length)}` });
  o.log.info(`debian:${spec.release}: ${pkg.pkg} ${pkg.version} (${pkg.suite})`);
  return { ...spec, pkg };
}

/** Fixed identity and dates: the same tarball gives the same base commit everywhere. */
export const GIT_IDENTITY = {
  GIT_AUTHOR_NAME: 'qmempool-kit',
  GIT_AUTHOR_EMAIL: 'qmempool-kit@localhost',
  GIT_COMMITTER_NAME: 'qmempool-kit',
  GIT_COMMITTER_EMAIL: 'qmempool-kit@localhost',
} as const;
const FIXED_DATE = { GIT_AUTHOR_DATE: '2024-11-17T00:00:00Z', GIT_COMMITTER_DATE: '2024-11-17T00:00:00Z' } as const;

export function describeSource(s: SourceSpec): string {
  switch (s.kind) {
    case 'debian':
      if (s.pkg) return `Debian ${s.pkg.pkg} ${s.pkg.version} (${s.pkg.suite})`;
      return s.release ? `Debian linux-source-${s.release}` : `Debian linux-source-6.12 (${DEBIAN_SOURCE_TARBALL})`;
    case 'tarball':
      return `tarball ${s.path}`;
    case 'tree':
      return `git tree ${s.path}${s.ref ? ` at ${s.ref}` : ''}`;
    case 'git':
      return `${s.url} at ${s.ref}`;
  }
}

/** base.json: a base repository's commit, kernel version, what it was made from and, for a registry package, which. */
const BaseState = z.object({
  baseCommit: z.string(),
  version: z.string(),
  identity: z.string(),
  package: z.object({ name: z.string(), version: z.string(), suite: z.string(), sha256: z.string() }).readonly().optional(),
}).readonly();
type BaseState = z.infer<typeof BaseState>;

/** The key of the base repository a source gives (its directory under bases/). */
export async function sourceKey(spec: SourceSpec): Promise<string> {
  return shortHash(sha256(await sourceIdentity(spec)));
}

export async function prepareSource(spec: SourceSpec, o: { workDir: string; log: Logger; logFile: string; signal?: AbortSignal | undefined }): Promise<SourceResult> {
  const identity = await sourceIdentity(spec);
  const key = shortHash(sha256(identity));
  const dir = join(o.workDir, 'bases', key);
  const repo = join(dir, 'repo');
  const stateFile = join(dir, 'base.json');
  const description = describeSource(spec);
  const state = await readJson(stateFile, BaseState, { what: 'base record (base.json)' });
  if (state && state.identity === identity && (await exists(join(repo, '.git')))) {
    let baseCommit = state.baseCommit;
    if (spec.kind === 'tree') {
      // One base per checkout, whatever its commit: a bisection's steps move
      // it (the clone shares the checkout's objects) and reuse its trees.
      baseCommit = await treeCommit(spec);
      if (baseCommit !== state.baseCommit) {
        o.log.info(`source: ${spec.path} moves to ${baseCommit.slice(0, 12)}`);
        await spawn('git', ['update-ref', 'refs/heads/qk-base', baseCommit], { what: 'recording the base commit', cwd: repo, logFile: o.logFile });
        await writeJsonAtomic(stateFile, { baseCommit, version: await kernelVersion(repo, baseCommit), identity } satisfies BaseState);
      }
    }
    // The version is re-read (cheap) so that a fix to its parsing reaches cached bases.
    return { key, repo, baseCommit, version: await kernelVersion(repo, baseCommit), description, cached: true, ...(state.package ? { package: state.package } : {}) };
  }
  // Unfinished or stale: start over.
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const git = (args: string[], what: string, cwd = repo) =>
    spawn('git', args, { what, cwd, logFile: o.logFile, env: { ...GIT_IDENTITY, ...FIXED_DATE }, timeoutMs: 30 * 60_000, signal: o.signal });

  let baseCommit: string;
  let fetched: SourceResult['package'];
  if (spec.kind === 'debian' || spec.kind === 'tarball') {
    let tarball = spec.kind === 'debian' ? DEBIAN_SOURCE_TARBALL : spec.path;
    if (spec.kind === 'debian' && spec.pkg) {
      const p = await debianRegistry(o.workDir, o.log, o.logFile).fetch(spec.pkg);
      tarball = await packageTarball(p.root, spec.pkg.pkg);
      fetched = { name: p.pkg, version: p.version, suite: p.suite, sha256: p.sha256 };
    }
    o.log.info(`source: extracting ${tarball}`);
    const tmp = join(dir, 'extract');
    await mkdir(tmp);
    await spawn('tar', ['-xf', tarball, '-C', tmp], { what: `extracting ${tarball}`, logFile: o.logFile, timeoutMs: 20 * 60_000, failClass: 'usage-error', signal: o.signal });
    const top = await readdir(tmp);
    const root = top.length === 1 && (await stat(join(tmp, top[0]!))).isDirectory() ? join(tmp, top[0]!) : tmp;
    if (!(await exists(join(root, 'Makefile'))) || !(await exists(join(root, 'Kconfig')))) {
      throw new QkError('usage-error', `${tarball} does not contain a kernel source tree (no top-level Makefile and Kconfig)`);
    }
    await rename(root, repo);
    await rm(tmp, { recursive: true, force: true });
    o.log.info('source: recording the pristine tree as a git commit (once per source)');
    await git(['init', '-q', '-b', 'base'], 'git init of the base tree');
    // -f: keep every file of the tarball, even ones a .gitignore names.
    await git(['add', '-A', '-f', '.'], 'git add of the base tree');
    await git(['-c', 'commit.gpgsign=false', 'commit', '-q', '-m', `base: ${description}`], 'git commit of the base tree');
    baseCommit = await capture('git', ['rev-parse', 'HEAD'], { what: 'git rev-parse', cwd: repo });
  } else if (spec.kind === 'tree') {
    const commit = await treeCommit(spec);
    o.log.info(`source: cloning ${spec.path} (${commit.slice(0, 12)}) without touching it`);
    await spawn('git', ['clone', '-q', '--shared', '--no-checkout', spec.path, repo], { what: `git clone --shared ${spec.path}`, logFile: o.logFile, failClass: 'usage-error' });
    await git(['update-ref', 'refs/heads/qk-base', commit], 'recording the base commit');
    baseCommit = commit;
  } else {
    o.log.info(`source: fetching ${spec.url} ${spec.ref}`);
    await spawn('git', ['init', '-q', repo], { what: 'git init', logFile: o.logFile });
    await git(['fetch', '-q', '--depth', '1', spec.url, spec.ref], `git fetch ${spec.url} ${spec.ref}`).catch((e: unknown) => {
      throw new QkError('usage-error', `could not fetch ${spec.ref} from ${spec.url}`, { cause: e, hint: 'check the URL and that the ref (branch or tag) exists', ...(e instanceof QkError && e.details ? { details: e.details } : {}) });
    });
    baseCommit = await capture('git', ['rev-parse', 'FETCH_HEAD^{commit}'], { what: 'git rev-parse FETCH_HEAD', cwd: repo });
    await git(['update-ref', 'refs/heads/qk-base', baseCommit], 'recording the base commit');
  }
  const version = await kernelVersion(repo, baseCommit);
  await writeJsonAtomic(stateFile, { baseCommit, version, identity, ...(fetched ? { package: fetched } : {}) } satisfies BaseState);
  return { key, repo, baseCommit, version, description, cached: false, ...(fetched ? { package: fetched } : {}) };
}

/** The source tarball a linux-source package installs (usr/src/linux-source-X.Y.tar.*). */
async function packageTarball(root: string, pkg: string): Promise<string> {
  const dir = join(root, 'usr', 'src');
  const t = (await readdir(dir).catch(() => [] as string[])).find((f) => f.startsWith(`${pkg}.tar`));
  if (!t) throw new QkError('infra-error', `${pkg} holds no ${dir}/${pkg}.tar.*`, { hint: 'the package layout changed: give the tarball with --tarball instead' });
  return join(dir, t);
}

async function sourceIdentity(spec: SourceSpec): Promise<string> {
  switch (spec.kind) {
    case 'debian':
    case 'tarball': {
      if (spec.kind === 'debian' && spec.release) {
        if (!spec.pkg) throw new QkError('infra-error', `internal: debian:${spec.release} was not looked up (resolveSource) before use`);
        return `debian-pkg:${spec.pkg.pkg}=${spec.pkg.version}`;
      }
      const p = spec.kind === 'debian' ? DEBIAN_SOURCE_TARBALL : spec.path;
      let st;
      try {
        st = await stat(p);
      } catch {
        throw new QkError('usage-error', `kernel source tarball ${p} does not exist`, {
          hint: spec.kind === 'debian' ? 'install it: apt-get install linux-source-6.12' : 'check the --tarball path',
        });
      }
      return `tarball:${await realpath(p)}:${st.size}:${st.mtimeMs}`;
    }
    case 'tree':
      // The commit is not part of it: see prepareSource.
      await treeCommit(spec);
      return `tree:${await realpath(spec.path)}`;
    case 'git':
      return `git:${spec.url}:${spec.ref}`;
  }
}

/**
 * A --tree or --tarball path, checked before anything is created or
 * installed: the checkout must have the commit asked for, the tarball must
 * be a file. (The installed Debian tarball is the host check's to install.)
 */
export async function checkSourcePath(spec: SourceSpec): Promise<void> {
  if (spec.kind === 'tree') await treeCommit(spec);
  if (spec.kind === 'tarball' && !(await stat(spec.path).then((s) => s.isFile(), () => false))) {
    throw new QkError('usage-error', `--tarball ${spec.path} does not exist or is not a file`, { hint: 'give a kernel source tarball (.tar.xz, .tar.gz)' });
  }
}

/** The commit a --tree source asks for (--ref, default HEAD). */
async function treeCommit(spec: { readonly path: string; readonly ref?: string }): Promise<string> {
  if (!(await exists(spec.path))) throw new QkError('usage-error', `--tree ${spec.path} does not exist`);
  return capture('git', ['-C', spec.path, 'rev-parse', '--verify', `${spec.ref ?? 'HEAD'}^{commit}`], {
    what: `reading ${spec.path}`,
    failClass: 'usage-error',
  }).catch(() => {
    throw new QkError('usage-error', `--tree ${spec.path} is not a git checkout with ${spec.ref ?? 'HEAD'}`, {
      hint: 'for a plain directory, make a tarball of it and pass --tarball FILE',
    });
  });
}

/** Read VERSION, PATCHLEVEL, SUBLEVEL and EXTRAVERSION from the top Makefile. */
export function parseKernelVersion(makefile: string): string {
  const get = (k: string) => new RegExp(`^${k}[ \\t]*=[ \\t]*(\\S*)`, 'm').exec(makefile)?.[1] ?? '';
  return `${get('VERSION')}.${get('PATCHLEVEL')}.${get('SUBLEVEL')}${get('EXTRAVERSION')}`;
}

async function kernelVersion(repo: string, commit: string): Promise<string> {
  const mk = await capture('git', ['show', `${commit}:Makefile`], { what: 'reading the kernel Makefile', cwd: repo });
  return parseKernelVersion(mk);
}
