/**
 * nightly.mjs: one night of kernel CI for one base kernel. It runs the
 * pipeline (baseline and patched trees, KUnit, the benchmarks), compares
 * the night with the stored history of that base (nightly.ts), and writes
 * the night's record, JUnit XML, KCIDB JSON and the base's history page.
 *
 * History: <history>/<base>/<night>.json, one record per night and base
 * (schema: night.ts), and beside it <night>/ with what a reader of the
 * history needs (report.md and its charts, junit.xml, kcidb.json); the
 * page in <history>/<base>/index.html. The night's run directories, with
 * every log, go to the results directory (-o) as any run's do: the history
 * stays small enough to keep in a git branch.
 *
 * A series that does not apply, or a patched tree that does not build, is
 * a result of the night (exit 1): the baseline kernel is then run on its
 * own, so its figures and tests are still recorded. Exit 2 is for the tool.
 * A failure the base's expectations declare (expected.ts: a base the
 * series is not ported to) is reported as expected and does not fail the
 * night; that step passing does.
 *
 * Nights are named by their UTC date; another night of the same base on
 * the same date (a re-run) is <date>.2, <date>.3, ...: a re-run never
 * collides with a recorded night or its run directory.
 */
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { join, relative, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { intOf, listOf, parseArgs, reportFailure } from './command.ts';
import { BACKEND_CHOICES, optionsFromArgv, sourceFromFlags } from './cli.ts';
import { runArgv, runChild } from './runargv.ts';
import { EXIT_CODE, QkError, exitCodeOf, formatError } from '../plumbing/errors.ts';
import { consoleLogger, type Logger } from '../plumbing/log.ts';
import { exists, writeFileAtomic, writeJsonAtomic } from '../plumbing/fsutil.ts';
import { spawn } from '../plumbing/proc.ts';
import { withInterrupts } from '../plumbing/signals.ts';
import { VARIANTS, readResultsFile, type VariantName } from '../analysis/results.ts';
import { readManifest, type Manifest } from '../pipeline/recorder.ts';
import { buildRunOptions, runDefaults, sidesFromVariants, type BackendChoice, type RunOptions } from '../pipeline/options.ts';
import { sourceLabel, type SourceSpec } from '../pipeline/source.ts';
import { Night, NIGHT_VERSION } from '../ci/night.ts';
import { compareNights, nightCrashes, nightMetrics, nightResult, nightTests, treeStatus, type NightRun } from '../ci/nightly.ts';
import { toJunit } from '../ci/junit.ts';
import { patchFileHashes, toKcidb, validateKcidb } from '../ci/kcidb.ts';
import { DEFAULT_EXPECTED, readExpectations } from '../ci/expected.ts';
import { writeHistoryPage } from '../ci/historypage.ts';

/** Base kernels known by name; others need --tree, --tarball or --git. */
export const KNOWN_BASES: Readonly<Record<string, { tarball?: string; apt?: string; description: string }>> = {
  'debian-6.12': { description: "Debian's linux-source-6.12 (the default source)", apt: 'linux-source-6.12' },
  'debian-6.1': { tarball: '/usr/src/linux-source-6.1.tar.xz', apt: 'linux-source-6.1', description: "Debian's linux-source-6.1" },
};

export interface Flags {
  base: string;
  source?: string;
  tree?: string;
  ref?: string;
  tarball?: string;
  git?: string;
  history: string;
  output: string;
  night?: string;
  backend: string;
  boots?: string;
  variants: string;
  threshold: string;
  confirm: boolean;
  workDir: string;
  install: boolean;
  origin: string;
  /** The expectations file (expected.ts); absent: the repository's, if it exists. */
  expected?: string;
}

/** How the night's runs are started: run.mjs in a child process with these options (runargv.ts), its output in runLog; tests give their own. */
export type NightRunner = (opts: RunOptions, o: { runLog: string; signal: AbortSignal }) => Promise<void>;

const runMjs: NightRunner = (opts, o) => runChild(opts, { what: `nightly run ${opts.runId}`, logFile: o.runLog, signal: o.signal, timeoutMs: 12 * 3600_000 });

/**
 * Tonight's name: the UTC date, or <date>.<attempt> when that date already
 * has a night of this base (a record, or a run directory a failed attempt
 * left), so re-runs on one date each get a night of their own.
 */
export async function nextNightName(date: string, recordDir: string, runsDir: string, base: string): Promise<string> {
  for (let attempt = 1; attempt <= 99; attempt++) {
    const name = attempt === 1 ? date : `${date}.${attempt}`;
    const taken = (await exists(join(recordDir, `${name}.json`))) || (await exists(join(recordDir, name))) || (await exists(join(runsDir, `nightly-${base}-${name}`)));
    if (!taken) return name;
  }
  throw new QkError('usage-error', `${base} already has 99 nights on ${date} in ${recordDir}`, { hint: 'name the night with --night' });
}

/** Where the base came from, for the record (KCIDB names a Debian base by its package, a git base by its URL). */
async function sourceOf(f: Flags, spec: SourceSpec, m: Manifest): Promise<NonNullable<Night['kernel']['source']>> {
  if (spec.kind === 'git') return { kind: 'git', url: spec.url, ref: spec.ref };
  if (spec.kind === 'tree') return { kind: 'tree', ...(spec.ref ? { ref: spec.ref } : {}) };
  const known = KNOWN_BASES[f.base];
  if (spec.kind === 'tarball' && !(known?.apt !== undefined && known.tarball === spec.path)) return { kind: 'tarball' };
  // A registry package is recorded by the run; an installed one (6.12's, 6.1's) is asked of dpkg.
  if (m.source?.package) return { kind: 'debian', package: { name: m.source.package.name, version: m.source.package.version } };
  const name = known?.apt ?? 'linux-source-6.12';
  const r = await execa('dpkg-query', ['-W', '-f', '${Version}', name], { reject: false });
  return { kind: 'debian', ...(r.exitCode === 0 && r.stdout ? { package: { name, version: r.stdout.trim() } } : {}) };
}

/** The kernel source of a base: the one its flags name (as run.mjs reads them), else the one a known base's name stands for. */
export async function nightSource(f: Flags, log: Logger): Promise<SourceSpec> {
  if ([f.source, f.tree, f.tarball, f.git].some((x) => x !== undefined)) return sourceFromFlags(f);
  const known = KNOWN_BASES[f.base];
  // Any other Debian release by name: debian-7.3 is linux-source-7.3 from the registry.
  const release = /^debian-(\d+\.\d+)$/.exec(f.base)?.[1];
  if (!known && release) return { kind: 'debian', release };
  if (!known) throw new QkError('usage-error', `--base ${f.base}: not a known base (${Object.keys(KNOWN_BASES).join(', ')}, or debian-X.Y for linux-source-X.Y from the Debian registry); give its source with --source, --tree, --tarball or --git`);
  if (!known.tarball) return { kind: 'debian' };
  if (!(await exists(known.tarball))) {
    if (!f.install || process.getuid?.() !== 0) {
      throw new QkError('missing-dependency', `${known.tarball} is missing`, { hint: `apt-get install ${known.apt}` });
    }
    log.info(`installing ${known.apt} (${known.description})`);
    await spawn('apt-get', ['install', '-y', '-q', '--no-install-recommends', known.apt!], { what: `apt-get install ${known.apt}`, env: { DEBIAN_FRONTEND: 'noninteractive' }, failClass: 'missing-dependency', timeoutMs: 30 * 60_000 });
  }
  return { kind: 'tarball', path: known.tarball };
}

async function readRun(runDir: string): Promise<NightRun | undefined> {
  const manifest = await readManifest(runDir);
  if (!manifest) return undefined;
  return { runDir, manifest, results: await readResultsFile(join(runDir, 'results.json')) };
}

/** Every stored night of a base, oldest first; a record that does not parse is an error naming the file. */
export async function readHistory(dir: string): Promise<Night[]> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).sort();
  const out: Night[] = [];
  for (const name of files) {
    const parsed = Night.safeParse(JSON.parse(await readFile(join(dir, name), 'utf8')));
    if (!parsed.success) throw new QkError('usage-error', `${join(dir, name)} is not a night record: ${parsed.error.issues[0]?.message ?? 'invalid'}`, { hint: 'move it out of the history directory' });
    out.push(parsed.data);
  }
  return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

