/**
 * What a run is asked to do: the options runPipeline takes, the choices
 * some of them name, and the one place their defaults live. Every caller
 * makes its options with buildRunOptions(): run.mjs's command line (cli.ts,
 * whose flags show these defaults), `series check`, and through run.mjs the
 * runs bisection and nightly start. Neither the plan (plan.ts) nor the
 * pipeline (pipeline.ts) is imported here, so both can use these.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, newRunId } from '../plumbing/paths.ts';
import { DEFAULT_LOCK_WAIT_MS } from '../plumbing/lock.ts';
import type { SourceSpec } from './source.ts';
import { DEFAULT_PROFILE, type ConfigProfile, type Flavor } from './kbuild.ts';
import type { NetSpec } from './net.ts';
import type { BenchSet, Provoke } from './boot.ts';
import type { QemuChoice, TcgThreads } from './qemu.ts';
import type { BuildHugepagesChoice } from './hugepages.ts';
import type { Backend, Side, VariantName } from '../analysis/results.ts';

/**
 * The A/A control: the first side's kernel and command line booted a second
 * time in every round, as a side of its own (its twin). Nothing differs
 * between the two, so how often the test calls them different is the
 * run's real false-positive rate. `cheap` boots the twin on the cheapest
 * noisy backend of the run only (uml: about a second a boot), `all` on
 * every backend; `auto` is cheap for the headline set, all for --bench full.
 */
export const AA_CONTROLS = ['auto', 'none', 'cheap', 'all'] as const;
export type AaControl = (typeof AA_CONTROLS)[number];

export type BackendChoice = Backend | 'auto';

export interface RunOptions {
  readonly source: SourceSpec;
  /** The other bases sides name (`debian:7.3`), each resolved (resolveSources) before the run starts. */
  readonly bases?: Readonly<Record<string, SourceSpec>>;
  readonly seriesDir: string;
  /** The series of the `other` tree: a directory, or a revision of this repository (its kernel-patches/). */
  readonly otherSeries?: string;
  /** What to compare: kernel trees with their command lines. */
  readonly sides: readonly Side[];
  /** The A/A control (AA_CONTROLS above): the first side booted twice per round; absent: none. */
  readonly aaControl?: Exclude<AaControl, 'auto'>;
  readonly backends: readonly BackendChoice[];
  readonly smp: number;
  readonly memoryMB: number;
  /** NUMA nodes of QEMU guests (--numa; CPUs and memory split evenly); absent or 1: one node. UML has one. */
  readonly numaNodes?: number;
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
  /** Benchmark set the bench modules run: the headline cases or the full sweeps. */
  readonly benchSet: BenchSet;
  /** Packet scenarios the benchmark boots run after the modules (none: scenarios empty). */
  readonly net?: NetSpec;
  readonly provoke: Provoke | undefined;
  /**
   * TCG threading for normal-flavor boots; checker kernels always run
   * single-threaded. Absent: multi-threaded with QEMU >= 10, else single
   * (qemu.ts tcgThreadsFor).
   */
  readonly tcgThreads?: TcgThreads | undefined;
  /** Host CPU UML guests are pinned to (taskset); undefined: not pinned. */
  readonly umlCpu?: number | undefined;
  /** Which QEMU runs the QEMU backends (qemu.ts); absent: auto. */
  readonly qemu?: QemuChoice | undefined;
  /** The compiler's heap in huge pages (hugepages.ts); absent: auto. */
  readonly buildHugepages?: BuildHugepagesChoice | undefined;
  /** How long to wait for another run's lock on a tree (0: refuse at once). */
  readonly lockWaitS: number;
  readonly allowInstall: boolean;
  /** End the run after this stage (bisection by a criterion that needs no boot). */
  readonly stopAfter?: StopAfter;
  readonly argv: readonly string[];
}

export const STOP_AFTER = ['apply', 'config', 'build'] as const;
export type StopAfter = (typeof STOP_AFTER)[number];

/** Trees compared when no side is named: these, and `other` too when otherSeries is given. */
export const DEFAULT_VARIANTS: readonly VariantName[] = ['baseline', 'patched'];
/** The benchmark modules in module/, loaded in this order. */
export const DEFAULT_BENCH_MODULES: readonly string[] = ['qk_bench', 'qk_bench_queue', 'qk_bench_skb'];

/** The default sides: one per variant, its series' own command line only. */
export function sidesFromVariants(variants: readonly VariantName[]): Side[] {
  return variants.map((v) => ({ name: v, variant: v, cmdline: [] }));
}

/** The settings that have a default; the others a caller gives, or they are absent unless asked for. */
export type RunDefaults = Pick<RunOptions, 'seriesDir' | 'outputDir' | 'workDir' | 'jobs' | 'backends' | 'smp' | 'memoryMB' | 'boots' | 'bootTimeoutS' | 'silenceTimeoutS' | 'profile' | 'flavors' | 'modules' | 'benchSet' | 'lockWaitS' | 'allowInstall'> & {
  /** Before it is resolved (resolveAaControl). */
  readonly aaControl: AaControl;
  readonly qemu: QemuChoice;
  readonly buildHugepages: BuildHugepagesChoice;
  /** One node: RunOptions.numaNodes is then absent. */
  readonly numaNodes: number;
};

