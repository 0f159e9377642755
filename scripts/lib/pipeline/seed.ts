/**
 * Seeding a kernel build directory from another tree's complete build.
 *
 * The patched kernel differs from baseline by the files its series touches,
 * yet built in an empty O= directory it costs minutes even with ccache. So
 * its first build starts from a copy of baseline's build directory of the
 * same base, arch and flavor, and make recompiles what the series changed.
 *
 * Two traps make such a copy silently wrong, and the seed defuses both by
 * construction:
 *
 * - Kbuild writes the source tree's ABSOLUTE path into the build directory:
 *   its Makefile and `source` link, and the `.cmd` files (`savedcmd_` lines,
 *   and `source_`/`deps_` lists wherever the compiler was given absolute
 *   paths: linker scripts, host programs, objtool). Left as they are, make
 *   checks baseline's sources as prerequisites of patched objects. The seed
 *   rewrites them to the patched tree (and baseline's build path to the new
 *   build path), byte for byte otherwise, keeping each file's mtime.
 * - Every worktree is patched before any build starts, so the files the
 *   series changed can be OLDER than the objects copied from baseline, and
 *   make would keep baseline's objects. The seed touches every file the
 *   series adds or changes (git diff between the trees' commits) to a time
 *   later than anything the copy carries.
 *
 * Then the normal config step runs (the series adds Kconfig options) and
 * make builds. The first build of a seeded directory is checked
 * (`checkSeededBuild`): every object of a file the series touched, and every
 * live object whose recorded dependencies name such a file, must be newer
 * than the copy; otherwise the run fails as an infra-error naming them, and
 * keeps failing until the directory is removed (the marker stays unverified).
 */
