/**
 * One run: plan → build all → resolve backends → boot all → finish. Each
 * step is a named function with a typed input and result; `runPipeline`
 * only wires them. The Recorder owns the run directory; builds and boots
 * come from the typed plan (plan.ts). It never exits the process.
 */
import { access, constants, readFile, stat } from 'node:fs/promises';
import { hostname, cpus, totalmem, release } from 'node:os';
import { basename, join, relative } from 'node:path';
import { QkError } from '../plumbing/errors.ts';
import { hostCheck, osRelease } from './hostcheck.ts';
import { checkSourcePath, parseKernelVersion, parseSourceSpec, prepareSource, resolveSource, sourceKey, type SourceSpec, type SourceResult } from './source.ts';
import { registryDir } from './debian.ts';
import { findSeries, loadSeries, readSeries, readSeriesFor, requirePatches, type Series } from './series.ts';
import { prepareVariant, seriesOf, treesDir, type TreeSeries, type VariantTree } from './variants.ts';
import { REPO_ROOT } from '../plumbing/paths.ts';
import { buildDir, buildKernel, buildModules, configBase, configure, targetName, type BuildResult, type ConfigProfile, type ConfigResult, type ModuleResult, type Target } from './kbuild.ts';
import { fetchDebianConfig } from './distro.ts';
import { buildInitramfs, prepareHostfsImage, type ImageResult } from './image.ts';
import { buildQkNet, NET_KERNEL_MODULES, NET_SCRIPT, type NetSpec } from './net.ts';
import { boot, type BenchSet, type BootRequest, type Provoke } from './boot.ts';
import { finishQemu, prepareQemu, qemuRun, tcgThreadsFor, type Qemu, type TcgThreads } from './qemu.ts';
import { compilerHugepages, type CompilerHugepages } from './hugepages.ts';
import { classify, needsConfirmation, MAX_ATTEMPTS, type AttemptVerdict } from './classify.ts';
import { planRun, bootPlan, controlBackends, inRounds, kernelId, kernelName, treeId, type BootStep, type KernelPlan, type RunPlan } from './plan.ts';
import type { BackendChoice, RunOptions, StopAfter } from './options.ts';
import { Recorder, type Manifest } from './recorder.ts';
import { headlineSummary } from '../analysis/benchreport.ts';
import { acquireLock } from '../plumbing/lock.ts';
import { shellQuote } from '../plumbing/quote.ts';
import { capture, killAllChildren, tryCapture } from '../plumbing/proc.ts';
import { exists } from '../plumbing/fsutil.ts';
import { checkoutState } from '../plumbing/git.ts';
import { seedBuildDir, seedRefusal, seriesFiles } from './seed.ts';
import type { Backend, Results, Side, VariantName } from '../analysis/results.ts';
import type { RunClass } from '../plumbing/errors.ts';
import type { Logger } from '../plumbing/log.ts';
import { prepareUmlTmp } from './umltmp.ts';

export { archesFor, targetsFor, bootPlan } from './plan.ts';
export type { Manifest } from './recorder.ts';

export interface RunOutcome {
  readonly runDir: string;
  readonly class: RunClass;
  readonly exitCode: number;
  readonly manifest: Manifest;
  readonly results: Results | undefined;
}

/** A built kernel with its modules and guest image. */
export interface Kernel {
  readonly plan: KernelPlan;
  readonly tree: VariantTree;
  readonly cfg: ConfigResult;
  readonly kb: BuildResult;
  readonly mods: ModuleResult;
  readonly image: ImageResult;
  /** In-tree KUnit modules in the image (names without .ko). */
  readonly kunit: readonly string[];
  /** The qk-net helper (also in the image), which floods virtio-net from the host. */
  readonly netHelper?: string;
  /** The series of the trees of this kernel's base (its command line goes to every boot of it). */
  readonly series: TreeSeries;
}

export interface Built {
  readonly kernels: readonly Kernel[];
  /** The QEMU the QEMU backends boot with (none when no QEMU backend runs). */
  readonly qemu?: Qemu | undefined;
}

/** What the boots of a run share once the backends are known: the QEMU and the TCG threading it allows, and UML's TMPDIR. */
export interface Emulator {
  readonly qemu?: Qemu | undefined;
  readonly tcgThreads: TcgThreads;
  /** UML guests' memory goes here (umltmp.ts): an exec-capable directory of ours. */
  readonly umlTmpDir?: string;
  /** UML guests are pinned to this host CPU (--uml-cpu). */
  readonly umlCpu?: number;
}

/**
 * Everything about a run's inputs that can be checked before anything is
 * created, installed or built: the plan (flag combinations), the source
 * path (--tree, --tarball), the --config fragments and the series. A
 * mistake is a usage error naming its flag or file.
 */
export async function checkRunInputs(opts: RunOptions): Promise<RunPlan> {
  const plan = planRun(opts);
  await checkSourcePath(opts.source);
  for (const f of opts.extraFragments) {
    if (!(await stat(f).then((s) => s.isFile(), () => false))) throw new QkError('usage-error', `--config ${f} does not exist or is not a file`, { hint: 'give a Kconfig fragment file (CONFIG_X=y lines)' });
  }
  const series = await readSeries(opts.seriesDir);
  if (plan.variants.includes('patched')) requirePatches(series, '--series');
  if (opts.otherSeries !== undefined) {
    const other = await findSeries(opts.otherSeries, { flag: '--other-series', repo: REPO_ROOT });
    if ('series' in other) requirePatches(other.series, '--other-series');
  }
  return plan;
}

