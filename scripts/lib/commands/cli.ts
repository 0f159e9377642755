/**
 * The command line of scripts/run.mjs: flags become one typed, validated
 * options object; the work is in pipeline.ts. Only main() decides the exit
 * code, and the only place that prints errors.
 */
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { QkError, formatError, exitCodeOf } from '../plumbing/errors.ts';
import { intOf, listOf, usageFailure } from './command.ts';
import { consoleLogger } from '../plumbing/log.ts';
import { exists } from '../plumbing/fsutil.ts';
import { withInterrupts } from '../plumbing/signals.ts';
import { CONFIG_PROFILES, FLAVORS, type Flavor } from '../pipeline/kbuild.ts';
import { headlineSummary } from '../analysis/benchreport.ts';
import { checkRunInputs, runPipeline } from '../pipeline/pipeline.ts';
import { AA_CONTROLS, STOP_AFTER, buildRunOptions, runDefaults, sidesFromVariants, type AaControl, type BackendChoice, type RunOptions, type StopAfter } from '../pipeline/options.ts';
import { checkOtherSeries, parseSide } from '../pipeline/plan.ts';
import { BENCH_SETS, PROVOKE } from '../pipeline/boot.ts';
import { NET_DEFAULTS, NET_SCENARIOS, type NetScenario } from '../pipeline/net.ts';
import { BACKENDS, VARIANTS, type VariantName } from '../analysis/results.ts';
import { parseSourceSpec, sourceLabel, type SourceSpec } from '../pipeline/source.ts';
import { MULTI_TCG_MIN_MAJOR, QEMU_CHOICES, type QemuChoice } from '../pipeline/qemu.ts';
import { BUILD_HUGEPAGES, type BuildHugepagesChoice } from '../pipeline/hugepages.ts';

export const BACKEND_CHOICES = ['auto', ...BACKENDS] as const;
const TCG_THREADS = ['single', 'multi'] as const;

const list = listOf;
const int = intOf;

/** --uml-cpu: a host CPU number, auto (the last CPU of two or more) or none. */
export function umlCpuOption(value: string, cpus = availableParallelism()): { umlCpu?: number } {
  if (value === 'none') return {};
  if (value === 'auto') return cpus >= 2 ? { umlCpu: cpus - 1 } : {};
  return { umlCpu: int('--uml-cpu (a CPU number, auto or none)', 0, cpus - 1)(value) };
}

/** --numa: 1 to 8 nodes, each with an equal share of --smp's CPUs (a socket) and at least 128 MiB of --memory. */
export function numaOption(f: { numa: string; smp: string; memory: string }): { numaNodes?: number } {
  const nodes = int('--numa', 1, 8)(f.numa);
  if (nodes === 1) return {};
  const smp = int('--smp', 1, 64)(f.smp);
  const memory = int('--memory', 128, 65536)(f.memory);
  if (smp % nodes !== 0) throw new QkError('usage-error', `--numa ${nodes} needs the same number of CPUs on every node, and --smp is ${smp}`, { hint: `give --smp a multiple of ${nodes}` });
  if (memory / nodes < 128) throw new QkError('usage-error', `--numa ${nodes} with --memory ${memory} leaves a node less than 128 MiB`, { hint: `give --memory ${nodes * 128} or more` });
  return { numaNodes: nodes };
}

/** --config-profile rt builds PREEMPT_RT kernels, which UML cannot be. */
function profileOption(f: { configProfile: string; backend: string }): Record<string, never> {
  if (f.configProfile === 'rt' && f.backend.split(',').map((b) => b.trim()).includes('uml')) {
    throw new QkError('usage-error', '--config-profile rt: UML cannot build PREEMPT_RT (it does not select ARCH_SUPPORTS_RT), and --backend includes uml', { hint: '--backend tcg (or kvm, icount) --config-profile rt' });
  }
  return {};
}