export async function nightly(f: Flags & { extra: string[] }, log: Logger, signal: AbortSignal, runner: NightRunner = runMjs): Promise<number> {
  const t0 = Date.now();
  if (!/^[\w.-]+$/.test(f.base)) throw new QkError('usage-error', `--base '${f.base}' may only contain letters, digits, '.', '_' and '-'`);
  if (f.night !== undefined && !/^[\w.-]+$/.test(f.night)) throw new QkError('usage-error', `--night '${f.night}' may only contain letters, digits, '.', '_' and '-'`);
  const threshold = Number(f.threshold) / 100;
  if (!(threshold > 0)) throw new QkError('usage-error', `--threshold must be a percentage above 0, not '${f.threshold}'`);
  const historyDir = resolve(f.history);
  const baseDir = join(historyDir, f.base);
  const runsDir = resolve(f.output);
  const night = f.night ?? (await nextNightName(new Date(t0).toISOString().slice(0, 10), baseDir, runsDir, f.base));
  const nightDir = join(baseDir, night);
  const recordFile = join(baseDir, `${night}.json`);
  if (await exists(recordFile)) throw new QkError('usage-error', `night ${night} of ${f.base} is already recorded: ${recordFile}`, { hint: 'leave --night out: a night on a date that has one is named <date>.2, <date>.3, ...' });
  const expected = await readExpectations(f.expected ?? DEFAULT_EXPECTED, f.base, f.expected !== undefined);
  const previous = await readHistory(baseDir);
  const variants = listOf<VariantName>('--variants', VARIANTS)(f.variants);
  const backends = listOf<BackendChoice>('--backend', BACKEND_CHOICES)(f.backend);
  // icount repeats to the digit: one round; noisy backends: 8 rounds, the least a signed-rank interval can use.
  const boots = f.boots !== undefined ? intOf('--boots', 1, 1000)(f.boots) : backends.every((b) => b === 'icount') ? 1 : 8;
  const source = await nightSource(f, log);
  const runLog = join(runsDir, `nightly-${f.base}-${night}.log`);
  /**
   * A run of the night: the night's settings, then the user's run.mjs flags
   * after -- , which win as on run.mjs's own command line. No A/A twin by
   * default: the nightly series compares nights, and icount (its default)
   * repeats to the digit; `-- --aa-control cheap` adds one.
   */
  const optionsFor = (runId: string, vs: readonly VariantName[]): RunOptions => {
    const own = buildRunOptions({ source, sides: sidesFromVariants(vs), backends, boots, aaControl: 'none', outputDir: runsDir, workDir: resolve(f.workDir), allowInstall: f.install, runId });
    return optionsFromArgv([...runArgv(own), ...f.extra]);
  };
  const runId = `nightly-${f.base}-${night}`;
  // A mistake in the flags after -- is the user's to fix before the night starts.
  const firstOptions = optionsFor(runId, variants);
  await mkdir(runsDir, { recursive: true });

  const run = async (opts: RunOptions): Promise<NightRun | undefined> => {
    log.info(`night ${night} of ${f.base}: run ${opts.runId} (${opts.sides.map((s) => s.name).join(', ')})`);
    await runner(opts, { runLog, signal });
    return readRun(join(opts.outputDir, opts.runId));
  };

  const runs: NightRun[] = [];
  const first = await run(firstOptions);
  if (!first) throw new QkError('infra-error', `the nightly run left no manifest in ${join(firstOptions.outputDir, firstOptions.runId)}`, { logFile: runLog });
  runs.push(first);
  // The patched tree failing to apply or build ends that run: the baseline kernel still gets its night.
  const failedTree = first.manifest.stages.find((s) => s.status === 'failed')?.variant;
  const treeFailure = first.manifest.class === 'apply-failure' || (['build-failure', 'config-failure'].includes(first.manifest.class ?? '') && failedTree !== 'baseline');
  if (treeFailure && variants.includes('baseline') && variants.length > 1) {
    log.info(`the patched tree failed (${first.manifest.class}): running the baseline kernel on its own`);
    const again = await run(optionsFor(`${runId}-baseline`, ['baseline']));
    if (again) runs.push(again);
  }
  const infraClasses = ['usage-error', 'missing-dependency', 'infra-error', 'kvm-unusable', 'interrupted'];
  const infra = runs.some((r) => infraClasses.includes(r.manifest.class ?? 'infra-error'));

  const m = first.manifest;
  const files = m.series ? await patchFileHashes(m.series.dir, m.series.patches).catch((e: unknown) => {
    log.warn(`the night's KCIDB data will have no patchset_hash: ${formatError(e).split('\n')[0]}`);
    return undefined;
  }) : undefined;
  const partial = {
    version: NIGHT_VERSION,
    night,
    base: f.base,
    startedAt: new Date(t0).toISOString(),
    wallMs: 0,
    kernel: { version: m.source?.version ?? 'unknown', ...(m.source?.baseCommit ? { commit: m.source.baseCommit } : {}), description: m.source?.description ?? sourceLabel(source), source: await sourceOf(f, source, m) },
    backends: f.backend.split(',').filter(Boolean),
    tool: { ...(m.tool.commit ? { commit: m.tool.commit } : {}) },
    series: { hash: m.series?.hash ?? '', patches: m.series?.patches ?? [], ...(files ? { files } : {}) },
    runDir: first.runDir,
    report: `${night}/report.md`,
    trees: variants.map((v) => treeStatus(v, runs)),
    tests: nightTests(runs),
    metrics: nightMetrics(runs),
    crashes: nightCrashes(runs),
  } as const;
  let { findings, crashes } = compareNights(partial, previous, threshold, expected);

  // A regression of a noisy backend's figure counts only if a second run shows it too.
  const noisy = findings.filter((x) => x.kind === 'regression' && !x.key.includes('/icount'));
  if (noisy.length > 0 && f.confirm && !infra) {
    log.info(`confirming ${noisy.length} regression(s) on noisy backends with a second run`);
    const again = await run(optionsFor(`${runId}-confirm`, variants));
    const confirmed = again ? compareNights({ ...partial, metrics: nightMetrics([again]) }, previous, threshold, expected).findings : [];
    findings = findings.flatMap((x) => {
      if (!noisy.includes(x)) return [x];
      const c = confirmed.find((y) => y.kind === 'regression' && y.key === x.key);
      return c ? [{ ...x, message: `${x.message}; confirmed by run ${night}-confirm: ${c.message}` }] : [{ kind: 'flaky' as const, key: x.key, message: `not confirmed: ${x.message}; run ${night}-confirm did not show it` }];
    });
  }
  const { result, exitCode } = nightResult(findings, infra);
  const record = Night.parse({ ...partial, crashes, findings, result, exitCode, wallMs: Date.now() - t0 });
  await writeJsonAtomic(recordFile, record);

  // For readers of the history: the report with its charts; for CI systems: JUnit and KCIDB.
  await mkdir(nightDir, { recursive: true });
  await cp(join(first.runDir, 'report.md'), join(nightDir, 'report.md')).catch(() => writeFile(join(nightDir, 'report.md'), `# nightly ${night}\n\nThe run left no report: see ${first.runDir}.\n`));
  if (await exists(join(first.runDir, 'charts'))) await cp(join(first.runDir, 'charts'), join(nightDir, 'charts'), { recursive: true });
  const junit = toJunit(record);
  await writeFileAtomic(join(nightDir, 'junit.xml'), junit);
  // Also in the run directory: a CI system collects them from there (results/**/junit.xml).
  await writeFileAtomic(join(first.runDir, 'junit.xml'), junit);
  const kcidb = toKcidb(record, { origin: f.origin });
  const valid = validateKcidb(kcidb);
  if (!valid.ok) throw new QkError('infra-error', `the KCIDB data of night ${night} does not match the kept schema: ${valid.errors.slice(0, 3).join('; ')}`);
  await writeJsonAtomic(join(nightDir, 'kcidb.json'), kcidb);
  await writeJsonAtomic(join(first.runDir, 'kcidb.json'), kcidb);
  const page = await writeHistoryPage(historyDir, f.base);

  log.info(`\nnight ${night} of ${f.base} (${record.kernel.version}): ${result}`);
  for (const t of record.trees) log.info(`  ${t.variant}: apply ${t.apply}, build ${t.build}, boot ${t.boot}, kunit ${t.kunit}${t.reason ? ` (${t.reason})` : ''}`);
  for (const x of findings) log.info(`  ${x.kind}: ${x.message}`);
  log.info(`record: ${recordFile}\nrun: ${first.runDir}\nJUnit: ${join(nightDir, 'junit.xml')}\nKCIDB: ${join(nightDir, 'kcidb.json')}\nhistory page: ${page.file}`);
  return exitCode;
}

