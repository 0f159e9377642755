/**
 * One run: host check → source → variants → config → build → modules →
 * image → boot → parse → results. Each stage gets what it needs in its
 * arguments; this module only wires them, times them and records the
 * outcome in the run directory. It never exits the process.
 */
import { access, constants, mkdir } from 'node:fs/promises';
import { hostname, cpus, totalmem, release } from 'node:os';
import { basename, join, relative } from 'node:path';
import { EXIT_CODE, QkError, type RunClass, formatError } from './errors.ts';
import { writeFileAtomic, writeJsonAtomic, exists } from './fsutil.ts';
import { hostCheck, osRelease } from './hostcheck.ts';
import { prepareSource, type SourceSpec, type SourceResult } from './source.ts';
import { readSeries, type Series } from './series.ts';
import { prepareVariant, type VariantTree } from './variants.ts';
import { REPO_ROOT, buildKernel, buildModules, configure, targetName, type Arch, type BuildResult, type ConfigProfile, type ConfigResult, type Flavor, type ModuleResult, type Target } from './kbuild.ts';
import { buildInitramfs, prepareHostfsImage, type ImageResult } from './image.ts';
import { boot, guestCmdline, qemuArgs, umlArgs, type BootOutcome, type GuestParams } from './boot.ts';
import { worstClass } from './console.ts';
import { BenchLine, RESULTS_SCHEMA_VERSION, Results, renderReport, type Backend, type BootRecord, type Metric, type StressRecord, type TestRecord, type VariantName } from './results.ts';
import { parseStressDiagnostics } from './ktap.ts';
import { capture, tryCapture } from './proc.ts';
import type { Logger } from './log.ts';

export type BackendChoice = Backend | 'auto';

export interface RunOptions {
  readonly source: SourceSpec;
  readonly seriesDir: string;
  readonly variants: readonly VariantName[];
  readonly backends: readonly BackendChoice[];
  readonly smp: number;
  readonly memoryMB: number;
  readonly bootTimeoutS: number;
  readonly silenceTimeoutS: number;
  readonly boots: number;
  readonly jobs: number;
  readonly outputDir: string;
  readonly workDir: string;
  readonly runId: string;
  readonly profile: ConfigProfile;
  readonly flavors: readonly Flavor[];
  readonly extraFragments: readonly string[];
  readonly extraCmdline: readonly string[];
  readonly modules: readonly string[];
  readonly provoke: GuestParams['provoke'] | undefined;
  readonly allowInstall: boolean;
  readonly argv: readonly string[];
}

export interface StageRecord {
  stage: string;
  variant?: string;
  arch?: string;
  backend?: string;
  wallMs: number;
  cached: boolean;
  status: 'ok' | 'failed';
}

export interface Manifest {
  schemaVersion: 1;
  runId: string;
  state: 'running' | 'complete' | 'failed' | 'interrupted';
  class?: RunClass;
  exitCode?: number;
  error?: string;
  startedAt: string;
  finishedAt?: string;
  wallMs?: number;
  argv: readonly string[];
  tool: { version: string; commit: string | undefined };
  host: { hostname: string; os: string; kernel: string; cpus: number; memoryGiB: number; kvm: boolean };
  toolchain: Record<string, string | undefined>;
  options: Omit<RunOptions, 'argv' | 'source'> & { source: SourceSpec };
  source?: { description: string; version: string; baseCommit: string; key: string };
  series?: { dir: string; hash: string; patches: string[] };
  variants: Record<string, { head: string; treeHash: string; patches: readonly string[]; builds: Record<string, { configHash: string; optionsSet: number; buildKey: string; image: string; modules: string[]; kunitModules: readonly string[] }> }>;
  backends?: { requested: readonly BackendChoice[]; resolved: Backend[]; note?: string };
  stages: StageRecord[];
}

export interface RunOutcome {
  readonly runDir: string;
  readonly class: RunClass;
  readonly exitCode: number;
  readonly manifest: Manifest;
  readonly results: Results | undefined;
}

const QEMU_BACKENDS = new Set<BackendChoice>(['auto', 'kvm', 'tcg', 'icount']);

export function archesFor(backends: readonly BackendChoice[]): Arch[] {
  const a: Arch[] = [];
  if (backends.some((b) => QEMU_BACKENDS.has(b))) a.push('x86_64');
  if (backends.includes('uml')) a.push('um');
  return a;
}

export interface BootStep {
  readonly round: number;
  readonly flavor: Flavor;
  readonly backend: Backend;
  readonly variant: VariantName;
}