/** The defaults on this host (its CPUs, QK_WORK_DIR): run.mjs's flags show them, buildRunOptions fills them in. */
export function runDefaults(env: Readonly<Record<string, string | undefined>> = process.env): RunDefaults {
  return {
    seriesDir: join(REPO_ROOT, 'kernel-patches'),
    outputDir: join(REPO_ROOT, 'results'),
    // Shared by every command of the kit: trees and builds are reused across runs.
    workDir: env['QK_WORK_DIR'] ?? join(REPO_ROOT, '.work'),
    // One job more than CPUs: while one job links or runs objtool, two still
    // compile. On 2 cores a cold build of fs, kernel, mm and net/ipv4
    // (x86_64, no ccache) took 222 and 208 s with -j2, 210 and 198 s with -j3.
    jobs: availableParallelism() + 1,
    backends: ['auto', 'uml'],
    smp: 2,
    memoryMB: 1024,
    numaNodes: 1,
    // The exact signed-rank test's smallest p is then 0.0078, enough for the Benjamini–Hochberg correction.
    boots: 8,
    bootTimeoutS: 900,
    silenceTimeoutS: 120,
    profile: DEFAULT_PROFILE,
    flavors: ['normal'],
    modules: DEFAULT_BENCH_MODULES,
    benchSet: 'headline',
    aaControl: 'auto',
    qemu: 'auto',
    buildHugepages: 'auto',
    lockWaitS: DEFAULT_LOCK_WAIT_MS / 1000,
    allowInstall: true,
  };
}

/** What a caller asks of a run: any of the options (absent: the default), the A/A control possibly still `auto`. */
export type RunRequest = Partial<Omit<RunOptions, 'aaControl'>> & { readonly aaControl?: AaControl };

/** `auto`: the twin costs a second on uml, so the headline run carries it there, the full sweep everywhere; no benchmark, no control. */
export function resolveAaControl(mode: AaControl, o: { benchSet: BenchSet; modules: readonly string[]; net: boolean }): Exclude<AaControl, 'auto'> {
  if (mode !== 'auto') return mode;
  if (o.modules.length === 0 && !o.net) return 'none';
  return o.benchSet === 'full' ? 'all' : 'cheap';
}

/**
 * A run's options: what `r` asks, the defaults (runDefaults) for the rest.
 * No side given: the default variants' (with `other` when otherSeries is).
 * The A/A control is resolved here (`auto` by what the run benchmarks), and
 * a run id made when none is given.
 */
export function buildRunOptions(r: RunRequest = {}, d: RunDefaults = runDefaults()): RunOptions {
  const modules = r.modules ?? d.modules;
  const benchSet = r.benchSet ?? d.benchSet;
  return {
    source: r.source ?? { kind: 'debian' },
    ...(r.bases ? { bases: r.bases } : {}),
    seriesDir: r.seriesDir ?? d.seriesDir,
    ...(r.otherSeries !== undefined ? { otherSeries: r.otherSeries } : {}),
    sides: r.sides ?? sidesFromVariants(r.otherSeries === undefined ? DEFAULT_VARIANTS : [...DEFAULT_VARIANTS, 'other']),
    aaControl: resolveAaControl(r.aaControl ?? d.aaControl, { benchSet, modules, net: (r.net?.scenarios.length ?? 0) > 0 }),
    backends: r.backends ?? d.backends,
    smp: r.smp ?? d.smp,
    memoryMB: r.memoryMB ?? d.memoryMB,
    ...(r.numaNodes !== undefined && r.numaNodes !== d.numaNodes ? { numaNodes: r.numaNodes } : {}),
    bootTimeoutS: r.bootTimeoutS ?? d.bootTimeoutS,
    silenceTimeoutS: r.silenceTimeoutS ?? d.silenceTimeoutS,
    boots: r.boots ?? d.boots,
    jobs: r.jobs ?? d.jobs,
    outputDir: r.outputDir ?? d.outputDir,
    workDir: r.workDir ?? d.workDir,
    runId: r.runId ?? newRunId(),
    profile: r.profile ?? d.profile,
    flavors: r.flavors ?? d.flavors,
    extraFragments: r.extraFragments ?? [],
    extraCmdline: r.extraCmdline ?? [],
    modules,
    benchSet,
    ...(r.net ? { net: r.net } : {}),
    provoke: r.provoke,
    ...(r.tcgThreads ? { tcgThreads: r.tcgThreads } : {}),
    ...(r.umlCpu !== undefined ? { umlCpu: r.umlCpu } : {}),
    qemu: r.qemu ?? d.qemu,
    buildHugepages: r.buildHugepages ?? d.buildHugepages,
    lockWaitS: r.lockWaitS ?? d.lockWaitS,
    allowInstall: r.allowInstall ?? d.allowInstall,
    ...(r.stopAfter ? { stopAfter: r.stopAfter } : {}),
    argv: r.argv ?? [],
  };
}
