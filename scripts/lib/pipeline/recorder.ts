/**
 * The run directory and everything written into it. One Recorder owns
 * manifest.json, results.json and report.md of a run; each boot attempt
 * leaves its console log and, beside it, a facts file with what the console
 * does not say (how the boot ended, wall time, exit code, argument vector).
 * results.json is a pure function of those files and the manifest
 * (`assembleResults`): `parse.mjs --run DIR` rebuilds it byte for byte.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { EXIT_CODE, QkError, RUN_CLASSES, formatError, type RunClass } from '../plumbing/errors.ts';
import { readJson, writeFileAtomic, writeJsonAtomic } from '../plumbing/fsutil.ts';
import { classify, confirm, logLines, BOOT_ENDINGS, type Classification } from './classify.ts';
import { worstClass } from './console.ts';
import { shellQuote } from '../plumbing/quote.ts';
import { interactiveArgv } from './boot.ts';
import { BACKENDS, FLAVOR_NAMES, RESULTS_SCHEMA_VERSION, Results, Side, VARIANTS, type BenchStatus, type BootRecord, type FamilyRecord, type Metric, type SideVerdict, type StressRecord, type TestRecord } from '../analysis/results.ts';
import { renderReport } from '../analysis/report.ts';
import { judged } from '../analysis/bench.ts';
import { FILTERED_BACKENDS, HOST_SLOW_FACTOR, MIN_KEPT_SAMPLES, fastLevels, levelKeys, levelsFor, referenceReadings, splitSlowed } from '../analysis/hostspeed.ts';
import { ALPHA } from '../analysis/stats.ts';
import type { Logger } from '../plumbing/log.ts';
import { writeBenchArtifacts } from '../analysis/charts.ts';

/** What one boot attempt was, beyond its console log. */
export const AttemptFacts = z.object({
  factsVersion: z.literal(1),
  seq: z.number().int().nonnegative(),
  attempt: z.number().int().positive(),
  side: z.string(),
  variant: z.enum(VARIANTS),
  backend: z.enum(BACKENDS),
  flavor: z.enum(FLAVOR_NAMES),
  arch: z.enum(['x86_64', 'um']),
  round: z.number().int().nonnegative(),
  position: z.number().int().nonnegative(),
  /** What the boot ran: the KUnit suites or the benchmarks (absent before they had boots of their own). */
  purpose: z.enum(['kunit', 'bench']).optional(),
  /** Relative to the run directory. */
  consoleLog: z.string(),
  ending: z.enum(BOOT_ENDINGS),
  wallMs: z.number().nonnegative(),
  exitCode: z.number().int().nullable(),
  /** The program and its arguments. */
  argv: z.array(z.string()),
  /** The kernel command line of this boot. */
  kernelCmdline: z.string(),
});
export type AttemptFacts = z.infer<typeof AttemptFacts>;

export const StageRecord = z.object({
  stage: z.string(),
  variant: z.string().optional(),
  arch: z.string().optional(),
  backend: z.string().optional(),
  wallMs: z.number(),
  cached: z.boolean(),
  status: z.enum(['ok', 'failed']),
  /**
   * A kernel build directory started as a copy of another tree's build
   * (seed.ts): on the `seed` stage, what was copied and touched; on the
   * `build` stage, what the first build after the seed rebuilt and that the
   * rebuild check passed.
   */
  seed: z.object({
    /** The build copied: `baseline/x86_64`. */
    from: z.string(),
    /** Files of the series touched after the copy. */
    touched: z.number(),
    /** seed: build-directory files whose tree paths were rewritten. */
    rewritten: z.number().optional(),
    /** build: objects the first build after the seed wrote. */
    rebuilt: z.number().optional(),
    /** build: objects of files the series touched, every one of them rebuilt. */
    checked: z.number().optional(),
    /** build: the rebuild check passed (a failing check fails the stage). */
    check: z.literal('passed').optional(),
  }).optional(),
});
export type StageRecord = z.infer<typeof StageRecord>;

const SeriesRecord = z.object({ dir: z.string(), hash: z.string(), patches: z.array(z.string()), base: z.string().optional() });

/** A base as a run records it: for a registry package, its name, version, suite and sha256. */
export const BaseRecord = z.object({
  description: z.string(),
  version: z.string(),
  baseCommit: z.string(),
  key: z.string(),
  package: z.object({ name: z.string(), version: z.string(), suite: z.string(), sha256: z.string() }).optional(),
  /** The version of the series the patched tree of this base carries. */
  series: SeriesRecord.optional(),
});
export type BaseRecord = z.infer<typeof BaseRecord>;