/**
 * Boot order: rounds outermost, then flavors and backends, then variants,
 * so A/B pairs sit side by side in time. Debug flavors boot on QEMU only.
 */
export function bootPlan(rounds: number, backends: readonly Backend[], variants: readonly VariantName[], flavors: readonly Flavor[] = ['normal']): BootStep[] {
  const plan: BootStep[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const flavor of flavors) {
      for (const backend of backends) {
        if (flavor !== 'normal' && backend === 'uml') continue;
        // Alternate which variant goes first from round to round.
        const order = round % 2 === 0 ? variants : [...variants].reverse();
        for (const variant of order) plan.push({ round, flavor, backend, variant });
      }
    }
  }
  return plan;
}

/** Builds needed: every flavor on x86_64, only the normal flavor on UML. */
export function targetsFor(arches: readonly Arch[], flavors: readonly Flavor[]): Target[] {
  const out: Target[] = [];
  for (const flavor of flavors) {
    for (const arch of arches) {
      if (flavor !== 'normal' && arch !== 'x86_64') continue;
      out.push({ arch, flavor });
    }
  }
  return out;
}

interface Artifacts {
  readonly variant: VariantName;
  readonly cfg: ConfigResult;
  readonly kb: BuildResult;
  readonly mods: ModuleResult;
  readonly image: ImageResult;
  /** In-tree KUnit modules in the image (names without .ko). */
  readonly kunit: readonly string[];
}

/** Locate the series' in-tree KUnit modules in a build directory. */
export async function findKunitModules(buildDir: string, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const found = await capture('find', [buildDir, '-name', '*.ko', '-type', 'f'], { what: 'looking for KUnit modules' });
  const byName = new Map(found.split('\n').filter(Boolean).map((p) => [basename(p, '.ko'), p]));
  const missing = names.filter((n) => !byName.has(n));
  if (missing.length > 0) {
    throw new QkError('config-failure', `KUnit module(s) ${missing.join(', ')} listed in the series' kunit-modules were not built in ${buildDir}`, {
      hint: "set their options to =m in the series' kernel.config",
    });
  }
  return names.map((n) => byName.get(n)!);
}

export async function toolchainVersions(): Promise<Record<string, string | undefined>> {
  const first = (s: string | undefined) => s?.split('\n')[0];
  const [gcc, ld, make, qemu, ccache, git] = await Promise.all([
    tryCapture('gcc', ['--version']),
    tryCapture('ld', ['--version']),
    tryCapture('make', ['--version']),
    tryCapture('qemu-system-x86_64', ['--version']),
    tryCapture('ccache', ['--version']),
    tryCapture('git', ['--version']),
  ]);
  return { gcc: first(gcc), ld: first(ld), make: first(make), qemu: first(qemu), ccache: first(ccache), git: first(git) };
}

