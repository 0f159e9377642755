/**
 * results.json: a versioned schema (zod) of what a run measured (report.ts
 * renders report.md from it). Every record carries its side (a kernel tree
 * plus its command line), backend, flavor, boot round and the boot's
 * position in the round: figures compare only within one run, and
 * comparisons pair the sides of one round rather than pooling boots.
 * `readResults` still reads schema version 1 files.
 */
import { z } from 'zod';
import { QkError, RUN_CLASSES, type RunClass } from '../plumbing/errors.ts';
import { readJson } from '../plumbing/fsutil.ts';

export const RESULTS_SCHEMA_VERSION = 2;

export const BACKENDS = ['kvm', 'tcg', 'icount', 'uml'] as const;
export type Backend = (typeof BACKENDS)[number];
/**
 * Kernel trees: the base, the base with the series applied (`--series`), and
 * the base with the series at another version (`--other-series`).
 */
export const VARIANTS = ['baseline', 'patched', 'other'] as const;
export type VariantName = (typeof VARIANTS)[number];
export const FLAVOR_NAMES = ['normal', 'debug', 'kcsan'] as const;
const flavor = z.enum(FLAVOR_NAMES).default('normal');

/** A side of a comparison: a kernel tree booted with a command line. */
export const Side = z.object({
  name: z.string().regex(/^[\w.-]+$/),
  variant: z.enum(VARIANTS),
  /** Kernel arguments of this side (after the guest's own and the series'). */
  cmdline: z.array(z.string()),
  /** The base the side's tree is built from, as spelled (`debian:7.3`); absent: the run's source. */
  base: z.string().optional(),
  /** The config profile of the side's kernel (`distro`), when not the run's --config-profile. */
  profile: z.string().optional(),
  /**
   * An A/A control: this side boots the same kernel image and command line
   * as the side named here, in the same rounds, so any difference between
   * the two is noise (or a position effect).
   */
  twinOf: z.string().optional(),
});
export type Side = z.infer<typeof Side>;

/** Where a record comes from: every record of a run carries these. */
const origin = {
  side: z.string(),
  variant: z.enum(VARIANTS),
  backend: z.enum(BACKENDS),
  flavor,
  round: z.number().int().nonnegative(),
  /** 0-based place of the boot within its round (sides alternate order). */
  position: z.number().int().nonnegative(),
};

/** The kernel reports a console log can show (console.ts finds them): a finding's kind. */
export const FINDING_KINDS = [
  'panic',
  'oops',
  'bug',
  'kasan',
  'kcsan',
  'kfence',
  'slub',
  'ubsan',
  'lockdep',
  'kmemleak',
  'warning',
  'soft-lockup',
  'rcu-stall',
  'hung-task',
] as const;

const Finding = z.object({ kind: z.enum(FINDING_KINDS), line: z.number().int(), text: z.string() });

const Attempt = z.object({
  attempt: z.number().int().positive(),
  class: z.enum(RUN_CLASSES),
  reason: z.string(),
  signature: z.string().optional(),
  consoleLog: z.string(),
  wallMs: z.number().nonnegative(),
});

export const BootRecord = z.object({
  ...origin,
  arch: z.enum(['x86_64', 'um']),
  /** 0-based index of the boot in the run. */
  seq: z.number().int().nonnegative(),
  /** kunit: the tree's KUnit suites; bench: the benchmark modules (absent: both, as runs before 0.2 did). */
  purpose: z.enum(['kunit', 'bench']).optional(),
  class: z.enum(RUN_CLASSES),
  reason: z.string(),
  findings: z.array(Finding),
  /** For crashes: kind, faulting function and first stack frames. */
  signature: z.string().optional(),
  reachedUserspace: z.boolean(),
  guestStatus: z.number().int().nullable(),
  wallMs: z.number().nonnegative(),
  consoleLog: z.string(),
  /** The kernel command line. */
  cmdline: z.string(),
  /** A shell command that runs this boot again. */
  reproduce: z.string(),
  /** Every boot of this step: more than one when a crash had to be confirmed. */
  attempts: z.array(Attempt),
  /** A crash on an emulated backend that another boot did not repeat. */
  flaky: z.object({ class: z.enum(RUN_CLASSES), signature: z.string().optional(), attempt: z.number().int() }).optional(),
  kunit: z.object({ pass: z.number(), fail: z.number(), skip: z.number(), crashed: z.number() }),
});
export type BootRecord = z.infer<typeof BootRecord>;