/** manifest.json: what a run was asked, what it found and did, and how it ended. */
export const Manifest = z.object({
  schemaVersion: z.literal(2),
  runId: z.string(),
  state: z.enum(['running', 'complete', 'failed', 'interrupted']),
  class: z.enum(RUN_CLASSES).optional(),
  exitCode: z.number().int().optional(),
  error: z.string().optional(),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  wallMs: z.number().optional(),
  argv: z.array(z.string()).readonly(),
  /** A shell command that runs this run again (a new run id). */
  reproduce: z.string(),
  tool: z.object({ version: z.string(), commit: z.string().optional(), dirty: z.boolean().optional() }),
  host: z.object({ hostname: z.string(), os: z.string(), kernel: z.string(), cpus: z.number(), memoryGiB: z.number(), kvm: z.boolean() }),
  toolchain: z.record(z.string(), z.string().optional()),
  /** The compiler's heap in huge pages (hugepages.ts): the host's THP mode, the preload if any, and why. */
  compiler: z.object({ thp: z.string(), preload: z.string().optional(), note: z.string() }).optional(),
  options: z.record(z.string(), z.unknown()),
  sides: z.array(Side).readonly(),
  source: BaseRecord.optional(),
  /** The other bases sides name (`debian:7.3`), as the source is recorded. */
  bases: z.record(z.string(), BaseRecord).optional(),
  series: SeriesRecord.optional(),
  /** The series of the `other` tree (--other-series): a directory, or a revision of this repository extracted into the run directory. */
  otherSeries: z.object({ dir: z.string(), hash: z.string(), patches: z.array(z.string()), revision: z.string().optional(), commit: z.string().optional() }).optional(),
  /** Kernel trees by id (`patched`, `baseline@debian:7.3`). */
  variants: z.record(z.string(), z.object({
    head: z.string(),
    treeHash: z.string(),
    patches: z.array(z.string()).readonly(),
    base: z.string().optional(),
    builds: z.record(z.string(), z.object({
      configHash: z.string(),
      optionsSet: z.number(),
      buildKey: z.string(),
      image: z.string(),
      modules: z.array(z.string()),
      kunitModules: z.array(z.string()).readonly(),
      /** The config profile (older manifests: absent, the default's). */
      profile: z.string().optional(),
      /** distro and rt: Debian's config and what differs from it (kbuild.ts DistroRecord). */
      distro: z.object({ file: z.string(), package: z.object({ name: z.string(), version: z.string(), suite: z.string(), sha256: z.string() }), note: z.string().optional(), changes: z.array(z.string()).readonly() }).optional(),
      cannotHave: z.object({ options: z.array(z.string()).readonly(), why: z.string() }).optional(),
      /** The options the series' fast paths feel, as the .config has them (distro.ts SERIES_OPTIONS). */
      seriesOptions: z.record(z.string(), z.string()).optional(),
    })),
  })),
  backends: z.object({ requested: z.array(z.string()).readonly(), resolved: z.array(z.string()), note: z.string().optional(), tcgThreads: z.string().optional(), tcgThreadsWhy: z.string().optional() }).optional(),
  /** How UML guests ran: the directory their memory file went in, and the host CPU they were pinned to (null: not pinned). */
  uml: z.object({ tmpDir: z.string(), cpu: z.number().int().nonnegative().nullable(), warning: z.string().optional() }).optional(),
  /**
   * The QEMU the QEMU backends ran (qemu.ts): the host's or the registry's,
   * its binary, -L directories, `--version` and packages (the registry's
   * with suite and sha256), and why, when auto did not get the registry's.
   */
  qemu: z.object({
    source: z.enum(['host', 'registry']),
    binary: z.string(),
    firmware: z.array(z.string()).readonly(),
    version: z.string(),
    packages: z.array(z.object({ name: z.string(), version: z.string(), suite: z.string().optional(), sha256: z.string().optional() })).readonly(),
    note: z.string().optional(),
  }).optional(),
  stages: z.array(StageRecord),
  /** Boots that were planned and cannot happen. */
  notRun: z.array(z.object({ side: z.string(), variant: z.string(), backend: z.string(), reason: z.string() })),
  /** Facts files of every boot attempt, in order (relative to the run directory). */
  boots: z.array(z.string()),
});
export type Manifest = z.infer<typeof Manifest>;

