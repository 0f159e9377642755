/**
 * `series`: the workflow for people who edit kernel-patches/.
 *
 *   edit    a git branch (qk-series) with the series applied, in a worktree of the base
 *   export  write the branch back as format-patch files, with stable output
 *   check   checkpatch --strict on each patch, a build after each patch
 *           (bisectable, W=1 on the files it touches), then the KUnit suites
 *           through a pipeline run on the requested flavors and backends
 */
import { readdir, readFile, rename, rm, writeFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { EXIT_CODE, QkError } from '../plumbing/errors.ts';
import { intOf, listOf, parseArgs, reportFailure } from './command.ts';
import { consoleLogger, type Logger } from '../plumbing/log.ts';
import { exists, writeJsonAtomic, sha256 } from '../plumbing/fsutil.ts';
import { capture, spawn } from '../plumbing/proc.ts';
import { commitCount } from '../plumbing/git.ts';
import { withInterrupts } from '../plumbing/signals.ts';
import { DEFAULT_LOCK_WAIT_MS } from '../plumbing/lock.ts';
import { readSeries, readSeriesFor, type Series } from '../pipeline/series.ts';
import { parseSourceSpec, prepareSource, resolveSource, GIT_IDENTITY, type SourceResult, type SourceSpec } from '../pipeline/source.ts';
import { prepareTree, prepareVariant, treesDir } from '../pipeline/variants.ts';
import { DEFAULT_PROFILE, buildKernel, configure, FLAVORS, type Flavor } from '../pipeline/kbuild.ts';
import { hostCheck } from '../pipeline/hostcheck.ts';
import { REPO_ROOT, newRunId } from '../plumbing/paths.ts';
import { runPipeline, toolchainVersions } from '../pipeline/pipeline.ts';
import type { BackendChoice } from '../pipeline/options.ts';
import { BACKENDS } from '../analysis/results.ts';

const BRANCH = 'qk-series';

interface Common {
  series: string;
  workDir: string;
  /** The base: debian (the installed 6.12, default) or debian:X.Y from the registry. */
  source?: string;
}

/** The base a series command works on, looked up in the registry where it comes from there. */
async function baseOf(c: Common, log: Logger): Promise<SourceSpec> {
  return resolveSource(parseSourceSpec(c.source ?? 'debian'), { workDir: c.workDir, log, logFile: join(c.workDir, 'series-source.log') });
}

function editDir(workDir: string, source: SourceResult): string {
  return join(treesDir(workDir, source), 'edit');
}

/** Subject and blurb of an existing cover letter, for the branch description. */
export function coverLetterDescription(text: string): string | undefined {
  const subject = /^Subject: \[PATCH[^\]]*\] (.*)$/m.exec(text)?.[1];
  if (!subject || subject.includes('*** SUBJECT HERE ***')) return undefined;
  const body = text.split('\n\n').slice(1).join('\n\n');
  const lines: string[] = [];
  for (const l of body.split('\n')) {
    if (/^\S.* \(\d+\):$/.test(l)) break; // the shortlog starts: "Author (N):"
    lines.push(l);
  }
  return `${subject}\n\n${lines.join('\n').trim()}\n`;
}

async function setup(c: Common, log: Logger, spec?: SourceSpec): Promise<{ source: SourceResult; series: Series }> {
  await readSeries(c.series);
  const source = await prepareSource(spec ?? (await baseOf(c, log)), { workDir: c.workDir, log, logFile: join(c.workDir, 'series-source.log') });
  // The version of the series for this base (kernel-patches/ or its for-X.Y/): what edit, export and check work on.
  const series = await readSeriesFor(c.series, source.version);
  if (series.dir !== resolve(c.series)) log.info(`series: the version for ${source.version} in ${series.dir}`);
  return { source, series };
}