export async function runPipeline(given: RunOptions, log: Logger, signal: AbortSignal): Promise<RunOutcome> {
  const plan = await checkRunInputs(given);
  const t0 = Date.now();
  // Registry bases are looked up (a network lookup) before anything is created or built.
  const opts = await resolveSources(given, plan, log);
  const rec = await Recorder.create(opts.outputDir, await newManifest(opts, plan, t0), log);
  log.info(`run ${opts.runId}: ${relative(process.cwd(), rec.runDir) || rec.runDir}`);
  const releases: Array<() => Promise<void>> = [];
  try {
    const ctx = await prepareAll(opts, plan, rec, releases, log, signal);
    const isUml = (k: KernelPlan) => k.target.arch === 'um';
    if (umlFirst(opts, plan)) {
      // UML kernels build and boot in minutes: their headline comes first,
      // the QEMU kernels follow in the same run. Steps are numbered once
      // across both parts (seq is the boot's identity in the results).
      const early = await buildKernels(ctx, isUml);
      const aa = controlBackends(opts.aaControl ?? 'none', opts.backends.map((b) => (b === 'auto' ? 'tcg' : b)));
      const umlSteps = await bootAll(opts, plan, early, ['uml'], { qemu: early.qemu, tcgThreads: 'single' }, rec, log, signal, { controlOn: aa.filter((b) => b === 'uml') });
      const head = headlineSummary(await rec.interim());
      const others = opts.backends.filter((b) => b !== 'uml').join(', ');
      if (head.length > 0) log.info(`first results, uml (the run goes on with ${others}; report.md is written again at the end):\n${head.join('\n')}`);
      const built = await buildKernels(ctx, (k) => !isUml(k));
      const { backends, emulator } = await resolveBackends(backendRequest(opts), built, rec, log, signal);
      const rest = backends.filter((b) => b !== 'uml');
      await bootAll(opts, plan, built, rest, emulator, rec, log, signal, { controlOn: controlBackends(opts.aaControl ?? 'none', backends).filter((b) => b !== 'uml'), seqBase: umlSteps });
    } else {
      const built = await buildKernels(ctx, () => true);
      if (opts.stopAfter) {
        log.info(`stopping after the ${opts.stopAfter} stage (--stop-after): no boots`);
      } else {
        const { backends, emulator } = await resolveBackends(backendRequest(opts), built, rec, log, signal);
        await bootAll(opts, plan, built, backends, emulator, rec, log, signal);
      }
    }
    const done = await rec.complete(t0);
    return { runDir: rec.runDir, class: done.class, exitCode: done.exitCode, manifest: rec.manifest, results: done.results };
  } catch (e) {
    throw await rec.fail(e, t0);
  } finally {
    for (const release of releases.reverse()) await release().catch(() => undefined);
  }
}

/** The run's source and every base a side names, looked up in the Debian registry where they come from there. */
async function resolveSources(opts: RunOptions, plan: RunPlan, log: Logger): Promise<RunOptions> {
  const o = { workDir: opts.workDir, log, logFile: join(registryDir(opts.workDir), 'lookup.log') };
  const bases: Record<string, SourceSpec> = {};
  for (const b of plan.bases) bases[b] = await resolveSource(opts.bases?.[b] ?? parseSourceSpec(b), o);
  return { ...opts, source: await resolveSource(opts.source, o), bases };
}

/**
 * Locate in-tree modules in a build directory: the series' KUnit suites and
 * what the packet scenarios load (pktgen, dummy).
 */
export async function findBuiltModules(buildDir: string, want: { kunit: readonly string[]; net: readonly string[] }): Promise<{ kunit: string[]; net: string[] }> {
  const found = await capture('find', [buildDir, '-name', '*.ko', '-type', 'f'], { what: 'looking for in-tree modules' });
  const byName = new Map(found.split('\n').filter(Boolean).map((p) => [basename(p, '.ko'), p]));
  const missingKunit = want.kunit.filter((n) => !byName.has(n));
  if (missingKunit.length > 0) {
    throw new QkError('config-failure', `KUnit module(s) ${missingKunit.join(', ')} listed in the series' kunit-modules were not built in ${buildDir}`, {
      hint: "set their options to =m in the series' kernel.config",
    });
  }
  const missingNet = want.net.filter((n) => !byName.has(n));
  if (missingNet.length > 0) {
    throw new QkError('config-failure', `module(s) ${missingNet.join(', ')} for the packet scenarios were not built in ${buildDir}`, {
      hint: 'qemu/config/common.config sets CONFIG_NET_PKTGEN=m and CONFIG_DUMMY=m; check that the kernel tree has them',
    });
  }
  return { kunit: want.kunit.flatMap((n) => byName.get(n) ?? []), net: want.net.flatMap((n) => byName.get(n) ?? []) };
}

/** The toolchain's versions; `qemuVersion` the first `--version` line of the QEMU the run boots, when known (else the host's on PATH is asked). */
export async function toolchainVersions(qemuVersion?: string): Promise<Record<string, string | undefined>> {
  const first = (s: string | undefined) => s?.split('\n')[0];
  const [gcc, ld, make, qemu, ccache, git] = await Promise.all([
    tryCapture('gcc', ['--version']),
    tryCapture('ld', ['--version']),
    tryCapture('make', ['--version']),
    qemuVersion ?? tryCapture('qemu-system-x86_64', ['--version']),
    tryCapture('ccache', ['--version']),
    tryCapture('git', ['--version']),
  ]);
  return { gcc: first(gcc), ld: first(ld), make: first(make), qemu: first(qemu), ccache: first(ccache), git: first(git) };
}

/* ---- plan → manifest ------------------------------------------------------ */

async function toolVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

/** The command that runs this run again: same flags, a new run id. */
export function reproduceCommand(argv: readonly string[]): string {
  const out: string[] = [];
  let skip = false;
  for (const a of argv) {
    if (skip) skip = false;
    else if (a === '--run-id') skip = true;
    else if (!a.startsWith('--run-id=')) out.push(a);
  }
  return `cd ${shellQuote([REPO_ROOT])} && ${shellQuote(['npx', 'zx', 'scripts/run.mjs', ...out])}`;
}

async function newManifest(opts: RunOptions, plan: RunPlan, t0: number): Promise<Manifest> {
  const { argv, ...options } = opts;
  const checkout = await checkoutState(REPO_ROOT);
  return {
    schemaVersion: 2,
    runId: opts.runId,
    state: 'running',
    startedAt: new Date(t0).toISOString(),
    argv,
    reproduce: reproduceCommand(argv),
    tool: { version: await toolVersion(), ...(checkout.commit ? { commit: checkout.commit } : {}), ...(checkout.dirty !== undefined ? { dirty: checkout.dirty } : {}) },
    host: {
      hostname: hostname(),
      os: await osRelease(),
      kernel: release(),
      cpus: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      kvm: await access('/dev/kvm', constants.R_OK | constants.W_OK).then(() => true, () => false),
    },
    toolchain: {},
    options: { ...options },
    sides: plan.sides,
    variants: {},
    stages: [],
    notRun: [...plan.notRun],
    boots: [],
  };
}

/* ---- build all -------------------------------------------------------------- */