/** A stored run's manifest.json, through the schema: undefined when missing, an error naming the file when corrupt. */
export function readManifest(runDir: string, runClass: RunClass = 'infra-error'): Promise<Manifest | undefined> {
  return readJson(join(runDir, 'manifest.json'), Manifest, { what: 'manifest.json of a run', runClass, hint: 'it was written by another version of the kit, or edited by hand' });
}

export interface Attempt {
  readonly facts: AttemptFacts;
  readonly lines: readonly string[];
}

/**
 * results.json from the run's facts: each boot step's attempts classified,
 * a crash confirmed or found flaky (classify.ts), records tagged with side,
 * round and position. Pure: the live run and `parse.mjs --run` both call it.
 */
export function assembleResults(input: { runId: string; errorClass: RunClass | undefined; sides: readonly Side[]; series?: Results['series']; notRun: Manifest['notRun']; attempts: readonly Attempt[] }): Results {
  const boots: BootRecord[] = [];
  const tests: TestRecord[] = [];
  const metrics: Metric[] = [];
  const stress: StressRecord[] = [];
  const benchStatus: BenchStatus[] = [];
  const notRun: Results['notRun'] = [...input.notRun];
  const bySeq = new Map<number, Attempt[]>();
  for (const a of input.attempts) bySeq.set(a.facts.seq, [...(bySeq.get(a.facts.seq) ?? []), a]);
  for (const seq of [...bySeq.keys()].sort((a, b) => a - b)) {
    const group = (bySeq.get(seq) ?? []).sort((a, b) => a.facts.attempt - b.facts.attempt);
    const judged: Classification[] = group.map((a) => classify(a.lines, a.facts.ending));
    const c = confirm(judged.map((j) => ({ class: j.verdict.class, findings: j.verdict.findings, signature: j.signature })));
    const chosen = judged[c.chosen];
    const f = group[c.chosen]?.facts;
    if (!chosen || !f) continue;
    const v = chosen.verdict;
    const origin = { side: f.side, variant: f.variant, backend: f.backend, flavor: f.flavor, round: f.round, position: f.position };
    const cls: RunClass = c.flaky && v.class === 'ok' ? 'flaky' : v.class;
    boots.push({
      ...origin,
      arch: f.arch,
      seq,
      ...(f.purpose ? { purpose: f.purpose } : {}),
      class: cls,
      reason: c.flaky ? `${v.reason}; attempt ${c.flaky.attempt} crashed (${c.flaky.class}) and ${group.length - 1} more boot(s) did not repeat it` : v.reason,
      findings: [...v.findings],
      ...(chosen.signature ? { signature: chosen.signature } : {}),
      reachedUserspace: v.reachedUserspace,
      guestStatus: v.guestStatus ?? null,
      wallMs: f.wallMs,
      consoleLog: f.consoleLog,
      cmdline: f.kernelCmdline,
      reproduce: shellQuote(interactiveArgv(f.argv)),
      attempts: group.map((a, i) => {
        const j = judged[i] ?? chosen;
        return { attempt: a.facts.attempt, class: j.verdict.class, reason: j.verdict.reason, ...(j.signature ? { signature: j.signature } : {}), consoleLog: a.facts.consoleLog, wallMs: a.facts.wallMs };
      }),
      ...(c.flaky ? { flaky: { class: c.flaky.class, ...(c.flaky.signature ? { signature: c.flaky.signature } : {}), attempt: c.flaky.attempt } } : {}),
      kunit: { ...chosen.ktap.counts },
    });
    for (const s of chosen.stress) stress.push({ ...origin, suite: s.suite, case: s.case, values: { ...s.values } });
    for (const k of chosen.ktap.cases) tests.push({ ...origin, suite: k.suite, case: k.name, status: k.status, ...(k.reason ? { reason: k.reason } : {}) });
    for (const b of chosen.bench) {
      const { suite, case: name, status, reason, unit, loops, samples, group, param, per, peer, ...guest } = b;
      const where = { ...(group !== undefined ? { group } : {}), ...(param !== undefined ? { param } : {}) };
      if (status !== 'ok' || !unit || !samples) {
        benchStatus.push({ ...origin, boot: seq, suite, case: name, ...where, status: status === 'ok' ? 'error' : status, reason: reason ?? 'no figures' });
        continue;
      }
      metrics.push({ name: `${suite}/${name}`, suite, case: name, unit, ...origin, boot: seq, samples, ...(loops ? { loops } : {}), ...where, ...(per ? { per } : {}), ...(peer ? { peer } : {}), guest });
    }
    if (cls !== 'ok' && cls !== 'flaky' && v.guestStatus === undefined) {
      notRun.push({ side: f.side, variant: f.variant, backend: f.backend, reason: `round ${f.round}${f.flavor === 'normal' ? '' : ` (${f.flavor})`}: the guest did not finish (${cls}); what it had not run yet did not run` });
    }
  }
  const kept = leaveOutSlowed(metrics, benchStatus, input.sides);
  const cls = input.errorClass ?? worstClass(boots.map((b) => b.class));
  const r = Results.parse({ schemaVersion: RESULTS_SCHEMA_VERSION, runId: input.runId, class: cls, sides: input.sides, ...(input.series ? { series: input.series } : {}), boots, tests, metrics: kept, stress, benchStatus, notRun });
  const j = judged(r);
  const comparisons: SideVerdict[] = j.sides.map((c) => ({
    name: c.name, backend: c.backend, unit: c.unit, ref: c.ref, side: c.side, refMedian: c.refMedian, sideMedian: c.sideMedian,
    n: c.stat.n, ratio: c.stat.ratio, ...(c.stat.ci ? { lo: c.stat.ci.lo, hi: c.stat.ci.hi } : {}), ...(c.stat.p !== undefined ? { p: c.stat.p } : {}), verdict: c.stat.verdict, basis: c.stat.basis,
    ...(c.stat.ci ? { level: c.stat.ci.level } : {}),
    ...(c.stat.q !== undefined ? { q: c.stat.q, tests: c.stat.family } : {}),
    ...(c.stat.test ? { pMin: c.stat.test.pMin, method: c.stat.test.method } : {}),
    medianRatio: c.stat.medianRatio, dropped: c.stat.dropped, threshold: c.stat.threshold,
    ...(c.control ? { control: true } : {}),
  }));
  const families: FamilyRecord[] = [...j.families.filter((f) => f.kind === 'comparisons'), ...j.controls].map((f) => ({ ...f, alpha: ALPHA }));
  return Results.parse({ ...r, comparisons, families });
}

