/**
 * What a run is asked to do: the options runPipeline takes (cli.ts makes
 * them from run.mjs's flags; `series check` passes its own), and the
 * choices some of them name. Types and constants only, so that the plan
 * (plan.ts) and the pipeline (pipeline.ts) share them without importing
 * each other.
 */
import type { SourceSpec } from './source.ts';
import type { ConfigProfile, Flavor } from './kbuild.ts';
import type { NetSpec } from './net.ts';
import type { BenchSet, Provoke } from './boot.ts';
import type { QemuChoice, TcgThreads } from './qemu.ts';
import type { Backend, Side } from '../analysis/results.ts';

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
  /** How long to wait for another run's lock on a tree (0: refuse at once). */
  readonly lockWaitS: number;
  readonly allowInstall: boolean;
  /** End the run after this stage (bisection by a criterion that needs no boot). */
  readonly stopAfter?: StopAfter;
  readonly argv: readonly string[];
}

export const STOP_AFTER = ['apply', 'config', 'build'] as const;
export type StopAfter = (typeof STOP_AFTER)[number];