/** Where the series of the patched and other trees come from (each may hold one version per base). */
interface SeriesDirs {
  readonly patched: string;
  readonly other?: string;
}

/**
 * Check --series and load --other-series (a directory, or a revision of
 * this repository extracted into the run directory's other-series/), before
 * anything else: a bad one is the user's to fix first.
 */
async function readSeriesDirs(opts: RunOptions, rec: Recorder): Promise<SeriesDirs> {
  // --series was read by checkRunInputs.
  if (opts.otherSeries === undefined) return { patched: opts.seriesDir };
  const other = await loadSeries(opts.otherSeries, { flag: '--other-series', repo: REPO_ROOT, dest: join(rec.runDir, 'other-series') });
  if (other.revision) rec.manifest.otherSeries = { dir: other.series.dir, hash: other.series.hash, patches: [], revision: other.revision.spec, commit: other.revision.commit };
  return { patched: opts.seriesDir, other: other.series.dir };
}

/** The series each tree of a base carries: the version for that base's kernel release. */
async function treeSeriesFor(dirs: SeriesDirs, version: string): Promise<TreeSeries> {
  const patched = await readSeriesFor(dirs.patched, version);
  return dirs.other === undefined ? { patched } : { patched, other: await readSeriesFor(dirs.other, version) };
}

/** How a run records a series: where from, its hash, its patches (and the release it is for). */
function seriesRecord(s: Series) {
  return { dir: s.dir, hash: s.hash, patches: s.patches.map((p) => p.name), ...(s.base ? { base: s.base } : {}) };
}

/** Host check, source, trees (locked for the run), then config, build, modules and image per kernel. */
/**
 * Whether a run builds and boots its UML kernels before its QEMU ones, to
 * print a first headline in minutes: when it boots UML and a QEMU backend
 * and benchmarks something (KUnit-only runs gain nothing from it).
 */
export function umlFirst(opts: Pick<RunOptions, 'backends' | 'stopAfter'>, plan: Pick<RunPlan, 'kernels'>): boolean {
  if (opts.stopAfter !== undefined || !opts.backends.includes('uml') || !opts.backends.some((b) => b !== 'uml')) return false;
  return plan.kernels.some((k) => k.target.arch === 'um') && plan.kernels.some((k) => k.target.arch !== 'um');
}

/** What every kernel build of a run shares, from its options. */
export interface BuildSettings {
  readonly profile: ConfigProfile;
  /** --config fragments, merged after the series'. */
  readonly extraFragments: readonly string[];
  readonly jobs: number;
  readonly workDir: string;
  /** For make and what it runs (hugepages.ts): the compiler's huge-page preload, or nothing. */
  readonly compilerEnv: Readonly<Record<string, string>>;
}

/** What building needs once the host is checked and the trees are prepared; buildKernels() adds the kernels. */
interface BuildContext {
  readonly build: BuildSettings;
  readonly stopAfter: StopAfter | undefined;
  readonly plan: RunPlan;
  readonly rec: Recorder;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly qemu: Qemu | undefined;
  /** The variant trees in plan.trees' order; all but the first may still be in the making. */
  readonly trees: readonly Promise<VariantTree>[];
  /** Rejects as soon as a tree fails; never resolves otherwise. */
  readonly treesFailed: Promise<never>;
  readonly seriesByBase: ReadonlyMap<string | undefined, TreeSeries>;
  readonly toolchainKey: string;
  readonly kernels: Kernel[];
  readonly buildKeys: string[];
}

async function prepareAll(opts: RunOptions, plan: RunPlan, rec: Recorder, releases: Array<() => Promise<void>>, log: Logger, signal: AbortSignal): Promise<BuildContext> {
  const m = rec.manifest;
  // Before the host check (which may install packages): a bad --series or --other-series is the user's to fix first.
  const seriesDirs = await readSeriesDirs(opts, rec);
  const needQemu = plan.arches.includes('x86_64') && opts.stopAfter === undefined;
  const needDebianSource = [opts.source, ...Object.values(opts.bases ?? {})].some((b) => b.kind === 'debian' && !b.release);
  // The tools the source and the builds need first: the source stage may need linux-source-6.12.
  await rec.stage('host-check', {}, () => hostCheck({ needDebianSource, needQemu: false, allowInstall: opts.allowInstall, log, logFile: join(rec.logs, 'host-check.log') }), (r) => r.installed.length === 0, signal);
  // gcc is there now: its huge-page preload is built (once) before anything compiles.
  const compiler = await compilerHugepages({ choice: opts.buildHugepages ?? 'auto', workDir: opts.workDir, log, logFile: join(rec.logs, 'host-check.log') });
  m.compiler = { thp: compiler.thp, ...(compiler.preload ? { preload: compiler.preload } : {}), note: compiler.note };
  log.info(`compiler: ${compiler.note}`);
  // QEMU (a registry lookup and download, then its libraries) goes on beside the
  // source and the trees, which wait on the disk: about 40 s off a cold run.
  // Whichever fails first fails the run, and stops the other's commands.
  const inner = new AbortController();
  const both = AbortSignal.any([signal, inner.signal]);
  const failFast = <T>(p: Promise<T>) => p.catch((e: unknown) => {
    inner.abort();
    throw e;
  });
  const [qemu, prepared] = await Promise.all([
    failFast(needQemu ? prepareRunQemu(opts, rec, log, both) : Promise.resolve(undefined)),
    failFast(prepareTrees(opts, plan, rec, seriesDirs, releases, compiler, log, both)),
  ]);
  if (qemu) {
    const { parsed: _, ...record } = qemu;
    m.qemu = record;
    log.info(`qemu: ${qemu.version} (${qemu.source === 'registry' ? `registry, ${qemu.binary}` : `host, ${qemu.binary}`}${qemu.note ? `: ${qemu.note}` : ''})`);
  }
  m.toolchain = await toolchainVersions(qemu?.version);
  const toolchainKey = [m.toolchain['gcc'], m.toolchain['ld']].join('|');
  return { ...prepared, signal, qemu, toolchainKey };
}