export async function seriesEdit(c: Common & { force: boolean }, log: Logger): Promise<string> {
  const { source, series } = await setup(c, log);
  const dir = editDir(c.workDir, source);
  if (await exists(join(dir, '.git'))) {
    const ahead = await commitCount(dir, `${source.baseCommit}..HEAD`);
    if (ahead > 0 && !c.force) {
      throw new QkError('usage-error', `${dir} already has ${ahead} commit(s) on the base: your edits would be lost`, {
        hint: `export them first (series.mjs export), or start over with --force`,
      });
    }
    await spawn('git', ['checkout', '-q', '-f', '-B', BRANCH, source.baseCommit], { what: 'resetting the edit branch', cwd: dir });
  } else {
    await spawn('git', ['worktree', 'prune'], { what: 'git worktree prune', cwd: source.repo });
    await spawn('git', ['worktree', 'add', '-f', '-B', BRANCH, dir, source.baseCommit], { what: 'creating the edit worktree', cwd: source.repo });
  }
  for (const p of series.patches) {
    await spawn('git', ['am', '--3way', p.path], { what: `applying ${p.name}`, cwd: dir, env: { ...GIT_IDENTITY, LC_ALL: 'C' }, failClass: 'apply-failure' });
  }
  const cover = join(series.dir, '0000-cover-letter.patch');
  const desc = (await exists(cover)) ? coverLetterDescription(await readFile(cover, 'utf8')) : undefined;
  if (desc) await spawn('git', ['config', `branch.${BRANCH}.description`, desc], { what: 'keeping the cover letter', cwd: dir });
  log.info(`edit the series in ${dir} (branch ${BRANCH}, ${series.patches.length} patch(es) on ${source.version});`);
  log.info('commit with git commit/rebase -i there, then: npx zx scripts/series.mjs export');
  return dir;
}