export async function runPipeline(opts: RunOptions, log: Logger, signal: AbortSignal): Promise<RunOutcome> {
  const runDir = join(opts.outputDir, opts.runId);
  const logs = join(runDir, 'logs');
  if (await exists(runDir)) throw new QkError('usage-error', `run directory ${runDir} already exists`, { hint: 'choose another --run-id' });
  await mkdir(logs, { recursive: true });
  const t0 = Date.now();
  const { argv, ...rest } = opts;
  const manifest: Manifest = {
    schemaVersion: 1,
    runId: opts.runId,
    state: 'running',
    startedAt: new Date(t0).toISOString(),
    argv,
    tool: { version: '0.1.0', commit: await tryCapture('git', ['rev-parse', 'HEAD'], REPO_ROOT) },
    host: {
      hostname: hostname(),
      os: await osRelease(),
      kernel: release(),
      cpus: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      kvm: await access('/dev/kvm', constants.R_OK | constants.W_OK).then(() => true, () => false),
    },
    toolchain: {},
    options: rest,
    variants: {},
    stages: [],
  };
  const saveManifest = () => writeJsonAtomic(join(runDir, 'manifest.json'), manifest);
  await saveManifest();
  log.info(`run ${opts.runId}: ${relative(process.cwd(), runDir) || runDir}`);

  const stage = async <T>(
    name: string,
    tags: Omit<StageRecord, 'stage' | 'wallMs' | 'cached' | 'status'>,
    fn: () => Promise<T>,
    isCached: (r: T) => boolean,
  ): Promise<T> => {
    if (signal.aborted) throw new QkError('interrupted', 'interrupted');
    const s = Date.now();
    try {
      const r = await fn();
      const rec: StageRecord = { stage: name, ...tags, wallMs: Date.now() - s, cached: isCached(r), status: 'ok' };
      manifest.stages.push(rec);
      await saveManifest();
      const where = [tags.variant, tags.arch, tags.backend].filter(Boolean).join('/');
      log.info(`  ${name}${where ? ` ${where}` : ''}: ${(rec.wallMs / 1000).toFixed(1)} s${rec.cached ? ' (cached)' : ''}`);
      return r;
    } catch (e) {
      manifest.stages.push({ stage: name, ...tags, wallMs: Date.now() - s, cached: false, status: 'failed' });
      if (signal.aborted) throw new QkError('interrupted', 'interrupted', { cause: e });
      throw e;
    }
  };

  let results: Results | undefined;
  const resultsFile = join(runDir, 'results.json');
  const bootRecords: BootRecord[] = [];
  const tests: TestRecord[] = [];
  const metrics: Metric[] = [];
  const stress: StressRecord[] = [];
  const notRun: Results['notRun'] = [];
  const finishResults = async (cls: RunClass) => {
    results = Results.parse({ schemaVersion: RESULTS_SCHEMA_VERSION, runId: opts.runId, class: cls, boots: bootRecords, tests, metrics, stress, notRun });
    await writeJsonAtomic(resultsFile, results);
    await writeFileAtomic(join(runDir, 'report.md'), renderReport(results, { startedAt: manifest.startedAt, ...(manifest.source ? { source: manifest.source } : {}), ...(manifest.series ? { series: manifest.series } : {}) }));
  };

  try {
    const arches = archesFor(opts.backends);
    await stage('host-check', {}, () => hostCheck({
      needDebianSource: opts.source.kind === 'debian',
      needQemu: arches.includes('x86_64'),
      allowInstall: opts.allowInstall,
      log,
      logFile: join(logs, 'host-check.log'),
    }), (r) => r.installed.length === 0);
    manifest.toolchain = await toolchainVersions();
    const toolchainKey = [manifest.toolchain['gcc'], manifest.toolchain['ld']].join('|');

    const series: Series = await readSeries(opts.seriesDir);
    manifest.series = { dir: series.dir, hash: series.hash, patches: series.patches.map((p) => p.name) };
    const source: SourceResult = await stage('source', {}, () => prepareSource(opts.source, { workDir: opts.workDir, log, logFile: join(logs, 'source.log') }), (r) => r.cached);
    manifest.source = { description: source.description, version: source.version, baseCommit: source.baseCommit, key: source.key };

    const trees = new Map<VariantName, VariantTree>();
    for (const v of opts.variants) {
      const t = await stage('variant', { variant: v }, () => prepareVariant(v, { source, series, workDir: opts.workDir, log, logFile: join(logs, `variant-${v}.log`) }), (r) => r.cached);
      trees.set(v, t);
      manifest.variants[v] = { head: t.head, treeHash: t.treeHash, patches: t.applied, builds: {} };
    }

    // Variants whose trees and fragments are identical (an empty series) share their build.
    const memo = new Map<string, Artifacts>();
    const artifacts = new Map<string, Artifacts>();
    for (const target of targetsFor(arches, opts.flavors)) {
      const tname = targetName(target);
      for (const v of opts.variants) {
        const tree = trees.get(v)!;
        const seriesFragments = v === 'patched' ? series.configFragments : [];
        const memoKey = `${tree.treeHash}:${tname}:${seriesFragments.join(',')}`;
        let a = memo.get(memoKey);
        if (a) {
          log.info(`  ${v}/${tname}: same tree as ${a.variant}, sharing its build`);
          manifest.stages.push({ stage: 'build', variant: v, arch: tname, wallMs: 0, cached: true, status: 'ok' });
        } else {
          const buildLog = join(logs, `build-${v}-${tname}.log`);
          const tags = { variant: v, arch: tname };
          const cfg = await stage('config', tags, () => configure(tree, target, { profile: opts.profile, seriesFragments, extraFragments: opts.extraFragments, log, logFile: buildLog }), (r) => r.cached);
          const kb = await stage('build', tags, () => buildKernel(tree, cfg, { jobs: opts.jobs, toolchain: toolchainKey, log, logFile: buildLog }), (r) => r.cached);
          const mods = await stage('modules', tags, () => buildModules(tree, kb, { log, logFile: buildLog }), (r) => r.cached);
          const kunit = v === 'patched' ? await findKunitModules(kb.buildDir, series.kunitModules) : [];
          const all = [...mods.modules, ...kunit];
          const imageDir = join(tree.root, `image-${tname}`);
          const image = await stage('image', tags, () =>
            target.arch === 'x86_64'
              ? buildInitramfs({ dir: imageDir, modules: all, genInitCpio: join(kb.buildDir, 'usr', 'gen_init_cpio'), logFile: buildLog })
              : prepareHostfsImage({ dir: imageDir, modules: all }),
          (r) => r.cached);
          a = { variant: v, cfg, kb, mods, image, kunit: kunit.map((k) => basename(k, '.ko')) };
          memo.set(memoKey, a);
        }
        artifacts.set(`${v}:${tname}`, a);
        manifest.variants[v]!.builds[tname] = {
          configHash: a.cfg.configHash,
          optionsSet: a.cfg.optionsSet,
          buildKey: a.kb.key,
          image: a.kb.image,
          modules: a.mods.modules.map((m) => basename(m)),
          kunitModules: a.kunit,
        };
      }
    }
    await saveManifest();

    // Resolve "auto": KVM only when a probe boot reaches userspace.
    const resolved: Backend[] = [];
    let note: string | undefined;
    for (const b of opts.backends) {
      if (b !== 'auto') {
        if (!resolved.includes(b)) resolved.push(b);
        continue;
      }
      const a = artifacts.get(`${opts.variants[0]}:x86_64`);
      if (!a) throw new QkError('usage-error', '--backend auto needs the normal flavor (the KVM probe boots it)');
      const probe = await stage('kvm-probe', {}, () => probeKvm(a.kb.image, a.image, opts, join(logs, 'console-kvm-probe.log'), signal), () => false);
      const pick: Backend = probe.ok ? 'kvm' : 'tcg';
      note = `auto: ${probe.ok ? 'KVM probe reached userspace, using kvm' : `KVM not usable (${probe.reason}), using tcg`}`;
      log.info(note);
      if (!resolved.includes(pick)) resolved.push(pick);
    }
    manifest.backends = { requested: opts.backends, resolved, ...(note ? { note } : {}) };
    await saveManifest();

    for (const f of opts.flavors) {
      if (f !== 'normal' && resolved.includes('uml')) {
        for (const v of opts.variants) notRun.push({ variant: v, backend: 'uml', reason: `the ${f} flavor is built for x86_64 only (QEMU backends)` });
      }
    }
    for (const step of bootPlan(opts.boots, resolved, opts.variants, opts.flavors)) {
      const arch: Arch = step.backend === 'uml' ? 'um' : 'x86_64';
      const tname = targetName({ arch, flavor: step.flavor });
      const a = artifacts.get(`${step.variant}:${tname}`)!;
      const params: GuestParams = {
        run: opts.runId,
        variant: step.variant,
        backend: step.backend,
        flavor: step.flavor,
        kunit: a.kunit,
        // Checker kernels run the KUnit suites; a benchmark there measures the checkers.
        modules: step.flavor === 'normal' ? opts.modules : [],
        ...(opts.provoke ? { provoke: opts.provoke } : {}),
      };
      const consoleLog = join(logs, `console-${step.variant}-${step.backend}${step.flavor === 'normal' ? '' : `-${step.flavor}`}-r${step.round}.log`);
      const cmdline = [...guestCmdline(params, a.image), ...(step.variant === 'patched' ? series.cmdline : []), ...opts.extraCmdline];
      const { cmd, args } = step.backend === 'uml'
        ? { cmd: a.kb.image, args: umlArgs({ kernel: a.kb.image, init: a.image.init, memoryMB: opts.memoryMB, cmdline }) }
        : { cmd: 'qemu-system-x86_64', args: qemuArgs({ backend: step.backend, kernel: a.kb.image, initrd: a.image.path, smp: opts.smp, memoryMB: opts.memoryMB, cmdline }) };
      log.info(`boot ${step.variant}${step.flavor === 'normal' ? '' : ` (${step.flavor})`} on ${step.backend} (round ${step.round + 1}/${opts.boots}) ...`);
      const out = await stage('boot', { variant: step.variant, backend: step.backend, ...(step.flavor === 'normal' ? {} : { arch: tname }) }, () =>
        boot({ cmd, args, consoleLog, silenceMs: opts.silenceTimeoutS * 1000, timeoutMs: opts.bootTimeoutS * 1000, signal }), () => false);
      const rec = collect(out, step, arch, relative(runDir, consoleLog), [cmd, ...args].join(' '), { tests, metrics, stress });
      bootRecords.push(rec);
      log.info(`  → ${rec.class}: ${rec.reason} (KUnit ${rec.kunit.pass} pass, ${rec.kunit.fail} fail, ${rec.kunit.skip} skip, ${rec.kunit.crashed} crashed)`);
      if (rec.class !== 'ok' && !out.watcher.proto.some((p) => p.kind === 'end')) {
        notRun.push({ variant: step.variant, backend: step.backend, reason: `round ${step.round}${step.flavor === 'normal' ? '' : ` (${step.flavor})`}: the guest did not finish (${rec.class}); what it had not run yet did not run` });
      }
    }

    const cls = worstClass(bootRecords.map((b) => b.class));
    await finishResults(cls);
    manifest.state = 'complete';
    manifest.class = cls;
    manifest.exitCode = EXIT_CODE[cls];
  } catch (e) {
    const err = e instanceof QkError ? e : new QkError('infra-error', e instanceof Error ? e.message : String(e), { cause: e });
    manifest.state = err.runClass === 'interrupted' ? 'interrupted' : 'failed';
    manifest.class = err.runClass;
    manifest.exitCode = err.exitCode;
    manifest.error = formatError(err);
    await finishResults(err.runClass).catch(() => undefined);
    manifest.finishedAt = new Date().toISOString();
    manifest.wallMs = Date.now() - t0;
    await saveManifest();
    throw err;
  }
  manifest.finishedAt = new Date().toISOString();
  manifest.wallMs = Date.now() - t0;
  await saveManifest();
  return { runDir, class: manifest.class!, exitCode: manifest.exitCode!, manifest, results };
}