export function buildNightlyCommand(): Command {
  const d = runDefaults();
  return new Command('nightly.mjs')
    .description('One night of kernel CI for one base kernel: run baseline and patched, compare with the stored history, write the record, JUnit, KCIDB and the history page.')
    .argument('[run-args...]', 'after --: more run.mjs flags (e.g. --bench full, --append ...)')
    .option('--base <name>', `the base kernel's name in the history: ${Object.keys(KNOWN_BASES).join(', ')}, debian-X.Y (linux-source-X.Y from the Debian registry), or any name with --source/--tree/--tarball/--git`, 'debian-6.12')
    .option('--source <base>', 'kernel source: debian:X.Y (linux-source-X.Y from the Debian registry)')
    .option('--tree <path>', 'kernel source: a git checkout')
    .option('--ref <ref>', 'with --tree or --git: the commit, tag or branch')
    .option('--tarball <file>', 'kernel source: a tarball')
    .option('--git <url>', 'kernel source: a git URL (with --ref)')
    .option('--history <dir>', 'the history directory', join(d.outputDir, 'history'))
    .option('-o, --output <dir>', "the night's run directories (nightly-<base>-<night>[-baseline|-confirm])", d.outputDir)
    .option('--night <id>', 'the night’s name (default: today’s UTC date; <date>.2, <date>.3 ... when that date has a night of this base)')
    .option('--expected <file>', 'the bases’ expected failures (default: nightly-expected.json of the repository)')
    .option('--backend <list>', 'backends (run.mjs --backend)', 'icount')
    .option('--boots <n>', 'benchmark rounds (default: 1 on icount, else 8)')
    .option('--variants <list>', 'kernel trees', 'baseline,patched')
    .option('--threshold <pct>', 'a figure regresses past this many percent', '2')
    .option('--no-confirm', 'do not re-run to confirm regressions on noisy backends')
    .option('--origin <name>', 'KCIDB origin of the submitted data', 'qmempool_kit')
    .option('--work-dir <dir>', 'work directory (shared with run.mjs)', d.workDir)
    .addOption(new Option('--no-install', 'never install missing host packages'))
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
    .addHelpText(
      'after',
      `
Exit codes: 0 the night is clean; 1 a regression: a tree that does not
apply, build or boot, a failing test, a figure past the threshold (noisy
backends: confirmed by a second run), a crash; 2 the tool could not do its
job (bad flag, missing tool, infrastructure); 130 interrupted.

Examples:
  npx zx scripts/nightly.mjs                                    # debian-6.12 on icount
  npx zx scripts/nightly.mjs --base debian-6.1
  npx zx scripts/nightly.mjs --base v6.18 --git https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux.git --ref v6.18 --backend uml --boots 5`,
    );
}

export async function nightlyMain(argv: readonly string[]): Promise<number> {
  const log = consoleLogger();
  return withInterrupts(async (signal) => {
    const cmd = buildNightlyCommand();
    const early = parseArgs(cmd, argv);
    if (early !== undefined) return early;
    try {
      return await nightly({ ...cmd.opts<Flags>(), extra: [...cmd.args] }, log, signal);
    } catch (e) {
      return reportFailure(e, signal);
    }
  });
}