export async function seriesExport(c: Common, log: Logger): Promise<string[]> {
  // The patches are signed off by whoever exports them: know who, before anything is written.
  const me = await gitIdentity();
  const { source, series } = await setup(c, log);
  const dir = editDir(c.workDir, source);
  if (!(await exists(join(dir, '.git')))) throw new QkError('usage-error', `no edit worktree at ${dir}`, { hint: 'run: npx zx scripts/series.mjs edit' });
  const n = await commitCount(dir, `${source.baseCommit}..HEAD`);
  if (n === 0) throw new QkError('usage-error', `${dir} has no commits on the base: nothing to export`);
  // Staged beside the series (same filesystem: renames into place are atomic).
  await removeStaleStages(series.dir);
  const out = join(series.dir, `.export-${process.pid}`);
  await rm(out, { recursive: true, force: true });
  await mkdir(out);
  try {
    const files = await formatSeries({ dir, base: source.baseCommit, out, me });
    const patches = files.filter((f) => !f.startsWith('0000-'));
    await installExport(series.dir, out, files);
    log.info(`exported ${patches.length} patch(es) and the cover letter to ${series.dir}, signed off by ${formatIdentity(me)}`);
    return patches;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/** A person as git names one: user.name and user.email. */
export interface GitIdentity {
  readonly name: string;
  readonly email: string;
}

/** The identity the kit gives the commits it makes itself (source.ts); exported patches never carry it. */
export const PLACEHOLDER_IDENTITY: GitIdentity = { name: GIT_IDENTITY.GIT_AUTHOR_NAME, email: GIT_IDENTITY.GIT_AUTHOR_EMAIL };

export function formatIdentity(id: GitIdentity): string {
  return `${id.name} <${id.email}>`;
}

/**
 * The exporter's identity: `git config user.name` and `user.email` as git
 * looks them up in `cwd` (this repository's config, then the global one;
 * `env` may point GIT_CONFIG_GLOBAL elsewhere). Unset: a usage error.
 */
export async function gitIdentity(o: { cwd?: string; env?: Readonly<Record<string, string>> } = {}): Promise<GitIdentity> {
  const cwd = o.cwd ?? REPO_ROOT;
  const get = (key: string) => capture('git', ['config', '--get', key], { what: `git config ${key}`, cwd, ...(o.env ? { env: o.env } : {}) }).catch(() => '');
  const [name, email] = [await get('user.name'), await get('user.email')];
  const unset = [...(name ? [] : ['user.name']), ...(email ? [] : ['user.email'])];
  const hint = "set your identity: git config --global user.name 'Your Name'; git config --global user.email you@example.org";
  if (unset.length > 0) {
    throw new QkError('usage-error', `the exported patches are signed off with your git identity, and ${unset.join(' and ')} ${unset.length > 1 ? 'are' : 'is'} not set (git config in ${cwd}): ${hint}`, { hint });
  }
  if (/[<>\n]/.test(name + email)) throw new QkError('usage-error', `git identity '${name} <${email}>' cannot go into a mail header (it contains '<', '>' or a line break)`, { hint });
  return { name, email };
}

/**
 * `git format-patch` of base..HEAD in the edit worktree `dir` into `out`,
 * with the exporter `me` where the kit's placeholder identity was: the
 * cover letter is from `me` (its shortlog maps the placeholder to `me`, its
 * date is the last patch's), and each patch gets `signPatch`. Stable: the
 * same branch and identity give the same bytes. Returns the file names,
 * cover letter first.
 */
export async function formatSeries(o: { dir: string; base: string; out: string; me: GitIdentity }): Promise<string[]> {
  const { dir, base, out, me } = o;
  const range = `${base}..HEAD`;
  const hasDesc = await capture('git', ['config', '--get', `branch.${BRANCH}.description`], { what: 'reading the description', cwd: dir }).then(() => true, () => false);
  // A mailmap of one line, placeholder -> exporter, for the cover letter's shortlog and git's rendering of a From: header.
  const mailmap = join(out, '.qk-mailmap');
  await writeFile(mailmap, `${formatIdentity(me)} ${formatIdentity(PLACEHOLDER_IDENTITY)}\n`);
  const env = { LC_ALL: 'C', GIT_COMMITTER_NAME: me.name, GIT_COMMITTER_EMAIL: me.email };
  try {
    // Stable output: zero From hashes, no version signature, fixed base, no per-run noise.
    await spawn(
      'git',
      ['-c', `mailmap.file=${mailmap}`, 'format-patch', '-q', '--zero-commit', '--no-signature', `--base=${base}`, '--cover-letter', ...(hasDesc ? ['--cover-from-description=subject'] : []), '-o', out, range],
      { what: 'git format-patch', cwd: dir, env },
    );
    // The exporter's From: header as git writes it for a patch (quoting, RFC 2047), from a commit with the placeholder author.
    const placeholderCommit = await capture('git', ['log', '-1', '--format=%H', '--fixed-strings', `--author=${formatIdentity(PLACEHOLDER_IDENTITY)}`, range], { what: 'finding placeholder commits', cwd: dir, env });
    const from = placeholderCommit
      ? mailHeader(await capture('git', ['-c', `mailmap.file=${mailmap}`, 'log', '-1', '--use-mailmap', '--pretty=email', '--no-patch', placeholderCommit], { what: 'rendering the From: header', cwd: dir, env }), 'From')
      : undefined;
    const files = (await readdir(out)).filter((f) => PATCH_FILE.test(f)).sort();
    const patches = files.filter((f) => !f.startsWith('0000-'));
    for (const f of patches) {
      const text = await readFile(join(out, f), 'utf8');
      const signed = signPatch(text, me, from);
      if (signed !== text) await writeFile(join(out, f), signed);
    }
    // The cover letter is from the exporter (format-patch's committer), dated
    // by the last patch rather than by when it is exported: re-exporting changes no byte.
    const coverFile = join(out, '0000-cover-letter.patch');
    if ((await exists(coverFile)) && patches.length > 0) {
      const last = await readFile(join(out, patches[patches.length - 1]!), 'utf8');
      await writeFile(coverFile, copyHeaders(await readFile(coverFile, 'utf8'), last, ['Date']));
    }
    return files;
  } finally {
    await rm(mailmap, { force: true });
  }
}

/** The format-patch files of a series directory: NNNN-*.patch. */
const PATCH_FILE = /^\d{4}-.*\.patch$/;

/**
 * Move freshly exported patch files (cover letter included) from stagedDir
 * into seriesDir so that a crash at any point leaves a usable series: every
 * new file is renamed into place first, then the new `series` file (its `#`
 * comment lines kept), and only then are old patch files that are no longer
 * part of the series removed. stagedDir must be on seriesDir's filesystem.
 */
export async function installExport(seriesDir: string, stagedDir: string, patchNames: readonly string[]): Promise<void> {
  const seriesFile = join(seriesDir, 'series');
  const header = (await readFile(seriesFile, 'utf8').catch(() => '')).split('\n').filter((l) => l.startsWith('#'));
  const listed = patchNames.filter((f) => !f.startsWith('0000-'));
  const stagedSeries = join(stagedDir, 'series');
  await writeFile(stagedSeries, [...header, ...listed].join('\n') + '\n');
  for (const f of patchNames) await rename(join(stagedDir, f), join(seriesDir, f));
  await rename(stagedSeries, seriesFile);
  const keep = new Set(patchNames);
  for (const old of await readdir(seriesDir)) if (PATCH_FILE.test(old) && !keep.has(old)) await rm(join(seriesDir, old));
}

/** Remove staging directories that exports killed midway left behind. */
async function removeStaleStages(seriesDir: string): Promise<void> {
  for (const name of await readdir(seriesDir)) {
    const pid = /^\.export-(\d+)$/.exec(name)?.[1];
    if (pid && !processAlive(Number(pid))) await rm(join(seriesDir, name), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A mail header with its folded continuation lines: `^Name: ...`. */
const headerRe = (name: string): RegExp => new RegExp(`^${name}: .*(?:\\n[ \\t].*)*$`, 'm');

/** The header `name` (with its folded lines) of a mail's header block. */
export function mailHeader(mail: string, name: string): string | undefined {
  return headerRe(name).exec(mail.split('\n\n')[0] ?? '')?.[0];
}

/** Replace mail headers (with their folded continuation lines) by the source's. */
export function copyHeaders(target: string, source: string, names: readonly string[]): string {
  let out = target;
  for (const n of names) {
    const h = headerRe(n).exec(source)?.[0];
    if (h) out = out.replace(headerRe(n), h);
  }
  return out;
}

const TRAILER = /^[A-Za-z0-9-]+: \S/;
const MIME_HEADERS = ['MIME-Version: 1.0', 'Content-Type: text/plain; charset=UTF-8', 'Content-Transfer-Encoding: 8bit'];

/**
 * Give one exported patch the exporter `me` where it has the kit's
 * placeholder identity: the From: header (replaced by `from`, git's
 * rendering of `me`, when given) and Signed-off-by lines of the commit
 * message. Other people's trailers stay as they are; a message without
 * any Signed-off-by gets the exporter's, last, before the `---` line.
 * Only the mail headers and the message are touched, never the diff.
 */
export function signPatch(text: string, me: GitIdentity, from: string | undefined): string {
  const headerEnd = text.indexOf('\n\n');
  const dashes = text.indexOf('\n---\n', headerEnd);
  if (headerEnd < 0 || dashes < 0) return text;
  let head = text.slice(0, headerEnd);
  const fromHeader = mailHeader(head, 'From');
  if (from && fromHeader && fromHeader.replace(/\n[ \t]+/g, ' ') === `From: ${formatIdentity(PLACEHOLDER_IDENTITY)}`) head = head.replace(fromHeader, from);
  const mine = `Signed-off-by: ${formatIdentity(me)}`;
  const placeholder = `Signed-off-by: ${formatIdentity(PLACEHOLDER_IDENTITY)}`;
  // The message: from the blank line after the headers to the "---" line.
  let msg = text.slice(headerEnd + 1, dashes + 1).split('\n').slice(0, -1);
  msg = msg.includes(mine) ? msg.filter((l) => l.trimEnd() !== placeholder) : msg.map((l) => (l.trimEnd() === placeholder ? mine : l));
  if (!msg.some((l) => /^Signed-off-by:/i.test(l))) {
    const para = msg.slice(msg.lastIndexOf('') + 1);
    msg.push(...(para.length === 0 || para.every((l) => TRAILER.test(l)) ? [mine] : ['', mine]));
  }
  const body = `${msg.join('\n')}\n${text.slice(dashes + 1)}`;
  // git writes these headers when a message is not ASCII; a new sign-off may have made it so.
  if (/[^\x00-\x7f]/.test(msg.join('\n')) && !/^Content-Type:/im.test(head)) head = [head, ...MIME_HEADERS].join('\n');
  return `${head}\n${body}`;
}

export interface PatchCheck {
  patch: string;
  checkpatch: { errors: number; warnings: number; checks: number };
  build: 'ok' | 'failed' | 'not run';
  w1Warnings: string[];
}

export function parseCheckpatchTotals(out: string): { errors: number; warnings: number; checks: number } | undefined {
  const m = /total: (\d+) errors, (\d+) warnings, (?:(\d+) checks, )?\d+ lines checked/.exec(out);
  return m ? { errors: Number(m[1]), warnings: Number(m[2]), checks: Number(m[3] ?? 0) } : undefined;
}

export async function seriesCheck(
  c: Common & { build: boolean; kunit: boolean; backends: BackendChoice[]; flavors: Flavor[]; jobs: number; output: string },
  log: Logger,
  signal: AbortSignal,
): Promise<number> {
  const spec = await baseOf(c, log);
  // QEMU is the KUnit run's to choose and check (pipeline.ts: the registry's or the host's).
  await hostCheck({ needDebianSource: spec.kind === 'debian' && !spec.release, needQemu: false, allowInstall: true, log, logFile: join(c.workDir, 'series-host-check.log') });
  const { source, series } = await setup(c, log, spec);
  const runId = `series-check-${newRunId()}`;
  const runDir = join(c.output, runId);
  const logs = join(runDir, 'logs');
  await mkdir(logs, { recursive: true });
  const checks: PatchCheck[] = series.patches.map((p) => ({ patch: p.name, checkpatch: { errors: -1, warnings: -1, checks: -1 }, build: 'not run', w1Warnings: [] }));
  const save = () => writeJsonAtomic(join(runDir, 'series-check.json'), { source: source.version, baseCommit: source.baseCommit, seriesHash: series.hash, patches: checks });

  // checkpatch needs a kernel tree around it: the baseline worktree is one.
  const base = await prepareVariant('baseline', { source, series: { patched: series }, workDir: c.workDir, log, logFile: join(logs, 'trees.log') });
  for (const [i, p] of series.patches.entries()) {
    const r = await spawn('perl', [join(base.src, 'scripts', 'checkpatch.pl'), '--strict', '--no-color', p.path], {
      what: `checkpatch ${p.name}`,
      cwd: base.src,
      allowFailure: true,
      logFile: join(logs, `checkpatch-${i + 1}.log`),
    });
    const totals = parseCheckpatchTotals(r.output);
    if (!totals) throw new QkError('infra-error', `could not read checkpatch's totals for ${p.name}`, { logFile: join(logs, `checkpatch-${i + 1}.log`) });
    checks[i]!.checkpatch = totals;
    log.info(`checkpatch --strict ${p.name}: ${totals.errors} errors, ${totals.warnings} warnings, ${totals.checks} checks`);
  }
  await save();

  if (c.build) {
    const toolchain = await toolchainVersions();
    for (const [i, p] of series.patches.entries()) {
      if (signal.aborted) throw new QkError('interrupted', 'interrupted');
      const patches = series.patches.slice(0, i + 1);
      const logFile = join(logs, `build-after-${i + 1}.log`);
      const tree = await prepareTree('bisect', { source, series, patches, seriesHash: sha256(...patches.map((x) => x.sha256)), workDir: c.workDir, log, logFile });
      try {
        const target = { arch: 'x86_64', flavor: 'normal' } as const;
        const cfg = await configure(tree, target, { profile: DEFAULT_PROFILE, seriesFragments: series.configFragments, extraFragments: [], log, logFile, allowUndefined: true });
        const kb = await buildKernel(tree, cfg, { jobs: c.jobs, toolchain: [toolchain['gcc'], toolchain['ld']].join('|'), log, logFile });
        // W=1 on the C files this patch touches: no new warnings.
        const changed = (await capture('git', ['diff', '--name-only', '--diff-filter=AM', 'HEAD~1', 'HEAD', '--', '*.c'], { what: 'files of the patch', cwd: tree.src })).split('\n').filter(Boolean);
        const objs = changed.map((f) => f.replace(/\.c$/, '.o'));
        if (objs.length > 0) {
          const w = await spawn('make', ['-C', tree.src, `O=${kb.buildDir}`, 'W=1', 'CC=ccache gcc', ...objs], { what: `W=1 build of ${objs.join(' ')}`, logFile, failClass: 'build-failure' });
          checks[i]!.w1Warnings = w.output.split('\n').filter((l) => /\bwarning:/.test(l));
        }
        checks[i]!.build = 'ok';
        log.info(`build after ${p.name}: ok${objs.length ? `, W=1 warnings in ${objs.length} object(s): ${checks[i]!.w1Warnings.length}` : ''}`);
      } catch (e) {
        checks[i]!.build = 'failed';
        await save();
        throw e;
      }
      await save();
    }
  }

  const dirty = checks.filter((x) => x.checkpatch.errors + x.checkpatch.warnings + x.checkpatch.checks > 0 || x.w1Warnings.length > 0 || x.build === 'failed');
  let code = dirty.length > 0 ? EXIT_CODE['test-failure'] : 0;
  if (c.kunit) {
    const out = await runPipeline(
      {
        source: spec,
        seriesDir: series.dir,
        sides: [{ name: 'patched', variant: 'patched', cmdline: [] }],
        backends: c.backends,
        smp: 2,
        memoryMB: 2048,
        bootTimeoutS: 1800,
        silenceTimeoutS: 300,
        boots: 1,
        jobs: c.jobs,
        outputDir: c.output,
        workDir: c.workDir,
        runId: `${runId}-kunit`,
        profile: DEFAULT_PROFILE,
        flavors: c.flavors,
        extraFragments: [],
        extraCmdline: [],
        modules: [],
        benchSet: 'headline',
        provoke: undefined,
        tcgThreads: 'single',
        lockWaitS: DEFAULT_LOCK_WAIT_MS / 1000,
        allowInstall: true,
        argv: ['series.mjs', 'check'],
      },
      log,
      signal,
    );
    log.info(`KUnit run: ${out.class} (${join(out.runDir, 'report.md')})`);
    if (out.exitCode !== 0) code = out.exitCode;
  }
  log.info(`series check: ${dirty.length === 0 ? 'clean' : `${dirty.length} patch(es) need work: ${dirty.map((d) => d.patch).join(', ')}`} (${join(runDir, 'series-check.json')})`);
  return code;
}

export async function seriesMain(argv: readonly string[]): Promise<number> {
  return withInterrupts((signal) => seriesCommand(argv, signal));
}

type CheckFlags = Common & { build: boolean; kunit: boolean; backend: BackendChoice[]; flavors: Flavor[]; jobs: number; output: string };

export function buildSeriesCommand(): Command {
  const common = (cmd: Command) =>
    cmd
      .option('--series <dir>', 'series directory', join(REPO_ROOT, 'kernel-patches'))
      .option('--source <base>', 'the base: debian (the installed linux-source-6.12) or debian:X.Y (linux-source-X.Y from the Debian registry)', 'debian')
      .option('--work-dir <dir>', 'work directory', process.env['QK_WORK_DIR'] ?? join(REPO_ROOT, '.work'));
  const program = new Command('series.mjs').description('Edit, export and check the kernel patch series in kernel-patches/.').exitOverride().configureOutput({ writeErr: () => {} });
  common(program.command('edit').description('make a git branch with the series applied, for editing')).option('--force', 'start over even if the edit branch has commits');
  common(program.command('export').description('write the edit branch back as format-patch files (stable output)'));
  common(program.command('check').description('checkpatch --strict, a build after each patch (W=1 on its files), then the KUnit suites in guests'))
    .option('--no-build', 'skip the per-patch builds')
    .option('--no-kunit', 'skip the KUnit run')
    .addOption(new Option('--backend <list>', `backends for the KUnit run: ${['auto', ...BACKENDS].join(', ')}`).argParser(listOf<BackendChoice>('--backend', ['auto', ...BACKENDS])).default(['tcg', 'uml'], 'tcg,uml'))
    .addOption(new Option('--flavors <list>', `flavors for the KUnit run (${FLAVORS.join(', ')})`).argParser(listOf('--flavors', FLAVORS)).default([...FLAVORS], FLAVORS.join(',')))
    .addOption(new Option('-j, --jobs <n>', 'make jobs').argParser(intOf('--jobs', 1, 1024)).default(2))
    .option('-o, --output <dir>', 'results directory', join(REPO_ROOT, 'results'));
  return program;
}

/** Parse the command line and run the subcommand; signal aborts on Ctrl-C. */
async function seriesCommand(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const log = consoleLogger();
  const program = buildSeriesCommand();
  const early = parseArgs(program, argv);
  if (early !== undefined) return early;
  const sub = program.commands.find((c) => c.name() === program.args[0])!;
  try {
    switch (sub.name()) {
      case 'edit': {
        const o = sub.opts<Common & { force?: boolean }>();
        await seriesEdit({ ...o, force: Boolean(o.force) }, log);
        return 0;
      }
      case 'export':
        await seriesExport(sub.opts<Common>(), log);
        return 0;
      default: {
        const o = sub.opts<CheckFlags>();
        return await seriesCheck({ ...o, backends: o.backend }, log, signal);
      }
    }
  } catch (e) {
    return reportFailure(e, signal);
  }
}