/** The run's QEMU: the registry's (downloaded once) or the host's, and the host packages it needs. */
async function prepareRunQemu(opts: RunOptions, rec: Recorder, log: Logger, signal: AbortSignal): Promise<Qemu> {
  const logFile = join(rec.logs, 'qemu.log');
  const qemuPlan = await rec.stage('qemu', {}, () => prepareQemu({ choice: opts.qemu ?? 'auto', workDir: opts.workDir, allowInstall: opts.allowInstall, log, logFile }), (p) => p.kind === 'host' || p.cached, signal);
  await rec.stage('host-check', { variant: 'qemu' }, () => hostCheck({
    needDebianSource: false,
    needQemu: true,
    baseTools: false,
    qemuLibraries: qemuPlan.kind === 'registry' ? { packages: qemuPlan.install.libraries, why: `a library of the registry's QEMU (${qemuPlan.install.root})` } : undefined,
    allowInstall: opts.allowInstall,
    log,
    logFile: join(rec.logs, 'host-check.log'),
  }), (r) => r.installed.length === 0, signal);
  return finishQemu(qemuPlan, { logFile });
}

/** Each base's pristine source, then the variant trees the plan builds. */
async function prepareTrees(
  opts: RunOptions,
  plan: RunPlan,
  rec: Recorder,
  seriesDirs: SeriesDirs,
  releases: Array<() => Promise<void>>,
  compiler: CompilerHugepages,
  log: Logger,
  signal: AbortSignal,
): Promise<Omit<BuildContext, 'qemu' | 'toolchainKey' | 'signal'>> {
  const m = rec.manifest;
  const lock = (path: string, what: string) => acquireLock(path, { what, owner: `run ${opts.runId}`, log, signal, waitMs: opts.lockWaitS * 1000 });
  // The run's source, then every other base a side names: each a pristine repository of its own.
  const sources = new Map<string | undefined, SourceResult>();
  const seriesByBase = new Map<string | undefined, TreeSeries>();
  for (const base of [undefined, ...plan.bases]) {
    const spec = base === undefined ? opts.source : opts.bases?.[base];
    if (!spec) throw new QkError('infra-error', `internal: base ${base} was not resolved before the run`);
    const key = await sourceKey(spec);
    const releaseSource = await lock(join(opts.workDir, 'locks', `source-${key}`), `the kernel source ${key}`);
    try {
      const tags = base ? { variant: base } : {};
      const logFile = join(rec.logs, base ? `source-${base.replace(/[^\w.-]/g, '_')}.log` : 'source.log');
      sources.set(base, await rec.stage('source', tags, () => prepareSource(spec, { workDir: opts.workDir, log, logFile, signal }), (r) => r.cached, signal));
    } finally {
      await releaseSource();
    }
    const s = sources.get(base)!;
    const ts = await treeSeriesFor(seriesDirs, s.version);
    if (plan.variants.includes('patched')) requirePatches(ts.patched, '--series');
    if (ts.other && plan.variants.includes('other')) requirePatches(ts.other, '--other-series');
    seriesByBase.set(base, ts);
    const rec1 = { description: s.description, version: s.version, baseCommit: s.baseCommit, key: s.key, ...(s.package ? { package: s.package } : {}) };
    if (base === undefined) {
      m.source = rec1;
      m.series = seriesRecord(ts.patched);
      if (ts.other) m.otherSeries = { ...m.otherSeries, ...seriesRecord(ts.other) };
    } else {
      (m.bases ??= {})[base] = { ...rec1, series: seriesRecord(ts.patched) };
    }
  }

  // The first tree now; the others one after another behind it, while the first kernel
  // builds (a worktree waits on the disk, a build on the CPUs). buildKernels() waits
  // for each tree it needs; a tree that fails (a patch that does not apply) fails the
  // run at once, through treesFailed.
  let chain: Promise<unknown> = Promise.resolve();
  const trees = plan.trees.map((t) => {
    const job = chain.then(async () => {
      const source = sources.get(t.base)!;
      const id = treeId(t);
      // Held until the run ends: its boots read the images in the tree.
      releases.push(await lock(join(treesDir(opts.workDir, source), `${t.variant}.lock`), `the ${t.variant} tree of ${source.key}`));
      const series = seriesByBase.get(t.base)!;
      const tree = await rec.stage('variant', { variant: id }, () => prepareVariant(t.variant, { source, series, workDir: opts.workDir, log, logFile: join(rec.logs, `variant-${id.replace(/[^\w.-]/g, '_')}.log`), signal }), (r) => r.cached, signal);
      m.variants[id] = { head: tree.head, treeHash: tree.treeHash, patches: tree.applied, builds: {}, ...(t.base ? { base: t.base } : {}) };
      return tree;
    });
    chain = job;
    return job;
  });
  // Marked handled here; each is awaited where it is used.
  for (const j of trees) j.catch(() => undefined);
  const treesFailed = Promise.all(trees).then(() => new Promise<never>(() => undefined));
  treesFailed.catch(() => undefined);
  if (trees[0]) await trees[0];
  if (opts.stopAfter === 'apply') await Promise.all(trees);
  const build = { profile: opts.profile, extraFragments: opts.extraFragments, jobs: opts.jobs, workDir: opts.workDir, compilerEnv: compiler.env };
  const ctx = { build, stopAfter: opts.stopAfter, plan, rec, log, trees, treesFailed, seriesByBase, kernels: [], buildKeys: [] };
  // --stop-after apply: no kernel is built (buildKernels() then builds nothing).
  if (opts.stopAfter === 'apply') await rec.save();
  return ctx;
}

/** Config, build, modules and image of the planned kernels `which` selects that are not built yet; returns every kernel built so far. */
function buildKernels(ctx: BuildContext, which: (k: KernelPlan) => boolean): Promise<Built> {
  // A tree still in the making that fails stops the run now, not when its kernel's turn
  // comes: the build under way is killed (the run is over; its kernel would go unused).
  const stopped = ctx.treesFailed.catch((e: unknown) => {
    killAllChildren();
    throw e;
  });
  return Promise.race([buildSelected(ctx, which), stopped]);
}