/**
 * The samples each backend's guests took in a slow spell of the host
 * (hostspeed.ts) leave the figures: kept aside in the metric, or, when too
 * few are left, the boot's case becomes a "slowed" status line instead.
 */
function leaveOutSlowed(metrics: readonly Metric[], benchStatus: BenchStatus[], sides: readonly Side[]): Metric[] {
  const sideOf = new Map(sides.map((s) => [s.name, s]));
  const keysOf = (m: Metric) => levelKeys(m, sideOf.get(m.side));
  const refs = metrics.map((m) => (FILTERED_BACKENDS.includes(m.backend) ? referenceReadings(m.guest, m.samples.length) : undefined));
  const levels = fastLevels(metrics.flatMap((m, i) => (refs[i] ? [{ keys: keysOf(m), ref: refs[i] }] : [])));
  const out: Metric[] = [];
  metrics.forEach((m, i) => {
    const level = levelsFor(levels, keysOf(m));
    const { kept, slowed } = splitSlowed(m.samples, refs[i], level);
    if (slowed.length === 0) return out.push(m);
    if (kept.length >= MIN_KEPT_SAMPLES) return out.push({ ...m, samples: kept, slowed });
    const { boot, suite, case: name, group, param, name: _n, unit: _u, samples: _s, loops: _l, per: _p, peer: _pe, guest: _g, ...origin } = m;
    benchStatus.push({
      ...origin, boot, suite, case: name, ...(group !== undefined ? { group } : {}), ...(param !== undefined ? { param } : {}),
      status: 'slowed',
      reason: `fewer than ${MIN_KEPT_SAMPLES} of its ${m.samples.length} samples were taken at speed: the host ran the guest's CPU slow (a reference reading over ${HOST_SLOW_FACTOR}× its fast level on ${m.backend})`,
    });
  });
  return out;
}