export const TestRecord = z.object({
  ...origin,
  suite: z.string(),
  case: z.string(),
  status: z.enum(['pass', 'fail', 'skip', 'crashed']),
  reason: z.string().optional(),
});
export type TestRecord = z.infer<typeof TestRecord>;

export const Metric = z.object({
  /** "suite/case". */
  name: z.string(),
  suite: z.string(),
  case: z.string(),
  unit: z.string(),
  ...origin,
  /** The boot (BootRecord.seq) that produced the samples. */
  boot: z.number().int().nonnegative(),
  samples: z.array(z.number()).min(1),
  /** Samples left out of the figures: taken while the host ran the guest's CPU slow (hostspeed.ts). */
  slowed: z.array(z.number()).min(1).optional(),
  /** Operations timed per sample. */
  loops: z.number().int().positive().optional(),
  group: z.string().optional(),
  param: z.number().optional(),
  per: z.string().optional(),
  peer: z.string().optional(),
  /** The guest's own view, as it reported it. */
  guest: z.record(z.string(), z.unknown()).optional(),
});
export type Metric = z.infer<typeof Metric>;

export const StressRecord = z.object({
  ...origin,
  suite: z.string(),
  case: z.string(),
  values: z.record(z.string(), z.number()),
});
export type StressRecord = z.infer<typeof StressRecord>;

/** A benchmark case the guest reported as skipped (not applicable) or failed, with why. */
export const BenchStatus = z.object({
  ...origin,
  boot: z.number().int().nonnegative(),
  suite: z.string(),
  case: z.string(),
  group: z.string().optional(),
  param: z.number().optional(),
  /** slowed: too few samples taken at speed (hostspeed.ts). */
  status: z.enum(['skip', 'error', 'slowed']),
  reason: z.string(),
});
export type BenchStatus = z.infer<typeof BenchStatus>;

/** A series a kernel tree carried: its hash, its patches and where it came from (a directory, or a revision of this repository). */
export const SeriesRef = z.object({ hash: z.string(), patches: z.array(z.string()), from: z.string() });
export type SeriesRef = z.infer<typeof SeriesRef>;

export const NotRun = z.object({ side: z.string().optional(), variant: z.string(), backend: z.string(), reason: z.string() });

/**
 * A side against an earlier one on one case and backend, paired by round:
 * bench.ts sideComparisons(), the figures report.md's side tables show.
 * Derived from `metrics`, kept for readers of results.json. Fields after
 * `basis` were added with the multiple-comparison correction; files written
 * before it lack them.
 */
export const SideVerdict = z.object({
  name: z.string(),
  backend: z.enum(BACKENDS),
  unit: z.string(),
  ref: z.string(),
  side: z.string(),
  /** Medians over the paired rounds. */
  refMedian: z.number(),
  sideMedian: z.number(),
  n: z.number().int(),
  /** side / ref (Hodges–Lehmann), with its interval where n allows one. */
  ratio: z.number(),
  lo: z.number().optional(),
  hi: z.number().optional(),
  p: z.number().optional(),
  verdict: z.string(),
  basis: z.string(),
  /** The interval's achieved coverage (0.961 at n = 8). */
  level: z.number().optional(),
  /** Benjamini–Hochberg q-value within the family, and the number of tests in it. */
  q: z.number().optional(),
  tests: z.number().int().optional(),
  /** The smallest p these pairs could have given. */
  pMin: z.number().optional(),
  /** exact: enumerated signed-rank distribution (ties and zeros included); normal: approximation (many pairs). */
  method: z.enum(['exact', 'normal']).optional(),
  /** Median of the per-round ratios. */
  medianRatio: z.number().optional(),
  /** Rounds left out because a figure was ≤ 0. */
  dropped: z.number().int().optional(),
  /** The practical threshold (relative change) the verdict used. */
  threshold: z.number().optional(),
  /** An A/A control comparison (a side against its twin). */
  control: z.boolean().optional(),
});
export type SideVerdict = z.infer<typeof SideVerdict>;