async function buildSelected(ctx: BuildContext, which: (k: KernelPlan) => boolean): Promise<Built> {
  const { build, stopAfter, plan, rec, log, signal, qemu, trees, seriesByBase, toolchainKey, kernels, buildKeys } = ctx;
  const m = rec.manifest;
  if (stopAfter === 'apply') return { kernels: [], qemu };
  // A kernel's modules and image (small, mostly serial jobs) are made beside
  // the next kernel's seed, config and build; the kernels are recorded in
  // plan order once all are done.
  const finishing: Array<{ k: KernelPlan; buildKey: string; kernel: Promise<Kernel> }> = [];
  const compiled: Array<Pick<Kernel, 'plan' | 'tree' | 'kb'>> = [];
  try {
    for (const k of plan.kernels) {
      if (!which(k) || kernels.some((x) => x.plan === k)) continue;
      const job = trees[plan.trees.findIndex((t) => t.variant === k.variant && t.base === k.base)];
      if (!job) throw new QkError('infra-error', `internal: no tree prepared for ${kernelName(k)}`);
      const tree = await job;
      const series = seriesByBase.get(k.base)!;
      const own = seriesOf(k.variant, series);
      // A side's own profile (`patched/distro`) builds that kernel with it.
      const settings = k.profile ? { ...build, profile: k.profile } : build;
      if (stopAfter === 'config') {
        await configureFor(k, tree, own, { build: settings, rec, log, signal, logFile: buildLogOf(k, rec) });
        continue;
      }
      const seriesFragments = own?.configFragments ?? [];
      // Variants with identical trees and fragments (an empty series) share one build.
      const buildKey = `${tree.treeHash}:${targetName(k.target)}:${k.profile ?? ''}:${seriesFragments.join(',')}`;
      const twin = [...kernels.map((x, i) => ({ key: buildKeys[i], plan: x.plan, kernel: Promise.resolve(x) })), ...finishing.map((f) => ({ key: f.buildKey, plan: f.k, kernel: f.kernel }))].find((x) => x.key === buildKey);
      let kernel: Promise<Kernel>;
      if (twin) {
        log.info(`  ${kernelName(k)}: same tree as ${treeId(twin.plan)}, sharing its build`);
        m.stages.push({ stage: 'build', variant: kernelId(k), arch: targetName(k.target), wallMs: 0, cached: true, status: 'ok' });
        kernel = twin.kernel.then((t) => ({ ...t, plan: k }));
      } else {
        // Baseline of the same base and target, built earlier in this run (the run holds its tree's lock): a new tree's build starts from a copy of it.
        const known = [...kernels, ...compiled];
        const seedFrom = k.variant === 'baseline' ? undefined : known.find((x) => x.plan.variant === 'baseline' && x.plan.base === k.base && x.plan.profile === k.profile && targetName(x.plan.target) === targetName(k.target));
        const c = { build: settings, rec, log, signal, toolchainKey, ...(seedFrom ? { seedFrom } : {}) };
        const built = await compileKernelFor(k, tree, own, c);
        compiled.push({ plan: k, tree, kb: built.kb });
        kernel = finishKernelFor(k, tree, own, built, c).then((x) => ({ ...x, series }));
      }
      kernel.catch(() => undefined); // awaited below, once all have ended
      finishing.push({ k, buildKey, kernel });
    }
  } finally {
    // Nothing is left running when this returns or throws.
    await Promise.allSettled(finishing.map((f) => f.kernel));
  }
  for (const f of finishing) {
    const kernel = await f.kernel; // the first failure in plan order throws
    buildKeys.push(f.buildKey);
    kernels.push(kernel);
    const k = f.k;
    const builds = m.variants[treeId(k)]?.builds;
    if (builds) builds[k.profile ? `${targetName(k.target)}/${k.profile}` : targetName(k.target)] = {
      configHash: kernel.cfg.configHash,
      optionsSet: kernel.cfg.optionsSet,
      buildKey: kernel.kb.key,
      image: kernel.kb.image,
      modules: kernel.mods.modules.map((x) => basename(x)),
      kunitModules: kernel.kunit,
      profile: kernel.cfg.profile,
      seriesOptions: kernel.cfg.seriesOptions,
      ...(kernel.cfg.distro ? { distro: kernel.cfg.distro } : {}),
      ...(kernel.cfg.cannotHave ? { cannotHave: kernel.cfg.cannotHave } : {}),
    };
  }
  await rec.save();
  return { kernels, qemu };
}

function buildLogOf(k: KernelPlan, rec: Pick<Recorder, 'logs'>): string {
  return join(rec.logs, `build-${treeId(k).replace(/[^\w.-]/g, '_')}-${targetName(k.target)}${k.profile ? `-${k.profile}` : ''}.log`);
}

/** The config stage of one kernel (with Debian's config first, for the distro and rt profiles). */
async function configureFor(k: KernelPlan, tree: VariantTree, own: Series | undefined, c: { build: BuildSettings; rec: Recorder; log: Logger; signal: AbortSignal; logFile: string }): Promise<ConfigResult> {
  const { build, rec, log, signal, logFile } = c;
  const tags = { variant: kernelId(k), arch: targetName(k.target) };
  const flavour = configBase(k.target, build.profile).debian;
  const debianConfig = flavour
    ? await rec.stage('distro-config', tags, async () => fetchDebianConfig(parseKernelVersion(await readFile(join(tree.src, 'Makefile'), 'utf8')), flavour, { workDir: build.workDir, log, logFile }), () => false, signal)
    : undefined;
  return rec.stage('config', tags, () => configure(tree, k.target, { profile: build.profile, seriesFragments: own?.configFragments ?? [], extraFragments: build.extraFragments, log, logFile, ...(debianConfig ? { debianConfig } : {}) }), (r) => r.cached, signal);
}

type KernelSettings = { build: BuildSettings; rec: Recorder; log: Logger; signal: AbortSignal; toolchainKey: string; seedFrom?: Pick<Kernel, 'plan' | 'tree' | 'kb'> };

/** Seed, config and build of one kernel; `own` is the series its tree carries. */
async function compileKernelFor(k: KernelPlan, tree: VariantTree, own: Series | undefined, c: KernelSettings): Promise<Pick<Kernel, 'cfg' | 'kb'>> {
  const { build, rec, log, signal } = c;
  const buildLog = buildLogOf(k, rec);
  const tags = { variant: kernelId(k), arch: targetName(k.target) };
  if (c.seedFrom) await seedBuild(k, tree, c.seedFrom, { rec, log, signal, logFile: buildLog, tags, profile: build.profile });
  const cfg = await configureFor(k, tree, own, { build, rec, log, signal, logFile: buildLog });
  const kb = await rec.stage('build', tags, () => buildKernel(tree, cfg, { jobs: build.jobs, toolchain: c.toolchainKey, log, logFile: buildLog, compilerEnv: build.compilerEnv }), (r) => r.cached, signal, (r) =>
    r.seed ? { seed: { ...r.seed, check: 'passed' } } : {});
  return { cfg, kb };
}