export function buildCommand(): Command {
  // The defaults live in options.ts: the flags show them, and every other caller gets the same.
  const d = runDefaults();
  return new Command('run.mjs')
    .description(
      'Apply kernel-patches/ to a kernel tree, build baseline and patched kernels and the module(s) in module/,\n' +
        'boot them (QEMU kvm/tcg/icount, UML) and write results/<run-id>/ (manifest, logs, results.json, report.md).',
    )
    .addOption(new Option('--backend <list>', `comma-separated backends: ${BACKEND_CHOICES.join(', ')}; auto = kvm if a probe boot works, else tcg`).default(d.backends.join(',')))
    .option('--variants <list>', `kernel trees to compare, each booted with its series' command line: ${VARIANTS.join(', ')} (default: baseline,patched; with --other-series also other)`)
    .option('--side <spec>', "a side to compare instead of --variants: 'NAME=TREE[@BASE][/PROFILE] [KERNEL ARGS...]', a kernel (a tree: baseline, patched, other; of a base: debian:X.Y, default the run's source; built with a config profile, default --config-profile's) and, after a space, kernel arguments (after the series' own, so they win). Repeatable; sides of one kernel share its build. E.g. --side 'off=patched skb_qmempool=off', --side s612=baseline --side s73=baseline@debian:7.3, --side 'don=patched@debian:7.3/distro skb_qmempool=on'", (v: string, prev: string[] = []) => [...prev, v])
    .option('--source <base>', "kernel source: debian (the installed linux-source-6.12, the default) or debian:X.Y (linux-source-X.Y from the Debian registry, e.g. debian:7.3: looked up first, fetched once through a private apt configuration in the work directory)")
    .option('--tree <path>', 'kernel source: a git checkout (never modified; cloned with --shared)')
    .option('--ref <ref>', 'with --tree: commit to use (default HEAD); with --git: branch or tag')
    .option('--tarball <file>', 'kernel source: a source tarball')
    .option('--git <url>', 'kernel source: a git URL (with --ref)')
    .option('--series <dir>', 'patch series directory (the patched tree)', d.seriesDir)
    .option('--other-series <dir|rev>', "the series at another version, for the 'other' tree: a directory, or a revision of this repository (its kernel-patches/ is extracted into the run directory). Compare old and new with --side old=other --side new=patched")
    .option('--smp <n>', 'guest CPUs for QEMU backends (UML is uniprocessor)', String(d.smp))
    .option('--memory <MiB>', 'guest memory', String(d.memoryMB))
    .option('--numa <nodes>', "NUMA nodes of QEMU guests: --smp's CPUs (a socket per node; a multiple of the nodes) and --memory split evenly (ACPI SRAT); a guest that finds another count of nodes fails its boot. UML has one node", String(d.numaNodes))
    .option('--boots <n>', 'benchmark rounds per side and backend (interleaved A/B, order alternating). The exact signed-rank test can reach p < 0.05 from 6 pairs (p = 0.031); with fewer every comparison is "inconclusive". Verdicts are decided over all of a backend\'s comparisons (Benjamini–Hochberg), which needs more: 8 (smallest p 0.0078) is the default', String(d.boots))
    .option('--boot-timeout <s>', 'end a boot that has not finished after this long', String(d.bootTimeoutS))
    .option('--silence-timeout <s>', 'end a boot whose console is silent this long (a hang)', String(d.silenceTimeoutS))
    .option('-j, --jobs <n>', 'parallel make jobs', String(d.jobs))
    .option('-o, --output <dir>', 'results directory', d.outputDir)
    .option('--work-dir <dir>', 'base trees, variant trees and build directories (reused across runs)', d.workDir)
    .option('--run-id <id>', 'name of the run directory (default: UTC time + random suffix)')
    .addOption(new Option('--flavors <list>', `kernel flavors: ${FLAVORS.join(', ')}; debug = KASAN, lockdep, DEBUG_PREEMPT, kmemleak, slub_debug, KFENCE, memcg, allocation profiling; kcsan = KCSAN (x86_64/QEMU only)`).default(d.flavors.join(',')))
    .addOption(new Option('--config-profile <name>', 'benchmark kernels: small = tinyconfig (x86_64) or defconfig without the block layer (UML), plus every defconfig option the series\' paths feel (qemu/config/x86_64-small.config); trimmed = defconfig minus drivers a guest never uses; full = defconfig; distro = Debian\'s own config of the base (cloud-amd64, from linux-config-X.Y) without its modules, for UML the distribution options it can take (qemu/config/um-distro.config); rt = Debian\'s PREEMPT_RT config (QEMU backends only)').choices(CONFIG_PROFILES).default(d.profile))
    .option('--config <fragment...>', 'extra Kconfig fragment(s), merged last and checked like the others')
    .option('--append <args>', 'extra kernel command-line arguments')
    .option('--modules <list>', 'modules from module/ for the benchmark boots to load, in order (none: no module)', d.modules.join(','))
    .addOption(new Option('--aa-control <mode>', 'A/A control: the first side\'s kernel booted a second time in every round as a side of its own (<name>-aa, same build), to show how often the test fires on nothing. cheap: on the cheapest noisy backend of the run (uml first); all: on every backend; none; auto: cheap, or all with --bench full, none when no benchmark runs').choices(AA_CONTROLS).default(d.aaControl))
    .addOption(new Option('--bench <set>', 'benchmark cases: headline (the cases the report leads with) or full (every case and sweep: bulk sizes, outstanding counts, cross-CPU)').choices(BENCH_SETS).default(d.benchSet))
    .option('--net <list>', `packet scenarios for the benchmark boots, after the modules: ${NET_SCENARIOS.join(', ')} or all (pktgen into a dummy device: raw-table drop, IP forward, local UDP socket; a loopback TCP stream as control; a UDP flood from the host through virtio-net, dropped or forwarded, QEMU backends only)`)
    .option('--net-count <n>', 'pktgen packets per sample', String(NET_DEFAULTS.count))
    .option('--net-samples <n>', 'samples per scenario and boot', String(NET_DEFAULTS.samples))
    .option('--net-bytes <n>', 'bytes per TCP stream sample', String(NET_DEFAULTS.bytes))
    .option('--net-virtio-frames <n>', 'frames per virtio flood from the host', String(NET_DEFAULTS.vframes))
    .option('--net-virtio-seconds <s>', 'at most this long per virtio flood', String(NET_DEFAULTS.vseconds))
    .addOption(new Option('--net-break <scenario>', "leave a scenario's path unset (no raw rule, forwarding off, no UDP socket), to see its counter check fail").choices(NET_SCENARIOS))
    .addOption(new Option('--provoke <what>', 'make the guest fail on purpose (to check failure handling); oops-once crashes only the first boot (qk_attempt=1)').choices(PROVOKE))
    .addOption(new Option('--tcg-threads <mode>', `QEMU TCG threading for normal kernels: multi (true parallelism, for cross-CPU timing) or single (vCPUs take turns). Default: multi with QEMU >= ${MULTI_TCG_MIN_MAJOR}, single with older QEMU, whose multi-threaded TCG can crash a healthy guest (the run says so). Checker kernels always run single`).choices(TCG_THREADS))
    .option('--uml-cpu <cpu>', 'pin UML guests (one vCPU) to this host CPU with taskset: a number, auto (the last host CPU, when there are two or more) or none (the host schedules them). QEMU guests are never pinned: their vCPUs must run in parallel', 'none')
    .addOption(new Option('--qemu <which>', `the QEMU of the kvm, tcg and icount backends: registry (the newest built for this Debian release, from its backports: fetched once through the private apt configuration into <work-dir>/tools/, its libraries installed like other host packages), host (the installed qemu-system-x86), or auto: registry when it has QEMU >= ${MULTI_TCG_MIN_MAJOR} that can run here, else host`).choices(QEMU_CHOICES).default(d.qemu))
    .addOption(new Option('--stop-after <stage>', 'end the run after this stage, without booting: apply (the series applies), config (each kernel\'s .config is made and checked, nothing is compiled) or build (the kernels and modules build)').choices(STOP_AFTER))
    .addOption(new Option('--build-hugepages <mode>', "gcc's heap in transparent huge pages while the kernels and modules build: auto (on a host whose THP mode is madvise, preload scripts/lib/pipeline/qk-thp.c into make, which advises gcc's large mappings: about a quarter off a cold build here, the objects byte for byte the same) or off").choices(BUILD_HUGEPAGES).default(d.buildHugepages))
    .option('--lock-wait <s>', 'wait this long for another run using the same kernel trees (0: refuse at once)', String(d.lockWaitS))
    .option('--no-install', 'never install missing host packages; print the apt-get command and exit 2')
    .option('-q, --quiet', 'only print the summary and errors')
    .addHelpText(
      'after',
      `
Exit codes: 0 ok (also flaky: a crash on tcg that another boot did not
repeat); 1 the kernel or its tests failed (test-failure, panic, oops,
warning, hang, boot-failure, build-failure); 2 the tool could not do its job
(bad flag, missing tool, patch that does not apply, config or infra error);
3 kvm-unusable (--backend kvm, and its probe boot failed or hung: nothing
was booted); 130 interrupted.

Examples:
  npx zx scripts/run.mjs                          # Debian linux-source-6.12, auto+uml
  npx zx scripts/run.mjs --backend icount --boots 3
  npx zx scripts/run.mjs --tree ~/linux --ref v6.12 --backend uml
  npx zx scripts/run.mjs --source debian:7.3 --variants baseline --backend uml
                                                  # Linux 7.3 from the Debian registry
  npx zx scripts/run.mjs --backend uml,tcg --side s612=baseline --side s73=baseline@debian:7.3
                                                  # 6.12's SLUB against 7.3's sheaves, paired by round
  npx zx scripts/run.mjs --backend tcg --side 'off=patched skb_qmempool=off' --side 'on=patched skb_qmempool=on' --boots 6
                                                  # 6 rounds: the fewest that can give a verdict (p = 0.031)
  npx zx scripts/run.mjs --backend uml --modules none --net all --side baseline=baseline --side 'off=patched skb_qmempool=off' --side 'on=patched skb_qmempool=on'
                                                  # packet scenarios only, three sides
  npx zx scripts/run.mjs --backend tcg --bench full --other-series 9a40062 --side old=other --side new=patched
                                                  # the series at commit 9a40062 against kernel-patches/ now`,
    )
    .exitOverride()
    .configureOutput({ writeErr: () => {} });
}