/** A family of tests decided together (bench.ts Family): its size and what survived the correction. */
export const FamilyRecord = z.object({
  backend: z.enum(BACKENDS),
  kind: z.enum(['comparisons', 'control']),
  tests: z.number().int(),
  significantRaw: z.number().int(),
  changes: z.number().int(),
  changesRaw: z.number().int(),
  inconclusive: z.number().int(),
  threshold: z.number(),
  alpha: z.number(),
  /** Control families: the twin, its original, the expected and allowed counts of p ≤ α, and the flag. */
  side: z.string().optional(),
  twinOf: z.string().optional(),
  expected: z.number().optional(),
  allowed: z.number().int().optional(),
  flagged: z.boolean().optional(),
});
export type FamilyRecord = z.infer<typeof FamilyRecord>;

export const Results = z.object({
  schemaVersion: z.literal(RESULTS_SCHEMA_VERSION),
  runId: z.string(),
  class: z.enum(RUN_CLASSES),
  sides: z.array(Side),
  /** The series each tree carried (baseline: none); absent in runs written before --other-series. */
  series: z.object({ patched: SeriesRef.optional(), other: SeriesRef.optional() }).optional(),
  boots: z.array(BootRecord),
  tests: z.array(TestRecord),
  metrics: z.array(Metric),
  /** Totals our KUnit stress tests report (elements moved, CPUs, ...). */
  stress: z.array(StressRecord).default([]),
  /** Cases that did not produce figures, per boot: skipped (with why) or failed. */
  benchStatus: z.array(BenchStatus).default([]),
  /** Benchmarks or boots that were asked for and could not run, with why. */
  notRun: z.array(NotRun),
  /** Every side against every earlier one (derived from metrics; absent in older runs). */
  comparisons: z.array(SideVerdict).default([]),
  /** The families the verdicts were decided in: tests per backend, and the A/A control (absent in older runs). */
  families: z.array(FamilyRecord).default([]),
});
export type Results = z.infer<typeof Results>;

/* ---- schema version 1, read only ---------------------------------------- */

const v1origin = { variant: z.enum(VARIANTS), backend: z.enum(BACKENDS), flavor };
const ResultsV1 = z.object({
  schemaVersion: z.literal(1),
  runId: z.string(),
  class: z.enum(RUN_CLASSES),
  boots: z.array(z.object({
    ...v1origin,
    arch: z.enum(['x86_64', 'um']),
    round: z.number().int().nonnegative(),
    class: z.enum(RUN_CLASSES),
    reason: z.string(),
    findings: z.array(Finding),
    reachedUserspace: z.boolean(),
    guestStatus: z.number().int().nullable(),
    wallMs: z.number().nonnegative(),
    consoleLog: z.string(),
    cmdline: z.string(),
    kunit: z.object({ pass: z.number(), fail: z.number(), skip: z.number(), crashed: z.number() }),
  })),
  tests: z.array(z.object({ ...v1origin, round: z.number().int().nonnegative(), suite: z.string(), case: z.string(), status: z.enum(['pass', 'fail', 'skip', 'crashed']), reason: z.string().optional() })),
  metrics: z.array(z.object({
    name: z.string(), suite: z.string(), case: z.string(), unit: z.string(), ...v1origin,
    samples: z.array(z.number()).min(1), loops: z.number().int().positive().optional(), guest: z.record(z.string(), z.unknown()).optional(),
  })),
  stress: z.array(z.object({ ...v1origin, round: z.number().int().nonnegative(), suite: z.string(), case: z.string(), values: z.record(z.string(), z.number()) })).default([]),
  notRun: z.array(z.object({ variant: z.string(), backend: z.string(), reason: z.string() })),
});

/**
 * A results.json file of any schema version, read into the current one:
 * undefined when missing; an error naming the file, with every problem the
 * schema found, when it is not JSON or not a results.json.
 */