/** Modules and image of a compiled kernel. */
async function finishKernelFor(k: KernelPlan, tree: VariantTree, own: Series | undefined, built: Pick<Kernel, 'cfg' | 'kb'>, c: KernelSettings): Promise<Omit<Kernel, 'series'>> {
  const { build, rec, log, signal } = c;
  const { cfg, kb } = built;
  const buildLog = buildLogOf(k, rec);
  const tags = { variant: kernelId(k), arch: targetName(k.target) };
  const mods = await rec.stage('modules', tags, () => buildModules(tree, kb, { log, logFile: buildLog, compilerEnv: build.compilerEnv }), (r) => r.cached, signal);
  const { kunit, net } = await findBuiltModules(kb.buildDir, { kunit: own?.kunitModules ?? [], net: NET_KERNEL_MODULES });
  const all = [...mods.modules, ...kunit, ...net];
  const netHelper = await buildQkNet(build.workDir, buildLog);
  const files = [{ name: 'net.sh', source: NET_SCRIPT }, { name: 'qk-net', source: netHelper }];
  // Per build directory: two profiles of one tree each have their own image.
  const imageDir = join(tree.root, basename(kb.buildDir).replace(/^build-/, 'image-'));
  const image = await rec.stage('image', tags, () =>
    k.target.arch === 'x86_64'
      ? buildInitramfs({ dir: imageDir, modules: all, files, genInitCpio: join(kb.buildDir, 'usr', 'gen_init_cpio'), logFile: buildLog })
      : prepareHostfsImage({ dir: imageDir, modules: all, files }),
  (r) => r.cached, signal);
  return { plan: k, tree, cfg, kb, mods, image, kunit: kunit.map((x) => basename(x, '.ko')), netHelper };
}

/**
 * A tree's first build of a target (no build directory yet) starts from a
 * copy of `from`'s complete build, with the tree paths rewritten and the
 * series' files touched (seed.ts), so make recompiles only what the series
 * changed; the build stage then checks that it did. Otherwise, or when the
 * copy cannot be trusted (seedRefusal), make builds as it always does.
 */
async function seedBuild(k: KernelPlan, tree: VariantTree, from: Pick<Kernel, 'plan' | 'tree' | 'kb'>, c: { rec: Recorder; log: Logger; signal: AbortSignal; logFile: string; tags: { variant: string; arch: string }; profile: ConfigProfile }): Promise<void> {
  const target = { src: tree.src, buildDir: buildDir(tree, k.target, c.profile) };
  if (await exists(target.buildDir)) return;
  const source = { label: kernelName(from.plan), src: from.tree.src, buildDir: from.kb.buildDir, key: from.kb.key, image: from.kb.image };
  const why = await seedRefusal(source, target);
  if (why) {
    c.log.info(`  ${kernelName(k)}: building from scratch, not from a copy of ${source.label}'s build: ${why}`);
    return;
  }
  const touched = await seriesFiles(tree.src, from.tree.head, tree.head);
  const r = await c.rec.stage('seed', c.tags, () => seedBuildDir(source, target, touched, { logFile: c.logFile, signal: c.signal }), () => false, c.signal, (x) => ({ seed: { from: x.label, touched: x.touched, rewritten: x.rewritten } }));
  c.log.info(`  ${kernelName(k)}: build directory seeded from ${r.label}'s (${r.copiedFiles} files, ${r.rewritten} of them rewritten to this tree; ${r.touched} file(s) of the series touched)`);
}

function kernelFor(built: Built, side: Pick<Side, 'variant' | 'base' | 'profile'>, target: Target): Kernel {
  // Checker kernels have one config whatever the profile.
  const profile = target.flavor === 'normal' ? side.profile : undefined;
  const k = built.kernels.find((x) => x.plan.variant === side.variant && x.plan.base === side.base && x.plan.profile === profile && targetName(x.plan.target) === targetName(target));
  if (!k) throw new QkError('infra-error', `internal: no kernel was built for ${kernelId({ ...side, profile })}/${targetName(target)}`);
  return k;
}

/* ---- resolve backends ------------------------------------------------------------ */

/** How long a KVM probe boot may take: a stock guest on this kind of host hangs while decompressing (DESIGN.md). */
export interface ProbeLimits {
  readonly silenceMs: number;
  readonly timeoutMs: number;
}
export const PROBE_LIMITS: ProbeLimits = { silenceMs: 20_000, timeoutMs: 60_000 };

/**
 * For tests only: QK_KVM_PROBE_QEMU names a program the KVM probe boots
 * instead of the run's QEMU (a stand-in that prints a guest's lines, or
 * hangs), and the /dev/kvm check is left out; so both outcomes of the
 * probe can be had on any host. The run's other boots are not affected.
 */
export const PROBE_QEMU_ENV = 'QK_KVM_PROBE_QEMU';

/** What resolving the backends takes from a run's options: the backends asked for, the side whose kernel the KVM probe boots, and --tcg-threads. */
export interface BackendRequest {
  readonly runId: string;
  readonly backends: readonly BackendChoice[];
  readonly probeSide: Pick<Side, 'variant' | 'base'>;
  readonly tcgThreads?: TcgThreads | undefined;
}

/** The probe boots the first side's normal kernel. */
function backendRequest(opts: RunOptions): BackendRequest {
  return { runId: opts.runId, backends: opts.backends, probeSide: opts.sides[0] ?? { variant: 'baseline' }, tcgThreads: opts.tcgThreads };
}

/**
 * "auto" becomes kvm only when a probe boot reaches userspace, else tcg; an
 * explicit "kvm" is probed the same way first, and a probe that fails or
 * hangs ends the run as `kvm-unusable` (never a kernel hang: the probe is
 * no boot of the run). TCG's threading follows the QEMU unless
 * --tcg-threads says otherwise.
 */