/** The series each tree carried, as results.json names them (the manifest has them once they were read). */
export function treeSeries(m: Pick<Manifest, 'series' | 'otherSeries'>): Results['series'] {
  if (!m.series) return undefined;
  const o = m.otherSeries;
  const from = o?.revision && o.commit ? `revision ${o.revision} (commit ${o.commit.slice(0, 12)})` : o?.dir;
  return {
    patched: { hash: m.series.hash, patches: m.series.patches, from: m.series.dir },
    ...(o && from ? { other: { hash: o.hash, patches: o.patches, from } } : {}),
  };
}

export function reportContext(m: Manifest): Parameters<typeof renderReport>[1] {
  const numa = m.options['numaNodes'];
  const kernels = Object.entries(m.variants).flatMap(([variant, v]) =>
    Object.entries(v.builds).flatMap(([arch, b]) =>
      b.seriesOptions ? [{ name: `${variant}/${arch}`, profile: b.profile ?? 'small', options: b.seriesOptions, ...(b.distro ? { distro: { file: b.distro.file, package: `${b.distro.package.name} ${b.distro.package.version}`, changes: b.distro.changes.length } } : {}), ...(b.cannotHave ? { cannotHave: b.cannotHave } : {}) }] : [],
    ),
  );
  return {
    ...(kernels.length > 0 ? { kernels } : {}),
    startedAt: m.startedAt,
    reproduce: m.reproduce,
    ...(m.source ? { source: m.source } : {}),
    ...(m.series ? { series: m.series } : {}),
    ...(typeof numa === 'number' && numa > 1 ? { numaNodes: numa } : {}),
  };
}

const serialize = (r: Results): string => JSON.stringify(r, null, 2) + '\n';

export class Recorder {
  private readonly attempts: Attempt[] = [];
  private errorClass: RunClass | undefined;
  private saving: Promise<void> = Promise.resolve();

  private constructor(
    readonly runDir: string,
    readonly manifest: Manifest,
    private readonly log: Logger,
  ) {}

  get logs(): string {
    return join(this.runDir, 'logs');
  }