export async function readResultsFile(path: string, runClass: RunClass = 'infra-error'): Promise<Results | undefined> {
  const raw = await readJson(path, z.unknown(), { what: 'results.json', runClass });
  if (raw === undefined) return undefined;
  try {
    return readResults(raw);
  } catch (e) {
    throw new QkError(runClass, `${path} is not a results.json this tool reads:`, { details: e instanceof z.ZodError ? z.prettifyError(e) : (e as Error).message });
  }
}

/**
 * Read a results.json of any schema version into the current one. Version 1
 * had variants instead of sides and no positions; a v1 metric had no round,
 * so the n-th metric of a name on (variant, backend, flavor) is given to the
 * n-th boot there (each boot printed each metric once).
 */
export function readResults(json: unknown): Results {
  const version = z.looseObject({ schemaVersion: z.unknown() }).safeParse(json).data?.schemaVersion;
  if (version === RESULTS_SCHEMA_VERSION) return Results.parse(json);
  if (version !== 1) throw new Error(`results.json has schema version ${String(version)}; this tool reads 1 and ${RESULTS_SCHEMA_VERSION}`);
  const v1 = ResultsV1.parse(json);
  const key = (o: { variant: string; backend: string; flavor: string }) => `${o.variant}\0${o.backend}\0${o.flavor}`;
  const boots = v1.boots.map((b, seq) => {
    const position = v1.boots.slice(0, seq).filter((o) => o.round === b.round && o.backend === b.backend && o.flavor === b.flavor).length;
    return { ...b, side: b.variant, seq, position, reproduce: '', attempts: [{ attempt: 1, class: b.class, reason: b.reason, consoleLog: b.consoleLog, wallMs: b.wallMs }] };
  });
  const bootOf = (o: { variant: string; backend: string; flavor: string; round?: number }, nth: number) =>
    (o.round === undefined ? boots.filter((b) => key(b) === key(o))[nth] : boots.find((b) => key(b) === key(o) && b.round === o.round));
  const seen = new Map<string, number>();
  const metrics = v1.metrics.map((m) => {
    const k = `${key(m)}\0${m.name}`;
    const nth = seen.get(k) ?? 0;
    seen.set(k, nth + 1);
    const b = bootOf(m, nth);
    return { ...m, side: m.variant, round: b?.round ?? nth, position: b?.position ?? 0, boot: b?.seq ?? 0 };
  });
  const withPos = <T extends { variant: string; backend: string; flavor: string; round: number }>(o: T) => ({ ...o, side: o.variant, position: bootOf(o, 0)?.position ?? 0 });
  const sides = [...new Set(v1.boots.map((b) => b.variant))].map((v) => ({ name: v, variant: v, cmdline: [] }));
  return Results.parse({
    schemaVersion: RESULTS_SCHEMA_VERSION,
    runId: v1.runId,
    class: v1.class,
    sides,
    boots,
    tests: v1.tests.map(withPos),
    metrics,
    stress: v1.stress.map(withPos),
    notRun: v1.notRun,
  });
}

/**
 * The guest's QK-BENCH payload: a case with figures, or a case that could
 * not run here (`skip`: the kernel lacks what it measures, or it needs two
 * CPUs) or failed (`error`), with the reason.
 */
export const BenchLine = z.object({
  suite: z.string().min(1),
  case: z.string().min(1),
  status: z.enum(['ok', 'skip', 'error']).default('ok'),
  reason: z.string().optional(),
  /** Chart group and its x value (bulk size, objects outstanding; 1 if none). */
  group: z.string().optional(),
  param: z.number().optional(),
  unit: z.string().min(1).optional(),
  /** What one counted operation is: op, object, element, packet. */
  per: z.string().optional(),
  loops: z.number().int().positive().optional(),
  samples: z.array(z.number()).min(1).optional(),
  /** "suite/case" of the case in the same boot this one is measured against. */
  peer: z.string().optional(),
}).passthrough().superRefine((b, ctx) => {
  if (b.status === 'ok' && (!b.unit || !b.samples)) ctx.addIssue({ code: 'custom', message: 'a case with figures needs "unit" and "samples"' });
  if (b.status !== 'ok' && !b.reason) ctx.addIssue({ code: 'custom', message: `a case with status ${b.status} needs a "reason"` });
});
export type BenchLine = z.infer<typeof BenchLine>;