import { lstat, mkdir, readFile, readdir, readlink, realpath, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { basename, dirname, isAbsolute, join, normalize, relative, resolve } from 'node:path';
import { QkError } from '../plumbing/errors.ts';
import { z } from 'zod';
import { checkJson, exists, readJson, writeJsonAtomic } from '../plumbing/fsutil.ts';
import { capture, spawn } from '../plumbing/proc.ts';

/** The file in a seeded build directory that says where it came from and whether its first build passed the check. */
export const SEED_MARKER = '.qk-seed.json';
/** The build stage's stamp (kbuild.ts reads and writes it): written only after a complete build. */
export const BUILD_STAMP = '.qk-build.json';

/** The content of BUILD_STAMP: the build key of the complete build, and how many make steps it took (for the next progress bar). */
export const BuildStamp = z.object({ key: z.string(), steps: z.number().int().nonnegative() });
export type BuildStamp = z.infer<typeof BuildStamp>;

export const SeedMarker = z.object({
  version: z.literal(1),
  /** Which build was copied: `baseline/x86_64`. */
  label: z.string(),
  /** Its source tree, build directory and build key. */
  fromSrc: z.string(),
  fromDir: z.string(),
  fromKey: z.string(),
  seededAt: z.string(),
  /**
   * The newest mtime the copy carried, in ns since the epoch (a decimal
   * string): an object newer than this was written by make after the seed.
   */
  cutoffNs: z.string().regex(/^\d+$/),
  /** Files the series adds or changes, relative to the source tree: each touched after the copy. */
  touched: z.array(z.string()).readonly(),
  /** Build-directory files whose paths were rewritten to the new trees. */
  rewritten: z.number().int().nonnegative(),
  /** Set once a build of this directory passed the rebuild check. */
  check: z.object({ at: z.string(), rebuilt: z.number(), checked: z.number() }).readonly().optional(),
}).readonly();
export type SeedMarker = z.infer<typeof SeedMarker>;

/** A complete build to copy: its tree's source, its build directory, its build key and image. */
export interface SeedSource {
  readonly label: string;
  readonly src: string;
  readonly buildDir: string;
  readonly key: string;
  readonly image: string;
}

/** Where the copy goes: the new tree's source and its (not yet existing) build directory. */
export interface SeedTarget {
  readonly src: string;
  readonly buildDir: string;
}

/**
 * Why this build directory cannot be seeded from that build, or undefined
 * when it can: the target exists already (then make's own incremental build
 * is right), or the source build is not complete for the key it claims, or
 * the trees are laid out differently (relative paths in the copy would
 * point elsewhere).
 */
export async function seedRefusal(from: SeedSource, to: SeedTarget): Promise<string | undefined> {
  if (await exists(to.buildDir)) return `${to.buildDir} exists already`;
  const stamp = await readJson(join(from.buildDir, BUILD_STAMP), BuildStamp, { what: 'build stamp' });
  if (stamp?.key !== from.key) return `${from.label}'s build stamp ${join(from.buildDir, BUILD_STAMP)} does not say build ${from.key} is complete`;
  if (!(await exists(from.image))) return `${from.label}'s image ${from.image} is missing`;
  if (relative(from.buildDir, from.src) !== relative(to.buildDir, to.src)) {
    return `the build directories sit differently beside their sources (${relative(from.buildDir, from.src)} vs ${relative(to.buildDir, to.src)})`;
  }
  return undefined;
}

/** Files that differ between two commits of one repository (added or changed; deleted files cannot be touched), relative to its top. */
export async function seriesFiles(src: string, fromRev: string, toRev: string): Promise<string[]> {
  const out = await capture('git', ['diff', '--name-only', '--no-renames', '--diff-filter=d', '-z', fromRev, toRev, '--'], {
    what: `listing the files between ${fromRev.slice(0, 12)} and ${toRev.slice(0, 12)}`,
    cwd: src,
  });
  return out.split('\0').filter(Boolean).sort();
}

/** Path prefixes to rewrite in a copy: each as given and as its real path (kbuild records realpath'd trees). */
export async function pathMap(from: SeedSource, to: SeedTarget): Promise<Array<readonly [string, string]>> {
  const realOr = (p: string) => realpath(p).catch(() => p);
  const toBuildReal = join(await realOr(dirname(to.buildDir)), basename(to.buildDir));
  const pairs: Array<readonly [string, string]> = [
    [from.src, to.src],
    [await realOr(from.src), await realOr(to.src)],
    [from.buildDir, to.buildDir],
    [await realOr(from.buildDir), toBuildReal],
  ];
  const seen = new Map<string, string>();
  for (const [a, b] of pairs) if (a !== b && !seen.has(a)) seen.set(normalize(a).replace(/\/$/, ''), normalize(b).replace(/\/$/, ''));
  // Longest first, so that no prefix of another one wins the alternation.
  return [...seen.entries()].sort((x, y) => y[0].length - x[0].length);
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Replace whole path prefixes: `/t/baseline/src` in `/t/baseline/src/mm/slub.c`
 * or `-I/t/baseline/src`, never inside `/t/baseline/src2`.
 */
export function rewritePaths(text: string, map: ReadonlyArray<readonly [string, string]>): string {
  if (map.length === 0 || !map.some(([a]) => text.includes(a))) return text;
  const to = new Map(map);
  const re = new RegExp(`(?:${map.map(([a]) => escapeRe(a)).join('|')})(?![\\w.+@~-])`, 'g');
  return text.replace(re, (m) => to.get(m) ?? m);
}

/** Build-directory files that name the trees: kbuild's .cmd files, dependency files, the generated Makefile. */
function namesTrees(path: string): boolean {
  const b = basename(path);
  return b.endsWith('.cmd') || b.endsWith('.d') || b === 'Makefile';
}

interface Entry {
  readonly path: string;
  readonly kind: 'file' | 'link';
}

/** Every file and symbolic link below dir (directories themselves left out). */
async function walk(dir: string): Promise<Entry[]> {
  const out: Entry[] = [];
  const pending = [dir];
  while (pending.length > 0) {
    const d = pending.pop()!;
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) pending.push(p);
      else if (e.isSymbolicLink()) out.push({ path: p, kind: 'link' });
      else if (e.isFile()) out.push({ path: p, kind: 'file' });
    }
  }
  return out;
}

export interface SeedResult {
  readonly label: string;
  readonly buildDir: string;
  readonly touched: number;
  readonly rewritten: number;
  readonly copiedFiles: number;
}

/**
 * Copy `from`'s build directory to `to.buildDir`, rewrite the tree paths in
 * it, and touch the files the series changed (`touched`, relative to
 * to.src) so that they are newer than everything copied. The copy is made
 * beside the target and renamed into place when complete: an interrupted
 * seed leaves no half-copied build directory behind.
 */