export async function resolveBackends(req: BackendRequest, built: Built, rec: Pick<Recorder, 'logs' | 'manifest' | 'stage' | 'save'>, log: Logger, signal: AbortSignal, limits: ProbeLimits = PROBE_LIMITS): Promise<{ backends: Backend[]; emulator: Emulator }> {
  const resolved: Backend[] = [];
  let note: string | undefined;
  let probe: { ok: boolean; reason: string } | undefined;
  const consoleLog = join(rec.logs, 'console-kvm-probe.log');
  for (const b of req.backends) {
    let pick: Backend = b === 'auto' ? 'tcg' : b;
    if (b === 'auto' || b === 'kvm') {
      const k = kernelFor(built, req.probeSide, { arch: 'x86_64', flavor: 'normal' });
      probe ??= await rec.stage('kvm-probe', {}, () => probeKvm(k, req.runId, built.qemu, consoleLog, signal, limits), () => false, signal);
    }
    if (b === 'kvm' && !probe?.ok) {
      throw new QkError('kvm-unusable', `--backend kvm: KVM is not usable on this host (${probe?.reason}); nothing was booted`, {
        logFile: consoleLog,
        hint: 'run on tcg (--backend tcg), or let --backend auto pick kvm only where its probe boot works',
      });
    }
    if (b === 'auto') {
      pick = probe?.ok ? 'kvm' : 'tcg';
      note = `auto: ${probe?.ok ? 'KVM probe reached userspace, using kvm' : `KVM not usable (${probe?.reason}), using tcg`}`;
      log.info(note);
    }
    if (!resolved.includes(pick)) resolved.push(pick);
  }
  const threading = tcgThreadsFor(built.qemu, req.tcgThreads);
  // Said once, where it matters: a tcg backend that runs single-threaded only because of the QEMU.
  if (threading.why && resolved.includes('tcg')) log.info(threading.why);
  rec.manifest.backends = { requested: req.backends, resolved, tcgThreads: threading.threads, ...(threading.why ? { tcgThreadsWhy: threading.why } : {}), ...(note ? { note } : {}) };
  await rec.save();
  return { backends: resolved, emulator: { qemu: built.qemu, tcgThreads: threading.threads } };
}

/** Boot the normal kernel under -enable-kvm once: usable when it reaches userspace and its init ends with status 0. */
export async function probeKvm(k: Pick<Kernel, 'kb' | 'image'>, runId: string, qemu: Qemu | undefined, consoleLog: string, signal: AbortSignal, limits: ProbeLimits = PROBE_LIMITS): Promise<{ ok: boolean; reason: string }> {
  const standIn = process.env[PROBE_QEMU_ENV];
  if (!standIn) {
    try {
      await access('/dev/kvm', constants.R_OK | constants.W_OK);
    } catch {
      return { ok: false, reason: '/dev/kvm is missing or not accessible' };
    }
  }
  const run = await boot({
    backend: 'kvm',
    kernel: k.kb.image,
    image: k.image,
    smp: 1,
    memoryMB: 512,
    guest: { run: runId, variant: 'probe', backend: 'kvm', modules: [] },
    extraCmdline: [],
    tcgThreads: 'single',
    qemu: standIn ? { binary: standIn, firmware: [] } : qemuRun(qemu),
    probe: true,
    consoleLog,
    silenceMs: limits.silenceMs,
    timeoutMs: limits.timeoutMs,
    signal,
  });
  const v = classify(run.lines, run.ending).verdict;
  if (v.reachedUserspace && v.guestStatus === 0) return { ok: true, reason: 'probe reached userspace' };
  if (run.ending === 'silence' || run.ending === 'timeout') return { ok: false, reason: `the probe boot hung (${run.ending === 'silence' ? `no console output for ${limits.silenceMs / 1000} s` : `not done after ${limits.timeoutMs / 1000} s`})` };
  // QEMU's own last words (an MSR it could not set, say) tell the user more than our verdict.
  const last = run.lines.filter((l) => l.startsWith('qemu-system')).pop();
  return { ok: false, reason: `probe boot ${v.class}: ${last ?? v.reason}` };
}

/* ---- boot all ------------------------------------------------------------------------ */

/**
 * Boot the planned steps on `backends`; returns how many there were. A run
 * that boots in two parts (umlFirst) plans each part on its own backends:
 * `seqBase` numbers the second part's steps after the first's, and
 * `controlOn` says where the A/A twin boots in this part.
 */
async function bootAll(
  opts: RunOptions, plan: RunPlan, built: Built, backends: readonly Backend[], qemuSide: Emulator, rec: Recorder, log: Logger, signal: AbortSignal,
  part: { readonly controlOn?: readonly Backend[]; readonly seqBase?: number } = {},
): Promise<number> {
  const controlOn = part.controlOn ?? controlBackends(opts.aaControl ?? 'none', backends);
  let emulator = qemuSide;
  if (backends.includes('uml')) {
    const tmp = await prepareUmlTmp(opts.workDir, opts.memoryMB);
    log.info(`uml: guest memory in ${tmp.dir}${tmp.passed.length > 0 ? ` (not ${tmp.passed.join('; ')})` : ''}`);
    if (tmp.warning) log.warn(`uml: ${tmp.warning}`);
    emulator = { ...emulator, umlTmpDir: tmp.dir, ...(opts.umlCpu !== undefined ? { umlCpu: opts.umlCpu } : {}) };
    rec.manifest.uml = { tmpDir: tmp.dir, cpu: opts.umlCpu ?? null, ...(tmp.warning ? { warning: tmp.warning } : {}) };
    if (opts.umlCpu !== undefined) log.info(`uml: guests pinned to host CPU ${opts.umlCpu} (taskset; --uml-cpu none lets the host schedule them)`);
  }
  const kunitVariants = [...new Set(built.kernels.filter((k) => k.kunit.length > 0).map((k) => k.plan.variant))];
  const twin = plan.sides.find((s) => s.twinOf);
  if (twin && controlOn.length > 0) log.info(`A/A control: ${twin.name} boots the ${plan.sides[0]!.name} kernel again on ${controlOn.join(', ')}`);
  const steps = bootPlan(opts.boots, backends, plan.sides, opts.flavors, kunitVariants, controlOn).map((s) => ({ ...s, seq: s.seq + (part.seqBase ?? 0) }));
  const settings = bootSettings(opts);
  for (const step of steps) {
    const kernel = kernelFor(built, step.side, { arch: step.backend === 'uml' ? 'um' : 'x86_64', flavor: step.flavor });
    await bootStep(step, kernel, kernel.series, { boot: settings, emulator, rec, log, signal });
  }
  return steps.length;
}