interface RawFlags {
  backend: string;
  variants?: string;
  side?: string[];
  source?: string;
  tcgThreads?: (typeof TCG_THREADS)[number];
  umlCpu: string;
  qemu: QemuChoice;
  buildHugepages: BuildHugepagesChoice;
  lockWait: string;
  tree?: string;
  ref?: string;
  tarball?: string;
  git?: string;
  series: string;
  otherSeries?: string;
  smp: string;
  memory: string;
  numa: string;
  boots: string;
  bootTimeout: string;
  silenceTimeout: string;
  jobs: string;
  output: string;
  workDir: string;
  runId?: string;
  configProfile: (typeof CONFIG_PROFILES)[number];
  flavors: string;
  config?: string[];
  append?: string;
  modules: string;
  bench: (typeof BENCH_SETS)[number];
  aaControl: AaControl;
  net?: string;
  netCount: string;
  netSamples: string;
  netBytes: string;
  netVirtioFrames: string;
  netVirtioSeconds: string;
  netBreak?: NetScenario;
  provoke?: (typeof PROVOKE)[number];
  install: boolean;
  quiet?: boolean;
  stopAfter?: StopAfter;
}

/** The kernel source the source flags name (--source, --tree/--ref, --tarball, --git/--ref; none: the installed 6.12). */
export function sourceFromFlags(f: { source?: string | undefined; tree?: string | undefined; ref?: string | undefined; tarball?: string | undefined; git?: string | undefined }): SourceSpec {
  const sources = [f.source, f.tree, f.tarball, f.git].filter((x) => x !== undefined);
  if (sources.length > 1) throw new QkError('usage-error', 'choose one kernel source: --source, --tree, --tarball or --git');
  let source: SourceSpec;
  if (f.source) {
    if (f.ref) throw new QkError('usage-error', '--ref goes with --tree or --git');
    source = parseSourceSpec(f.source);
  } else if (f.tree) source = { kind: 'tree', path: resolve(f.tree), ...(f.ref ? { ref: f.ref } : {}) };
  else if (f.tarball) source = { kind: 'tarball', path: resolve(f.tarball) };
  else if (f.git) {
    if (!f.ref) throw new QkError('usage-error', '--git needs --ref (a branch or tag)');
    source = { kind: 'git', url: f.git, ref: f.ref };
  } else {
    if (f.ref) throw new QkError('usage-error', '--ref goes with --tree or --git');
    source = { kind: 'debian' };
  }
  return source;
}