export async function seedBuildDir(from: SeedSource, to: SeedTarget, touched: readonly string[], o: { logFile?: string; signal?: AbortSignal } = {}): Promise<SeedResult> {
  const why = await seedRefusal(from, to);
  if (why) throw new QkError('infra-error', `internal: cannot seed ${to.buildDir} from ${from.label}: ${why}`);
  const tmp = `${to.buildDir}.seeding`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(dirname(tmp), { recursive: true });
  try {
    // Preserves mtimes (make's view of what is up to date) and shares blocks where the filesystem can.
    await spawn('cp', ['-a', '--reflink=auto', from.buildDir, tmp], {
      what: `copying ${from.label}'s build directory ${from.buildDir}`,
      ...(o.logFile ? { logFile: o.logFile } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      timeoutMs: 30 * 60_000,
      failClass: 'infra-error',
    });
    await rm(join(tmp, BUILD_STAMP), { force: true });
    await rm(join(tmp, SEED_MARKER), { force: true });
    const map = await pathMap(from, to);
    const entries = await walk(tmp);
    let newest = 0n;
    let rewritten = 0;
    for (const e of entries) {
      const st = await lstat(e.path, { bigint: true });
      if (st.mtimeNs > newest) newest = st.mtimeNs;
      if (e.kind === 'link') {
        const target = await readlink(e.path);
        const moved = isAbsolute(target) ? rewritePaths(target, map) : target;
        if (moved !== target) {
          await rm(e.path);
          await symlink(moved, e.path);
          rewritten++;
        }
        continue;
      }
      if (!namesTrees(e.path)) continue;
      const text = await readFile(e.path, 'latin1');
      const moved = rewritePaths(text, map);
      if (moved === text) continue;
      await writeFile(e.path, moved, 'latin1');
      // Keep the copy's times: only the text moved.
      await utimes(e.path, new Date(Number(st.atimeNs / 1_000_000n)), new Date(Number(st.mtimeNs / 1_000_000n)));
      rewritten++;
    }
    // The series' files must be newer than every copied object, with a
    // margin for the coarse clock the kernel stamps files with.
    const cutoffMs = Number(newest / 1_000_000n);
    const wait = cutoffMs + 1000 - Date.now();
    if (wait > 0) await sleep(Math.min(wait, 2000));
    const at = new Date(Math.max(Date.now(), cutoffMs + 1000));
    let touchedCount = 0;
    for (const f of touched) {
      const p = join(to.src, f);
      try {
        await utimes(p, at, at);
        touchedCount++;
      } catch (e) {
        // A dangling link or a file git lists and the tree lacks: nothing make could read.
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    const marker: SeedMarker = {
      version: 1,
      label: from.label,
      fromSrc: from.src,
      fromDir: from.buildDir,
      fromKey: from.key,
      seededAt: at.toISOString(),
      cutoffNs: newest.toString(),
      touched: [...touched],
      rewritten,
    };
    await writeJsonAtomic(join(tmp, SEED_MARKER), marker);
    await rename(tmp, to.buildDir);
    return { label: from.label, buildDir: to.buildDir, touched: touchedCount, rewritten, copiedFiles: entries.length };
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (e instanceof QkError) throw e;
    throw new QkError('infra-error', `seeding ${to.buildDir} from ${from.label}'s build failed: ${(e as Error).message}`, { cause: e, ...(o.logFile ? { logFile: o.logFile } : {}) });
  }
}

export async function readSeedMarker(buildDir: string): Promise<SeedMarker | undefined> {
  // Another version's marker says nothing this one can check: as if there were none.
  const path = join(buildDir, SEED_MARKER);
  const what = { path, what: 'seed marker' };
  const m = await readJson(path, z.looseObject({ version: z.unknown() }), what);
  return m?.version === 1 ? checkJson(m, SeedMarker, what) : undefined;
}

/* ---- the rebuild check ---------------------------------------------------- */

/** What the check needs to know about a build directory after make, read once from disk. */
export interface BuildFacts {
  /** Every object (`.o`), relative to the build directory, with its mtime in ns. */
  readonly objects: ReadonlyMap<string, bigint>;
  /** Per object with a kbuild `.cmd` file: its source and recorded dependencies, as absolute paths. */
  readonly deps: ReadonlyMap<string, readonly string[]>;
  /** Objects the build links or packs: members of built-in.a and lib.a archives, and of modules (.mod files). */
  readonly live: ReadonlySet<string>;
}

/** Paths of a kbuild .cmd file's `source_` line and `deps_` list (wildcard entries left out). */
export function cmdDeps(text: string): string[] {
  const out: string[] = [];
  const src = /^source_\S+ := (.+)$/m.exec(text);
  if (src) out.push(src[1]!.trim());
  const start = text.search(/^deps_\S+ := /m);
  if (start < 0) return out;
  const lines = text.slice(start).split('\n');
  lines[0] = lines[0]!.replace(/^deps_\S+ := /, '');
  for (const line of lines) {
    const t = line.trim();
    const entry = t.replace(/\\$/, '').trim();
    // Entries are paths, one a line; `$(wildcard include/config/X)` ties the object to a config option.
    if (entry && !entry.startsWith('$(')) out.push(...entry.split(/\s+/));
    if (!t.endsWith('\\')) break;
  }
  return out;
}

/**
 * Members of an archive from its kbuild .cmd file:
 * `printf "mm/%s " a.o b.o | xargs ar cDPrST mm/built-in.a` or
 * `ar cDPrsT lib/lib.a lib/a.o lib/b.o`.
 */
export function archiveMembers(text: string): string[] {
  const cmd = /^savedcmd_\S+ := (.*)$/m.exec(text)?.[1] ?? '';
  const printf = /printf "([^"%]*)%s " ([^|]*)\|/.exec(cmd);
  if (printf) return printf[2]!.split(/\s+/).filter((w) => w.endsWith('.o')).map((w) => normalize(printf[1] + w));
  const ar = /\bar \S+ \S+\.a ([^;]*)/.exec(cmd);
  return ar ? ar[1]!.split(/\s+/).filter((w) => w.endsWith('.o')).map((w) => normalize(w)) : [];
}

/**
 * Read a build directory's facts. With `mentioning`, only the .cmd files
 * that contain one of those strings (the touched files' names) have their
 * dependencies parsed: a dependency on a file contains its name, and an
 * x86_64 build has some 120 MB of .cmd files.
 */
export async function readBuildFacts(buildDir: string, o: { mentioning?: readonly string[] } = {}): Promise<BuildFacts> {
  const objects = new Map<string, bigint>();
  const deps = new Map<string, string[]>();
  const live = new Set<string>();
  const needles = o.mentioning?.map((m) => Buffer.from(m, 'latin1'));
  const one = async (e: Entry) => {
    if (e.kind !== 'file') return;
    const rel = relative(buildDir, e.path);
    const b = basename(rel);
    if (b.endsWith('.o') && !b.startsWith('.')) {
      objects.set(rel, (await stat(e.path, { bigint: true })).mtimeNs);
    } else if (/^\..+\.o\.cmd$/.test(b)) {
      const buf = await readFile(e.path);
      if (needles && !needles.some((n) => buf.includes(n))) return;
      const text = buf.toString('latin1');
      // kbuild's own .cmd files (tools/ has its own format, with absolute targets).
      if (!text.startsWith('savedcmd_')) return;
      const obj = join(dirname(rel), b.slice(1, -'.cmd'.length));
      deps.set(obj, cmdDeps(text).map((d) => resolve(buildDir, d)));
    } else if (b === '.built-in.a.cmd' || b === '.lib.a.cmd') {
      for (const m of archiveMembers(await readFile(e.path, 'latin1'))) live.add(m);
    } else if (b.endsWith('.mod') && !b.startsWith('.')) {
      for (const m of (await readFile(e.path, 'latin1')).split(/\s+/)) if (m.endsWith('.o')) live.add(normalize(m));
    }
  };
  const entries = await walk(buildDir);
  // A few reads in flight at once: thousands of small files.
  for (let i = 0; i < entries.length; i += 32) await Promise.all(entries.slice(i, i + 32).map(one));
  return { objects, deps, live };
}

export interface SeedCheckResult {
  /** Objects in the build directory. */
  readonly objects: number;
  /** Objects written after the seed (by make). */
  readonly rebuilt: number;
  /** Objects that had to be rebuilt, each with the series file that says so. */
  readonly checked: ReadonlyArray<{ readonly object: string; readonly because: string }>;
  /** Of those, the ones make kept from the copy. */
  readonly stale: ReadonlyArray<{ readonly object: string; readonly because: string }>;
}

/**
 * Which objects of a seeded build must have been rebuilt, and which were
 * not. Pure: facts of the build directory in, verdict out. An object must
 * have been rebuilt when a `.c` or `.S` file the series touched is its
 * source (compiled in this config: the object exists), or when it is live
 * (linked or packed into a module) and its recorded dependencies name a
 * file the series touched (a changed header).
 */
export function staleObjects(facts: BuildFacts, o: { src: string; srcAliases?: readonly string[]; touched: readonly string[]; cutoffNs: bigint }): SeedCheckResult {
  const checked = new Map<string, string>();
  for (const t of o.touched) {
    if (!/\.[cS]$/.test(t)) continue;
    const obj = t.replace(/\.[cS]$/, '.o');
    if (facts.objects.has(obj)) checked.set(obj, t);
  }
  const byPath = new Map<string, string>();
  for (const root of [o.src, ...(o.srcAliases ?? [])]) for (const t of o.touched) byPath.set(resolve(root, t), t);
  for (const [obj, ds] of facts.deps) {
    if (checked.has(obj) || !facts.live.has(obj) || !facts.objects.has(obj)) continue;
    const hit = ds.find((d) => byPath.has(d));
    if (hit) checked.set(obj, byPath.get(hit)!);
  }
  let rebuilt = 0;
  for (const t of facts.objects.values()) if (t > o.cutoffNs) rebuilt++;
  const list = [...checked.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([object, because]) => ({ object, because }));
  return { objects: facts.objects.size, rebuilt, checked: list, stale: list.filter((x) => (facts.objects.get(x.object) ?? 0n) <= o.cutoffNs) };
}

/**
 * The rebuild check of a seeded build directory, from disk. A dependency
 * that still names the copied build's source tree (a path the seed failed to
 * rewrite) counts as naming the series' file: such an object must have been
 * rebuilt too, and was not.
 */
export async function checkSeededBuild(buildDir: string, src: string, marker: Pick<SeedMarker, 'touched' | 'cutoffNs' | 'fromSrc'>): Promise<SeedCheckResult> {
  // Sources are checked by their objects' names; what else the series touched (headers) through the objects' recorded dependencies.
  const others = marker.touched.filter((t) => !/\.[cS]$/.test(t)).map((t) => basename(t));
  const facts = await readBuildFacts(buildDir, { mentioning: others });
  const realOr = (p: string) => realpath(p).catch(() => p);
  const aliases = new Set([await realOr(src), marker.fromSrc, await realOr(marker.fromSrc)]);
  aliases.delete(src);
  return staleObjects(facts, { src, srcAliases: [...aliases], touched: marker.touched, cutoffNs: BigInt(marker.cutoffNs) });
}

/**
 * After make: the first build of a seeded directory passes the check (and
 * the marker records it), or fails the run as a defect of the toolkit,
 * naming the objects make kept from the copy. Returns the marker as it now
 * stands, or undefined for a directory that was never seeded.
 */
export async function verifySeededBuild(buildDir: string, src: string, what: string, logFile?: string): Promise<{ marker: SeedMarker; result?: SeedCheckResult } | undefined> {
  const marker = await readSeedMarker(buildDir);
  if (!marker || marker.check) return marker ? { marker } : undefined;
  const result = await checkSeededBuild(buildDir, src, marker);
  if (result.stale.length > 0) {
    const n = result.stale.length;
    throw new QkError('infra-error', `${what} was seeded from ${marker.label}'s build, and make kept ${n} object(s) of files the series changed from the copy: ${result.stale.slice(0, 5).map((s) => s.object).join(', ')}${n > 5 ? ', ...' : ''}`, {
      details: result.stale.map((s) => `  ${s.object} (not rebuilt, though the series touched ${s.because})`).join('\n'),
      hint: `this is a defect of the toolkit's build seeding (the kernel would carry baseline's code); remove ${buildDir} and run again to build it from scratch`,
      ...(logFile ? { logFile } : {}),
    });
  }
  const checked: SeedMarker = { ...marker, check: { at: new Date().toISOString(), rebuilt: result.rebuilt, checked: result.checked.length } };
  await writeJsonAtomic(join(buildDir, SEED_MARKER), checked);
  return { marker: checked, result };
}