function collect(
  out: BootOutcome,
  step: BootStep,
  arch: Arch,
  consoleLog: string,
  cmdline: string,
  into: { tests: TestRecord[]; metrics: Metric[]; stress: StressRecord[] },
): BootRecord {
  const { tests, metrics, stress } = into;
  for (const d of parseStressDiagnostics(out.watcher.lines)) {
    const suite = out.ktap.cases.find((c) => c.name === d.case)?.suite ?? '';
    stress.push({ variant: step.variant, backend: step.backend, flavor: step.flavor, round: step.round, suite, case: d.case, values: { ...d.values } });
  }
  for (const c of out.ktap.cases) {
    tests.push({ variant: step.variant, backend: step.backend, flavor: step.flavor, round: step.round, suite: c.suite, case: c.name, status: c.status, ...(c.reason ? { reason: c.reason } : {}) });
  }
  let badBench = 0;
  for (const p of out.watcher.proto) {
    if (p.kind !== 'bench') continue;
    const b = BenchLine.safeParse(p.data);
    if (!b.success) {
      badBench++;
      continue;
    }
    const { suite, case: name, unit, loops, samples, ...guest } = b.data;
    metrics.push({ name: `${suite}/${name}`, suite, case: name, unit, variant: step.variant, backend: step.backend, flavor: step.flavor, samples, ...(loops ? { loops } : {}), guest });
  }
  let { class: cls, reason } = out.verdict;
  if (cls === 'ok' && (badBench > 0 || out.watcher.protoErrors.length > 0)) {
    cls = 'test-failure';
    reason = `${badBench + out.watcher.protoErrors.length} malformed guest protocol line(s)`;
  }
  return {
    variant: step.variant,
    backend: step.backend,
    flavor: step.flavor,
    arch,
    round: step.round,
    class: cls,
    reason,
    findings: [...out.verdict.findings],
    reachedUserspace: out.verdict.reachedUserspace,
    guestStatus: out.verdict.guestStatus ?? null,
    wallMs: out.wallMs,
    consoleLog,
    cmdline,
    kunit: { ...out.ktap.counts },
  };
}

async function probeKvm(kernel: string, image: ImageResult, opts: RunOptions, consoleLog: string, signal: AbortSignal): Promise<{ ok: boolean; reason: string }> {
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return { ok: false, reason: '/dev/kvm is missing or not accessible' };
  }
  const cmdline = guestCmdline({ run: opts.runId, variant: 'probe', backend: 'kvm', modules: [], probe: true }, image);
  const out = await boot({
    cmd: 'qemu-system-x86_64',
    args: qemuArgs({ backend: 'kvm', kernel, initrd: image.path, smp: 1, memoryMB: 512, cmdline }),
    consoleLog,
    silenceMs: 20_000,
    timeoutMs: 60_000,
    signal,
  });
  if (out.verdict.reachedUserspace && out.verdict.guestStatus === 0) return { ok: true, reason: 'probe reached userspace' };
  // QEMU's own last words (an MSR it could not set, say) tell the user more than our verdict.
  const last = out.watcher.lines.filter((l) => l.startsWith('qemu-system')).pop();
  return { ok: false, reason: `probe boot ${out.verdict.class}: ${last ?? out.verdict.reason}` };
}