export function optionsFromFlags(f: RawFlags, argv: readonly string[]): RunOptions {
  const source = sourceFromFlags(f);
  if (f.runId !== undefined && !/^[\w.-]+$/.test(f.runId)) throw new QkError('usage-error', `--run-id '${f.runId}' may only contain letters, digits, '.', '_' and '-'`);
  const modules = f.modules === 'none' ? [] : f.modules.split(',').map((s) => s.trim()).filter(Boolean);
  for (const m of modules) if (!/^\w+$/.test(m)) throw new QkError('usage-error', `--modules: '${m}' is not a module name`);
  if (f.side && f.variants) throw new QkError('usage-error', 'choose --variants or --side, not both (a side names its tree)');
  // A side on the run's own source names no base: one tree, one build. Neither flag: the default sides (options.ts).
  const sides = f.side
    ? f.side.map(parseSide).map(({ base, ...rest }) => (base === undefined || base === sourceLabel(source) ? rest : { ...rest, base }))
    : f.variants !== undefined ? sidesFromVariants(list<VariantName>('--variants', VARIANTS)(f.variants)) : undefined;
  if (sides) checkOtherSeries(sides, f.otherSeries);
  const scenarios = f.net === undefined ? [] : f.net === 'all' ? [...NET_SCENARIOS] : list<NetScenario>('--net', NET_SCENARIOS)(f.net);
  if (f.netBreak && !scenarios.includes(f.netBreak)) throw new QkError('usage-error', `--net-break ${f.netBreak}: that scenario is not in --net`);
  const net = scenarios.length === 0 ? undefined : {
    scenarios,
    count: int('--net-count', 1000, 100_000_000)(f.netCount),
    samples: int('--net-samples', 1, 1000)(f.netSamples),
    bytes: int('--net-bytes', 65536, 1 << 30)(f.netBytes),
    vframes: int('--net-virtio-frames', 1000, 100_000_000)(f.netVirtioFrames),
    vseconds: int('--net-virtio-seconds', 1, 600)(f.netVirtioSeconds),
    ...(f.netBreak ? { break: f.netBreak } : {}),
  };
  return buildRunOptions({
    source,
    seriesDir: resolve(f.series),
    ...(f.otherSeries !== undefined ? { otherSeries: f.otherSeries } : {}),
    ...(sides ? { sides } : {}),
    backends: list<BackendChoice>('--backend', BACKEND_CHOICES)(f.backend),
    smp: int('--smp', 1, 64)(f.smp),
    memoryMB: int('--memory', 128, 65536)(f.memory),
    ...numaOption(f),
    ...profileOption(f),
    boots: int('--boots', 1, 1000)(f.boots),
    bootTimeoutS: int('--boot-timeout', 5)(f.bootTimeout),
    silenceTimeoutS: int('--silence-timeout', 2)(f.silenceTimeout),
    jobs: int('--jobs', 1, 1024)(f.jobs),
    outputDir: resolve(f.output),
    workDir: resolve(f.workDir),
    ...(f.runId !== undefined ? { runId: f.runId } : {}),
    profile: f.configProfile,
    flavors: list<Flavor>('--flavors', FLAVORS)(f.flavors),
    extraFragments: (f.config ?? []).map((c) => resolve(c)),
    extraCmdline: f.append ? f.append.split(/\s+/).filter(Boolean) : [],
    modules,
    benchSet: f.bench,
    aaControl: f.aaControl,
    ...(net ? { net } : {}),
    provoke: f.provoke,
    ...(f.tcgThreads ? { tcgThreads: f.tcgThreads } : {}),
    ...umlCpuOption(f.umlCpu),
    qemu: f.qemu,
    buildHugepages: f.buildHugepages,
    lockWaitS: int('--lock-wait', 0)(f.lockWait),
    allowInstall: f.install,
    ...(f.stopAfter ? { stopAfter: f.stopAfter } : {}),
    argv,
  });
}

