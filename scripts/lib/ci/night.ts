/**
 * One night's record in the nightly history: what a nightly run of one base
 * kernel found, in a form later nights compare against. Stored as
 * <history>/<base>/<night>.json (one file per night and base kernel),
 * validated with this schema when read.
 */
import { z } from 'zod';
import { BACKENDS } from '../analysis/results.ts';

export const NIGHT_VERSION = 1;

export const STEP_STATUS = ['pass', 'fail', 'skip'] as const;

/** apply, build, boot and KUnit of one kernel tree (baseline, patched). */
export const TreeStatus = z.object({
  variant: z.string(),
  apply: z.enum(STEP_STATUS),
  build: z.enum(STEP_STATUS),
  boot: z.enum(STEP_STATUS),
  kunit: z.enum(STEP_STATUS),
  /** Why a step failed or was skipped (e.g. the conflicting files of a patch that does not apply). */
  reason: z.string().optional(),
});
export type TreeStatus = z.infer<typeof TreeStatus>;

export const NightTest = z.object({
  /** "kunit.<side>.<backend>.<suite>.<case>" or "boot.<side>.<backend>.<purpose>.r<round>" */
  name: z.string(),
  status: z.enum(['pass', 'fail', 'skip']),
  message: z.string().optional(),
  durationS: z.number().optional(),
});
export type NightTest = z.infer<typeof NightTest>;

/**
 * A figure tracked across nights. On icount the absolute figure (one guest
 * instruction per "ns") repeats between runs and is tracked itself; on
 * noisy backends only ratios measured inside one run are comparable between
 * nights (patched side ÷ baseline side of the same round).
 */
export const NightMetric = z.object({
  /** "slab/reuse@baseline/icount" (absolute) or "skb/alloc_free: patched vs baseline (uml)" (ratio). */
  key: z.string(),
  name: z.string(),
  backend: z.enum(BACKENDS),
  kind: z.enum(['absolute', 'ratio']),
  unit: z.string(),
  /** The single number: median of the per-boot figures, or the ratio's estimate. */
  value: z.number(),
  /** 95% interval where there is one (ratios on noisy backends), else the range of the figures. */
  lo: z.number(),
  hi: z.number(),
  /** Per-boot figures (absolute) or per-round ratios. */
  figures: z.array(z.number()),
  /** Every sample behind the figures (absolute only). */
  samples: z.array(z.array(z.number())).optional(),
});
export type NightMetric = z.infer<typeof NightMetric>;

export const Crash = z.object({
  /** sha256 prefix of the class and the first five stack frames. */
  fingerprint: z.string(),
  class: z.string(),
  frames: z.array(z.string()),
  side: z.string(),
  backend: z.string(),
  /** The console log, relative to the night's run directory. */
  log: z.string(),
  /** "new", or the night it was first seen. */
  seen: z.string(),
});
export type Crash = z.infer<typeof Crash>;

export const Finding = z.object({
  /**
   * new-failure, regression, crash and expectation-changed (a step the
   * base's expectations say fails, which did not: news, until the
   * expectation is updated) fail the night; fixed, improvement, flaky (a
   * noisy regression a second run did not repeat) and expected (a failure
   * the expectations declare) do not.
   */
  kind: z.enum(['new-failure', 'regression', 'crash', 'fixed', 'improvement', 'flaky', 'expected', 'expectation-changed']),
  key: z.string(),
  message: z.string(),
});
export type Finding = z.infer<typeof Finding>;

export const Night = z.object({
  version: z.literal(NIGHT_VERSION),
  /** "2026-12-02", or what --night said. */
  night: z.string(),
  /** "debian-6.12", "debian-6.1", "v6.18" ... */
  base: z.string(),
  startedAt: z.string(),
  wallMs: z.number(),
  kernel: z.object({
    version: z.string(),
    /** The base tree's commit: upstream's for --git and --tree, a local one made from the sources for Debian packages and tarballs. */
    commit: z.string().optional(),
    description: z.string(),
    /** Where the base came from (absent in older records): the Debian package, or the git repository and ref. */
    source: z
      .object({
        kind: z.enum(['debian', 'tarball', 'tree', 'git']),
        package: z.object({ name: z.string(), version: z.string() }).optional(),
        url: z.string().optional(),
        ref: z.string().optional(),
      })
      .optional(),
  }),
  /** The backends the night ran (its CI leg, e.g. ["uml"]); absent in older records. */
  backends: z.array(z.string()).optional(),
  tool: z.object({ commit: z.string().optional() }),
  series: z.object({
    hash: z.string(),
    patches: z.array(z.string()),
    /** Each patch file's sha256 (of its bytes alone), in order of application: KCIDB's patchset_hash is made from these. Absent in older records. */
    files: z.array(z.object({ name: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) })).optional(),
  }),
  /** The night's first run directory, where it was written (its logs go with CI artifacts, not the history). */
  runDir: z.string(),
  /** report.md of the run, copied into the history: <night>/report.md, relative to the record's directory. */
  report: z.string(),
  trees: z.array(TreeStatus),
  tests: z.array(NightTest),
  metrics: z.array(NightMetric),
  crashes: z.array(Crash),
  findings: z.array(Finding),
  /** ok: nothing new; regression: a finding fails the night; infra: the tool could not do its job. */
  result: z.enum(['ok', 'regression', 'infra']),
  exitCode: z.number().int(),
});
export type Night = z.infer<typeof Night>;