/** Boot one step; on tcg, boot again while a crash needs confirming (classify.ts). */
async function bootStep(step: BootStep, k: Kernel, series: TreeSeries, c: { boot: BootSettings; emulator: Emulator; rec: Recorder; log: Logger; signal: AbortSignal }): Promise<void> {
  const { rec, log, signal } = c;
  const seen: AttemptVerdict[] = [];
  const label = `${step.side.name}${step.flavor === 'normal' ? '' : ` (${step.flavor})`} on ${step.backend}, ${step.purpose === 'kunit' ? 'KUnit' : 'benchmarks'}`;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const when = [...(inRounds(step) ? [`round ${step.round + 1}/${c.boot.rounds}`] : []), ...(attempt > 1 ? [`attempt ${attempt}`] : [])];
    log.info(`boot ${label}${when.length > 0 ? ` (${when.join(', ')})` : ''} ...`);
    const req = bootRequest(step, k, series, attempt, c);
    const run = await rec.stage('boot', { variant: step.side.name, backend: step.backend, ...(step.flavor === 'normal' ? {} : { arch: targetName(k.plan.target) }) }, () => boot(req), () => false, signal);
    await rec.recordAttempt({
      factsVersion: 1,
      seq: step.seq,
      attempt,
      side: step.side.name,
      variant: step.side.variant,
      backend: step.backend,
      flavor: step.flavor,
      arch: k.plan.target.arch,
      round: step.round,
      position: step.position,
      purpose: step.purpose,
      consoleLog: rec.rel(req.consoleLog),
      ending: run.ending,
      wallMs: run.wallMs,
      exitCode: run.exitCode ?? null,
      argv: [...run.cmd],
      kernelCmdline: run.cmdline.join(' '),
    }, run.lines);
    const j = classify(run.lines, run.ending);
    seen.push({ class: j.verdict.class, findings: j.verdict.findings, signature: j.signature });
    const kt = j.ktap.counts;
    log.info(`  → ${j.verdict.class}: ${j.verdict.reason} (KUnit ${kt.pass} pass, ${kt.fail} fail, ${kt.skip} skip, ${kt.crashed} crashed)`);
    if (!needsConfirmation(step, seen)) break;
    log.info(`  a ${j.verdict.class} on ${step.backend} counts only if it happens again: booting the same kernel and command line once more`);
  }
}

/** What every boot of a run shares, from its options: the guest's size and time limits, what a benchmark boot runs, the run's own kernel arguments. */
export interface BootSettings {
  readonly runId: string;
  /** Benchmark rounds (--boots), for the log. */
  readonly rounds: number;
  readonly smp: number;
  readonly memoryMB: number;
  /** --numa: QEMU guests' nodes; absent: one. */
  readonly numaNodes?: number | undefined;
  readonly silenceTimeoutS: number;
  readonly bootTimeoutS: number;
  readonly modules: readonly string[];
  readonly benchSet: BenchSet;
  readonly net?: NetSpec | undefined;
  readonly provoke?: Provoke | undefined;
  /** --append: after the series' and the side's arguments, so they win. */
  readonly extraCmdline: readonly string[];
  /** --tcg-threads, when the emulator (the resolved backends) has not said. */
  readonly tcgThreads?: TcgThreads | undefined;
}

export function bootSettings(opts: RunOptions): BootSettings {
  const { runId, smp, memoryMB, numaNodes, silenceTimeoutS, bootTimeoutS, modules, benchSet, net, provoke, extraCmdline, tcgThreads } = opts;
  return { runId, rounds: opts.boots, smp, memoryMB, numaNodes, silenceTimeoutS, bootTimeoutS, modules, benchSet, net, provoke, extraCmdline, tcgThreads };
}

/** What one boot attempt of a step boots: the side's kernel with its series' command line, then the side's, then --append. */
export function bootRequest(
  step: BootStep,
  k: Pick<Kernel, 'kb' | 'image' | 'kunit' | 'netHelper'>,
  series: TreeSeries,
  attempt: number,
  c: { boot: BootSettings; emulator?: Emulator; rec: Pick<Recorder, 'logs'>; signal: AbortSignal },
): BootRequest {
  const b = c.boot;
  // NUMA is QEMU's: a UML guest has one node whatever --numa says.
  const numaNodes = step.backend !== 'uml' && (b.numaNodes ?? 1) > 1 ? b.numaNodes : undefined;
  const params = {
    run: b.runId,
    variant: step.side.variant,
    side: step.side.name,
    backend: step.backend,
    flavor: step.flavor,
    kunit: step.purpose === 'kunit' ? k.kunit : [],
    modules: step.purpose === 'bench' ? b.modules : [],
    ...(step.purpose === 'bench' ? { benchSet: b.benchSet, ...(b.net ? { net: b.net } : {}) } : {}),
    attempt,
    ...(b.provoke ? { provoke: b.provoke } : {}),
    ...(numaNodes ? { numaNodes } : {}),
  };
  const what = inRounds(step) ? `r${step.round}` : 'kunit';
  const name = `console-${step.side.name}-${step.backend}${step.flavor === 'normal' ? '' : `-${step.flavor}`}-${what}${attempt > 1 ? `-a${attempt}` : ''}.log`;
  return {
    backend: step.backend,
    kernel: k.kb.image,
    image: k.image,
    smp: b.smp,
    memoryMB: b.memoryMB,
    ...(numaNodes ? { numaNodes } : {}),
    guest: params,
    extraCmdline: [...(seriesOf(step.side.variant, series)?.cmdline ?? []), ...step.side.cmdline, ...b.extraCmdline],
    // Checker kernels need no true parallelism, and a crash there must never be an emulator's.
    tcgThreads: step.flavor === 'normal' ? (c.emulator?.tcgThreads ?? b.tcgThreads ?? 'single') : 'single',
    qemu: qemuRun(c.emulator?.qemu),
    ...(step.backend === 'uml' && c.emulator?.umlTmpDir !== undefined ? { umlTmpDir: c.emulator.umlTmpDir } : {}),
    ...(step.backend === 'uml' && c.emulator?.umlCpu !== undefined ? { umlCpu: c.emulator.umlCpu } : {}),
    consoleLog: join(c.rec.logs, name),
    ...(k.netHelper ? { netHelper: k.netHelper } : {}),
    silenceMs: b.silenceTimeoutS * 1000,
    timeoutMs: b.bootTimeoutS * 1000,
    signal: c.signal,
  };
}