/**
 * run.mjs's flags (without node and script) as options, the way main()
 * reads them: for the commands that start run.mjs (runargv.ts). A mistake
 * is a usage error naming the flag.
 */
export function optionsFromArgv(argv: readonly string[]): RunOptions {
  const cmd = buildCommand();
  try {
    cmd.parse([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) throw new QkError('usage-error', `run.mjs ${argv.join(' ')}: ${e.message.replace(/^error: /, '')}`, { hint: 'see: npx zx scripts/run.mjs --help' });
    throw e;
  }
  return optionsFromFlags(cmd.opts<RawFlags>(), argv);
}

/** Parse argv (without node and script), run, and return the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const cmd = buildCommand();
  let opts: RunOptions;
  let quiet = false;
  // Every mistake in the flags and the paths they name is found here, before the run directory exists.
  try {
    cmd.parse([...argv], { from: 'user' });
    const f = cmd.opts<RawFlags>();
    quiet = Boolean(f.quiet);
    opts = optionsFromFlags(f, argv);
    await checkRunInputs(opts);
  } catch (e) {
    return usageFailure(cmd, e);
  }

  const log = consoleLogger({ quiet });
  try {
    const out = await withInterrupts((signal) => runPipeline(opts, log, signal));
    const head = out.results ? headlineSummary(out.results) : [];
    if (head.length > 0) process.stderr.write(`\n${head.join('\n')}\n`);
    process.stderr.write(`\n${out.class === 'ok' ? 'ok' : `result: ${out.class}`}: ${join(out.runDir, 'report.md')}\n`);
    return out.exitCode;
  } catch (e) {
    if (process.env['QK_DEBUG'] && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    const runDir = join(opts.outputDir, opts.runId);
    process.stderr.write(`\n${formatError(e)}\n${(await exists(runDir)) ? `run directory: ${runDir}\n` : ''}`);
    return exitCodeOf(e);
  }
}