  /** Create the run directory (atomically: an existing one is refused) and the first manifest. */
  static async create(outputDir: string, manifest: Manifest, log: Logger): Promise<Recorder> {
    const runDir = join(outputDir, manifest.runId);
    await mkdir(outputDir, { recursive: true });
    try {
      await mkdir(runDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new QkError('usage-error', `run directory ${runDir} already exists`, { hint: 'choose another --run-id' });
      throw new QkError('infra-error', `cannot create the run directory ${runDir}: ${(e as Error).message}`, { cause: e });
    }
    await mkdir(join(runDir, 'logs'));
    const r = new Recorder(runDir, manifest, log);
    await r.save();
    return r;
  }

  /** Write manifest.json; saves run one after another (stages may run side by side), each writing the manifest as it is then. */
  save(): Promise<void> {
    const next = this.saving.then(() => writeJsonAtomic(join(this.runDir, 'manifest.json'), this.manifest));
    this.saving = next.catch(() => undefined);
    return next;
  }

  /** Run one stage, timing it and recording it in the manifest. */
  async stage<T>(
    name: string,
    tags: Omit<StageRecord, 'stage' | 'wallMs' | 'cached' | 'status' | 'seed'>,
    fn: () => Promise<T>,
    isCached: (r: T) => boolean,
    signal?: AbortSignal,
    /** What the stage's result adds to its record. */
    detail?: (r: T) => Pick<StageRecord, 'seed'>,
  ): Promise<T> {
    if (signal?.aborted) throw new QkError('interrupted', 'interrupted');
    const s = Date.now();
    try {
      const r = await fn();
      const rec: StageRecord = { stage: name, ...tags, wallMs: Date.now() - s, cached: isCached(r), status: 'ok', ...detail?.(r) };
      this.manifest.stages.push(rec);
      await this.save();
      const where = [tags.variant, tags.arch, tags.backend].filter(Boolean).join('/');
      this.log.info(`  ${name}${where ? ` ${where}` : ''}: ${(rec.wallMs / 1000).toFixed(1)} s${rec.cached ? ' (cached)' : ''}`);
      return r;
    } catch (e) {
      this.manifest.stages.push({ stage: name, ...tags, wallMs: Date.now() - s, cached: false, status: 'failed' });
      if (signal?.aborted) throw new QkError('interrupted', 'interrupted', { cause: e });
      throw e;
    }
  }

  /** Keep a boot attempt: its facts file beside its console log, and its lines for the results. */
  async recordAttempt(facts: AttemptFacts, lines: readonly string[]): Promise<void> {
    const file = facts.consoleLog.replace(/\.log$/, '.facts.json');
    await writeJsonAtomic(join(this.runDir, file), AttemptFacts.parse(facts));
    this.manifest.boots.push(file);
    this.attempts.push({ facts, lines });
    await this.save();
  }

  /** Path of a log file relative to the run directory. */
  rel(path: string): string {
    return relative(this.runDir, path);
  }

  private async writeResults(): Promise<Results> {
    const results = assembleResults({ runId: this.manifest.runId, errorClass: this.errorClass, sides: this.manifest.sides, series: treeSeries(this.manifest), notRun: this.manifest.notRun, attempts: this.attempts });
    await writeFileAtomic(join(this.runDir, 'results.json'), serialize(results));
    await writeFileAtomic(join(this.runDir, 'report.md'), renderReport(results, reportContext(this.manifest)));
    try {
      await writeBenchArtifacts(this.runDir, results);
    } catch (e) {
      // The figures are in results.json already; a chart that cannot be drawn costs only the picture.
      this.log.warn(`could not write results.csv or the charts: ${(e as Error).message}`);
    }
    return results;
  }

  /**
   * The results so far, written as results.json and report.md while the run
   * goes on (the manifest still says running): a first headline before the
   * slower backends have booted. complete() writes them again at the end.
   */
  async interim(): Promise<Results> {
    return this.writeResults();
  }

  async complete(t0: number): Promise<{ results: Results; class: RunClass; exitCode: number }> {
    const results = await this.writeResults();
    Object.assign(this.manifest, { state: 'complete', class: results.class, exitCode: EXIT_CODE[results.class], finishedAt: new Date().toISOString(), wallMs: Date.now() - t0 });
    await this.save();
    return { results, class: results.class, exitCode: EXIT_CODE[results.class] };
  }

  /** Record a failed or interrupted run; returns the error to throw. */
  async fail(e: unknown, t0: number): Promise<QkError> {
    const err = e instanceof QkError ? e : new QkError('infra-error', e instanceof Error ? e.message : String(e), { cause: e });
    this.errorClass = err.runClass;
    Object.assign(this.manifest, {
      state: err.runClass === 'interrupted' ? 'interrupted' : 'failed',
      class: err.runClass,
      exitCode: err.exitCode,
      error: formatError(err),
    });
    await this.writeResults().catch(() => undefined);
    Object.assign(this.manifest, { finishedAt: new Date().toISOString(), wallMs: Date.now() - t0 });
    await this.save();
    return err;
  }
}

/**
 * Rebuild a stored run's results.json and report.md from its console logs,
 * facts files and manifest. Returns the texts; the caller decides where they go.
 */
export async function regenerate(runDir: string): Promise<{ results: Results; json: string; report: string }> {
  const raw = await readJson(join(runDir, 'manifest.json'), z.object({ schemaVersion: z.unknown(), boots: z.unknown() }).loose(), { what: 'manifest.json of a run', runClass: 'usage-error' });
  if (!raw) throw new QkError('usage-error', `--run ${runDir} is not a run directory (no manifest.json)`);
  if (raw.schemaVersion !== 2 || !Array.isArray(raw.boots)) {
    throw new QkError('usage-error', `${runDir} was written by an older version (manifest schema ${String(raw.schemaVersion)}) without boot facts files`, { hint: 'read its console logs one at a time: parse.mjs <console.log>' });
  }
  const m = (await readManifest(runDir, 'usage-error'))!;
  const attempts: Attempt[] = [];
  for (const file of m.boots) {
    const facts = await readJson(join(runDir, file), AttemptFacts, { what: 'boot facts file', runClass: 'usage-error' });
    if (!facts) throw new QkError('usage-error', `${join(runDir, file)} is missing: manifest.json names it as a boot's facts file`);
    const log = await readFile(join(runDir, facts.consoleLog), 'utf8');
    attempts.push({ facts, lines: logLines(log) });
  }
  const errorClass = m.state === 'complete' ? undefined : m.class;
  const results = assembleResults({ runId: m.runId, errorClass, sides: m.sides, series: treeSeries(m), notRun: m.notRun, attempts });
  return { results, json: serialize(results), report: renderReport(results, reportContext(m)) };
}

