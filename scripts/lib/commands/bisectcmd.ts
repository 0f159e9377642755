/**
 * bisect.mjs: which kernel commit, or which patch of the series, broke a
 * criterion (apply, build, boot, KUnit) or moved a benchmark figure.
 *
 *   kernel  git bisect run over a kernel tree's history, each step a run.mjs
 *           run of the commit git picked (--tree T --ref SHA): one base and
 *           one work tree for every step, so a step is a checkout and an
 *           incremental make (with ccache), not a new tree
 *   series  binary search over the series' prefixes (first k patches),
 *           each step a run.mjs run with that prefix as the patched tree
 *   step    (internal) one step of `git bisect run`
 *
 * Everything goes to results/<bisect-id>/: bisect.json, report.md,
 * steps.jsonl, every step's run directory under steps/, git-bisect.log
 * (`git bisect log`) and bisect-runs.log (every step's output).
 */
import { appendFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { parseArgs, reportFailure } from './command.ts';
import { median } from 'simple-statistics';
import { EXIT_CODE, QkError, errorHeadline, exitCodeOf, formatError, type RunClass } from '../plumbing/errors.ts';
import { consoleLogger, type Logger } from '../plumbing/log.ts';
import { exists, readJson, writeFileAtomic, writeJsonAtomic } from '../plumbing/fsutil.ts';
import { capture, spawn } from '../plumbing/proc.ts';
import { commitOf, isAncestor, subjectOf } from '../plumbing/git.ts';
import { withInterrupts } from '../plumbing/signals.ts';
import { REPO_ROOT, newRunId } from '../plumbing/paths.ts';
import { readSeries, readSeriesFor } from '../pipeline/series.ts';
import { prepareSource, resolveSource, type SourceSpec } from '../pipeline/source.ts';
import { sourceFromFlags } from './cli.ts';
import { z } from 'zod';
import { readResultsFile, BACKENDS, type Backend, type Results } from '../analysis/results.ts';
import { readManifest } from '../pipeline/recorder.ts';
import {
  BISECT_EXIT,
  CRITERIA,
  bootFigures,
  classVerdict,
  criterionArgs,
  metricModule,
  parseBisectOutput,
  prefixFiles,
  type Criterion,
  type Mode,
  type StepRecord,
  type Verdict,
} from '../bisect/bisect.ts';
import { judgeMetric } from '../analysis/judgemetric.ts';

/** Everything a step needs, kept in the bisection's directory (the `step` subcommand reads it). */
const BisectState = z.object({
  mode: z.enum(['kernel', 'series'] satisfies Mode[]),
  criterion: z.enum(CRITERIA),
  metric: z.string().optional(),
  threshold: z.number(),
  backend: z.enum(BACKENDS),
  repeat: z.number().int().positive(),
  dir: z.string(),
  workDir: z.string(),
  install: z.boolean(),
  /** run.mjs arguments every step gets (source, variants, the user's extra flags). */
  runArgs: z.array(z.string()).readonly(),
  /** Kernel mode: the tree, and the clone git bisect runs in. */
  tree: z.string().optional(),
  repo: z.string().optional(),
  variant: z.string().optional(),
  /** Metric criterion: the good end's per-boot figures. */
  reference: z.array(z.number()).optional(),
});
type BisectState = z.infer<typeof BisectState>;

const STATE = 'bisect-state.json';
const RUN_MJS = join(REPO_ROOT, 'scripts', 'run.mjs');
const BISECT_MJS = join(REPO_ROOT, 'scripts', 'bisect.mjs');

/* ---- one step: a run.mjs run, judged ----------------------------------------------- */

async function readStepRun(runDir: string): Promise<{ class: RunClass; results?: Results; error?: string }> {
  const m = await readManifest(runDir);
  if (!m?.class) throw new QkError('infra-error', `the step's run left no result in ${runDir}`, { hint: `see ${runDir} and the bisection's bisect-runs.log` });
  const results = await readResultsFile(join(runDir, 'results.json'));
  return { class: m.class, ...(results ? { results } : {}), ...(m.error ? { error: m.error } : {}) };
}

/** Merge the --append of the criterion with the user's own, so that neither is lost. */
export function mergeAppend(args: readonly string[]): string[] {
  const out: string[] = [];
  const appended: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--append' && i + 1 < args.length) appended.push(args[++i]!);
    else if (args[i]!.startsWith('--append=')) appended.push(args[i]!.slice('--append='.length));
    else out.push(args[i]!);
  }
  return appended.length ? [...out, '--append', appended.join(' ')] : out;
}

async function runStep(
  st: BisectState,
  step: { role: string; runId: string; args: readonly string[]; commit?: string; subject?: string; patches?: number },
  log: Logger,
  signal?: AbortSignal,
): Promise<StepRecord> {
  const t0 = Date.now();
  const stepsDir = join(st.dir, 'steps');
  const args = mergeAppend([
    RUN_MJS,
    ...st.runArgs,
    ...step.args,
    ...criterionArgs(st.criterion, { ...(st.metric ? { metric: st.metric } : {}), repeat: st.repeat }),
    '--backend', st.backend,
    // A step is judged on every boot of its metric (bisect.ts bootFigures): an A/A twin's boots would count twice.
    '--aa-control', 'none',
    '-o', stepsDir,
    '--run-id', step.runId,
    '--work-dir', st.workDir,
    ...(st.install ? [] : ['--no-install']),
  ]);
  const logFile = join(st.dir, 'bisect-runs.log');
  await appendFile(logFile, `\n==== ${step.role} ${step.commit ?? `${step.patches} patch(es)`}: node ${args.join(' ')}\n`);
  await spawn(process.execPath, args, { what: `bisection step ${step.runId}`, logFile, allowFailure: true, timeoutMs: 6 * 3600_000, ...(signal ? { signal } : {}) });
  const runDir = join(stepsDir, step.runId);
  const run = await readStepRun(runDir);
  const cv = classVerdict(st.criterion, run.class, st.mode);
  let verdict: Verdict | 'abort';
  let reason: string;
  const extra: Partial<StepRecord> = {};
  if (cv === 'measure') {
    const figures = bootFigures(run.results, st.metric!, st.backend);
    const samples = (run.results?.metrics ?? []).filter((m) => m.name === st.metric && m.backend === st.backend).map((m) => [...m.samples]);
    Object.assign(extra, { figures, samples });
    if (!st.reference) {
      verdict = figures.length ? 'good' : 'abort';
      reason = figures.length ? `reference: ${st.metric} ${fmt(median(figures))}` : `no figure for ${st.metric} on ${st.backend}: ${benchStatusOf(run.results, st.metric!)}`;
    } else {
      const j = judgeMetric(figures, st.reference, { backend: st.backend, threshold: st.threshold });
      verdict = j.verdict;
      reason = `${st.metric} ${figures.length ? fmt(median(figures)) : '–'} vs ${fmt(median(st.reference))}: ${j.basis}`;
      Object.assign(extra, { ratio: j.ratio, ...(j.p !== undefined ? { p: j.p } : {}) });
    }
  } else {
    verdict = cv;
    reason = `${run.class}${run.class === 'ok' ? '' : `: ${errorHeadline(run.error) ?? bootReason(run.results) ?? 'see the run'}`}`;
  }
  const rec: StepRecord = {
    role: step.role,
    ...(step.commit ? { commit: step.commit } : {}),
    ...(step.subject ? { subject: step.subject } : {}),
    ...(step.patches !== undefined ? { patches: step.patches } : {}),
    runId: step.runId,
    runDir,
    class: run.class,
    verdict,
    reason,
    ...extra,
    wallMs: Date.now() - t0,
  };
  await appendFile(join(st.dir, 'steps.jsonl'), `${JSON.stringify(rec)}\n`);
  const what = step.commit ? `${step.commit.slice(0, 12)} ${step.subject ?? ''}` : `${step.patches} patch(es)`;
  log.info(`${step.role}: ${what} → ${verdict} (${reason}) [${Math.round(rec.wallMs / 1000)} s]`);
  return rec;
}

function fmt(x: number): string {
  return x >= 100 ? x.toFixed(1) : x.toFixed(3);
}
function bootReason(r: Results | undefined): string | undefined {
  const b = r?.boots.find((x) => x.class !== 'ok' && x.class !== 'flaky');
  return b ? `${b.side} on ${b.backend}: ${b.reason}${b.signature ? ` (${b.signature})` : ''}` : undefined;
}
function benchStatusOf(r: Results | undefined, metric: string): string {
  const s = r?.benchStatus.find((x) => `${x.suite}/${x.case}` === metric);
  return s ? `${s.status}: ${s.reason}` : 'the case printed nothing';
}

async function readSteps(dir: string): Promise<StepRecord[]> {
  const text = await readFile(join(dir, 'steps.jsonl'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as StepRecord);
}

/* ---- evidence and report ----------------------------------------------------------- */

/** The log lines that show why a step failed: the error's details, or the failing boot's console around its reason. */
async function excerpt(rec: StepRecord): Promise<string[]> {
  const m = await readManifest(rec.runDir);
  if (m?.error) return m.error.split('\n').slice(0, 30);
  const r = await readResultsFile(join(rec.runDir, 'results.json'));
  const b = r?.boots.find((x) => x.class !== 'ok' && x.class !== 'flaky');
  if (!b) return [];
  const consoleText = await readFile(join(rec.runDir, b.consoleLog), 'utf8').catch(() => '');
  const lines = consoleText.split('\n');
  const at = lines.findIndex((l) => /Kernel panic|Oops|BUG:|WARNING:|not ok /.test(l));
  return [`${b.class}: ${b.reason}`, ...(at >= 0 ? lines.slice(Math.max(0, at - 3), at + 15) : lines.slice(-15))];
}

interface Outcome {
  readonly found: boolean;
  readonly culprit?: { commit?: string; subject?: string; patch?: string; index?: number };
  readonly candidates?: readonly string[];
  readonly parent?: StepRecord;
  readonly bad?: StepRecord;
  readonly confirmed?: 'not needed' | 'confirmed' | 'not confirmed';
  readonly confirmation?: readonly { parent: StepRecord; culprit: StepRecord; verdict: Verdict }[];
  readonly message: string;
}

async function finish(st: BisectState, o: Outcome, t0: number, log: Logger, extra: Record<string, unknown> = {}): Promise<number> {
  const steps = await readSteps(st.dir);
  const evidence = o.bad ? await excerpt(o.bad) : [];
  const summary = {
    mode: st.mode,
    criterion: st.criterion,
    ...(st.metric ? { metric: st.metric, threshold: st.threshold, reference: st.reference } : {}),
    backend: st.backend,
    ...extra,
    found: o.found,
    culprit: o.culprit,
    candidates: o.candidates,
    confirmed: o.confirmed,
    confirmation: o.confirmation,
    message: o.message,
    evidence,
    wallMs: Date.now() - t0,
    steps,
  };
  await writeJsonAtomic(join(st.dir, 'bisect.json'), summary);
  const L = [`# bisection ${st.dir.split('/').pop()}`, '', `- mode: ${st.mode}, criterion: **${st.criterion}**${st.metric ? ` (${st.metric}, threshold ${(st.threshold * 100).toFixed(1)}%)` : ''}, backend ${st.backend}`];
  for (const [k, v] of Object.entries(extra)) L.push(`- ${k}: ${String(v)}`);
  L.push(`- wall time: ${Math.round((Date.now() - t0) / 1000)} s, ${steps.length} run(s)`, '', `**${o.message}**`, '');
  if (o.parent && o.bad && st.criterion === 'metric') {
    const side = (r: StepRecord) => `${(r.figures ?? []).map(fmt).join(', ')} (samples ${spread(r)})`;
    L.push('| side | run | per-boot figures |', '|---|---|---|', `| before (${label(o.parent)}) | ${o.parent.runId} | ${side(o.parent)} |`, `| culprit (${label(o.bad)}) | ${o.bad.runId} | ${side(o.bad)} |`, '');
    if (o.bad.ratio !== undefined) L.push(`Ratio against the good end: ${fmt(o.bad.ratio)}×; ${o.bad.reason}`, '');
  }
  if (evidence.length) L.push('Evidence (the culprit’s run):', '', '```', ...evidence, '```', '');
  if (o.confirmation?.length) {
    L.push(`Confirmation: ${o.confirmed}`, '', '| round | before | culprit | verdict |', '|---|---|---|---|');
    o.confirmation.forEach((c, i) => L.push(`| ${i + 1} | ${(c.parent.figures ?? []).map(fmt).join(', ')} | ${(c.culprit.figures ?? []).map(fmt).join(', ')} | ${c.verdict} |`));
    L.push('');
  }
  L.push('## Steps', '', '| # | role | what | class | verdict | reason | wall s | run |', '|---|---|---|---|---|---|---|---|');
  steps.forEach((s, i) => L.push(`| ${i + 1} | ${s.role} | ${label(s)} | ${s.class} | ${s.verdict} | ${s.reason.replace(/\|/g, '\\|')} | ${Math.round(s.wallMs / 1000)} | steps/${s.runId}/ |`));
  await writeFileAtomic(join(st.dir, 'report.md'), `${L.join('\n')}\n`);
  log.info(`\n${o.message}`);
  if (evidence.length) log.info(evidence.slice(0, 12).map((l) => `  ${l}`).join('\n'));
  log.info(`report: ${join(st.dir, 'report.md')}`);
  return o.found ? 1 : 0;
}

function label(s: StepRecord): string {
  return s.commit ? `${s.commit.slice(0, 12)} ${s.subject ?? ''}`.trim() : `${s.patches} patch(es)`;
}
function spread(r: StepRecord): string {
  const all = (r.samples ?? []).flat();
  return all.length ? `${fmt(Math.min(...all))}–${fmt(Math.max(...all))}` : '–';
}

/** Re-run both sides of a suspected metric culprit (noisy backends): every round must find it bad. */
async function confirm(
  st: BisectState,
  rounds: number,
  sides: { parent: (i: number) => Promise<StepRecord>; culprit: (i: number) => Promise<StepRecord> },
): Promise<{ confirmed: 'not needed' | 'confirmed' | 'not confirmed'; confirmation: { parent: StepRecord; culprit: StepRecord; verdict: Verdict }[] }> {
  if (st.criterion !== 'metric' || st.backend === 'icount' || rounds === 0) return { confirmed: 'not needed', confirmation: [] };
  const confirmation = [];
  for (let i = 1; i <= rounds; i++) {
    const parent = await sides.parent(i);
    const culprit = await sides.culprit(i);
    const j = judgeMetric(culprit.figures ?? [], parent.figures ?? [], { backend: st.backend, threshold: st.threshold });
    confirmation.push({ parent, culprit, verdict: j.verdict });
  }
  return { confirmed: confirmation.every((c) => c.verdict === 'bad') ? 'confirmed' : 'not confirmed', confirmation };
}

/* ---- kernel bisection ---------------------------------------------------------------- */

interface CommonFlags {
  criterion: Criterion;
  metric?: string;
  threshold: string;
  backend: Backend;
  repeat?: string;
  confirm?: string;
  output: string;
  workDir: string;
  id?: string;
  install: boolean;
}

async function makeState(mode: Mode, f: CommonFlags, rest: Partial<BisectState> & { runArgs: string[] }): Promise<BisectState> {
  if (f.criterion === 'metric') metricModule(f.metric);
  else if (f.metric) throw new QkError('usage-error', '--metric goes with --criterion metric');
  const threshold = Number(f.threshold);
  if (!(threshold > 0 && threshold < 1000)) throw new QkError('usage-error', `--threshold must be a percentage above 0, not '${f.threshold}'`);
  const noisy = f.backend !== 'icount';
  const repeat = Number(f.repeat ?? (noisy && f.criterion === 'metric' ? 5 : 1));
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 100) throw new QkError('usage-error', `--repeat must be an integer from 1 to 100, not '${f.repeat}'`);
  if (noisy && f.criterion === 'metric' && repeat < 3) throw new QkError('usage-error', `a metric on ${f.backend} needs --repeat 3 or more: its figures vary between boots`, { hint: 'or use --backend icount, where one boot decides' });
  const id = f.id ?? `bisect-${newRunId()}`;
  if (!/^[\w.-]+$/.test(id)) throw new QkError('usage-error', `--id '${id}' may only contain letters, digits, '.', '_' and '-'`);
  const dir = join(resolve(f.output), id);
  if (await exists(dir)) throw new QkError('usage-error', `${dir} already exists`, { hint: 'choose another --id' });
  await mkdir(join(dir, 'steps'), { recursive: true });
  const st: BisectState = { mode, criterion: f.criterion, ...(f.metric ? { metric: f.metric } : {}), threshold: threshold / 100, backend: f.backend, repeat, dir, workDir: resolve(f.workDir), install: f.install, ...rest };
  await writeJsonAtomic(join(dir, STATE), st);
  return st;
}

export async function kernelBisect(f: CommonFlags & { tree: string; good: string; bad: string; variant: string; extra: string[] }, log: Logger, signal: AbortSignal): Promise<number> {
  const t0 = Date.now();
  const tree = resolve(f.tree);
  const rev = async (r: string, flag: string) => {
    const sha = await commitOf(tree, r);
    if (!sha) throw new QkError('usage-error', `${flag} ${r} is not a commit of ${tree}`);
    return sha;
  };
  if (!(await exists(join(tree, '.git'))) && !(await exists(join(tree, 'HEAD')))) throw new QkError('usage-error', `--tree ${tree} is not a git repository`);
  const good = await rev(f.good, '--good');
  const bad = await rev(f.bad, '--bad');
  if (!(await isAncestor(tree, good, bad))) throw new QkError('usage-error', `--good ${f.good} is not an ancestor of --bad ${f.bad}`, { hint: 'bisection looks for the first bad commit after a good one' });
  const st = await makeState('kernel', f, { tree, variant: f.variant, runArgs: ['--tree', tree, '--variants', f.variant, ...f.extra] });
  const repo = join(st.dir, 'git');
  Object.assign(st, { repo });
  await writeJsonAtomic(join(st.dir, STATE), st);
  log.info(`bisecting ${tree}: good ${good.slice(0, 12)}, bad ${bad.slice(0, 12)}, criterion ${st.criterion}${st.metric ? ` ${st.metric}` : ''} on ${st.backend}; ${st.dir}`);

  const at = (role: string, sha: string, n: string) => async () =>
    runStep(st, { role, runId: n, commit: sha, subject: await subjectOf(tree, sha), args: ['--ref', sha] }, log, signal);
  const g = await at('good end', good, 'good')();
  if (g.verdict !== 'good') throw new QkError('usage-error', `--good ${f.good} does not pass the ${st.criterion} criterion (${g.reason})`, { hint: `see ${g.runDir}; bisection needs a good start` });
  if (st.criterion === 'metric') {
    st.reference = [...(g.figures ?? [])];
    await writeJsonAtomic(join(st.dir, STATE), st);
  }
  const b = await at('bad end', bad, 'bad')();
  if (b.verdict === 'good') return finish(st, { found: false, message: `no culprit: --bad ${f.bad} passes the ${st.criterion} criterion too (${b.reason})` }, t0, log, { good, bad });
  if (b.verdict !== 'bad') throw new QkError('usage-error', `--bad ${f.bad} cannot be judged under the ${st.criterion} criterion (${b.reason})`, { hint: `see ${b.runDir}` });

  // A clone that shares the tree's objects: git bisect moves BISECT_HEAD there, never a checkout of the user's tree.
  await spawn('git', ['clone', '-q', '--shared', '--no-checkout', tree, repo], { what: 'cloning the tree for git bisect', logFile: join(st.dir, 'bisect-runs.log') });
  const git = (args: string[], what: string) => spawn('git', args, { what, cwd: repo, logFile: join(st.dir, 'bisect-runs.log'), signal, timeoutMs: 24 * 3600_000 });
  await git(['bisect', 'start', '--no-checkout', bad, good], 'git bisect start');
  const run = await spawn('git', ['bisect', 'run', process.execPath, BISECT_MJS, 'step', '--state', join(st.dir, STATE)], {
    what: 'git bisect run',
    cwd: repo,
    logFile: join(st.dir, 'bisect-runs.log'),
    allowFailure: true,
    signal,
    timeoutMs: 24 * 3600_000,
    onLine: (l) => {
      if (l.startsWith('qk-step: ')) log.info(l.slice('qk-step: '.length));
    },
  });
  await writeFile(join(st.dir, 'git-bisect.log'), await capture('git', ['bisect', 'log'], { what: 'git bisect log', cwd: repo }));
  await git(['bisect', 'reset'], 'git bisect reset');
  const parsed = parseBisectOutput(run.output);
  const steps = await readSteps(st.dir);
  const aborted = steps.find((s) => s.verdict === 'abort');
  if (aborted) throw new QkError('infra-error', `bisection step ${aborted.runId} could not run: ${aborted.reason}`, { hint: `see ${aborted.runDir}` });
  if (!parsed.first) {
    if (parsed.candidates.length === 0) throw new QkError('infra-error', 'git bisect run ended without naming a commit', { details: run.tail.join('\n'), logFile: join(st.dir, 'bisect-runs.log') });
    return finish(st, { found: true, candidates: parsed.candidates, message: `the first bad commit is one of ${parsed.candidates.length} that could not be tested (skipped): ${parsed.candidates.map((c) => c.slice(0, 12)).join(', ')}` }, t0, log, { good, bad });
  }
  const culprit = parsed.first;
  const parentSha = await commitOf(tree, `${culprit}^`);
  if (!parentSha) throw new QkError('infra-error', `git bisect named ${culprit.slice(0, 12)}, which has no parent in ${tree}`);
  const badRec = culprit === bad ? b : steps.find((s) => s.commit === culprit && s.verdict === 'bad');
  const parentRec = parentSha === good ? g : steps.find((s) => s.commit === parentSha && s.verdict === 'good');
  const conf = await confirm(st, Number(f.confirm ?? 3), {
    parent: (i) => at(`confirm ${i} parent`, parentSha, `confirm-${i}-parent`)(),
    culprit: (i) => at(`confirm ${i} culprit`, culprit, `confirm-${i}-culprit`)(),
  });
  const subject = await subjectOf(tree, culprit);
  const message = `first bad commit: ${culprit.slice(0, 12)} ${subject}${conf.confirmed === 'not needed' ? '' : ` (${conf.confirmed} by ${conf.confirmation.length} re-run(s) of both sides)`}`;
  return finish(st, { found: true, culprit: { commit: culprit, subject }, ...(parentRec ? { parent: parentRec } : {}), ...(badRec ? { bad: badRec } : {}), ...conf, message }, t0, log, { good, bad });
}

/** One step of git bisect run: judge BISECT_HEAD; exit 0 good, 1 bad, 125 skip, 128 abort. */
export async function bisectStep(stateFile: string, log: Logger, signal: AbortSignal): Promise<number> {
  const st = await readJson(stateFile, BisectState, { what: 'bisection state' }).catch((e: unknown) => {
    process.stderr.write(`qk-step: ${formatError(e)}\n`);
    return undefined;
  });
  if (!st?.repo || !st.tree) {
    process.stderr.write(`qk-step: no bisection state in ${stateFile}\n`);
    return BISECT_EXIT.abort;
  }
  try {
    const sha = await commitOf(st.repo, 'BISECT_HEAD');
    if (!sha) throw new QkError('infra-error', `no BISECT_HEAD in ${st.repo}: this step was not started by git bisect run`);
    const n = (await readSteps(st.dir)).filter((s) => s.role === 'step').length + 1;
    const rec = await runStep(st, { role: 'step', runId: `step-${String(n).padStart(2, '0')}-${sha.slice(0, 12)}`, commit: sha, subject: await subjectOf(st.tree, sha), args: ['--ref', sha] }, { ...log, info: (m) => log.info(`qk-step: ${m}`) }, signal);
    return rec.verdict === 'abort' ? BISECT_EXIT.abort : BISECT_EXIT[rec.verdict];
  } catch (e) {
    process.stderr.write(`qk-step: ${formatError(e)}\n`);
    return BISECT_EXIT.abort;
  }
}

/* ---- series bisection ---------------------------------------------------------------- */

/** A series directory with the first k patches of `dir`, its config and KUnit modules cut to what those patches add. */
async function prefixSeries(dir: string, k: number, into: string): Promise<string> {
  const series = await readSeries(dir);
  if (k === series.patches.length) return series.dir;
  const out = join(into, `prefix-${k}`);
  await mkdir(out, { recursive: true });
  const texts = await Promise.all(series.patches.map((p) => readFile(p.path, 'utf8')));
  const read = (name: string) => readFile(join(series.dir, name), 'utf8').catch(() => '');
  const cut = prefixFiles({ patches: texts, k, config: await read('kernel.config'), kunit: await read('kunit-modules') });
  for (const p of series.patches.slice(0, k)) await symlink(p.path, join(out, p.name));
  await writeFile(join(out, 'series'), series.patches.slice(0, k).map((p) => `${p.name}\n`).join(''));
  await writeFile(join(out, 'kernel.config'), cut.config);
  await writeFile(join(out, 'kunit-modules'), cut.kunit);
  await writeFile(join(out, 'cmdline'), await read('cmdline'));
  return out;
}

export async function seriesBisect(f: CommonFlags & { series: string; source: string[]; sourceSpec: SourceSpec; extra: string[] }, log: Logger, signal: AbortSignal): Promise<number> {
  const t0 = Date.now();
  // The version of the series for the base's release (kernel-patches/ or its for-X.Y/).
  const o = { workDir: resolve(f.workDir), log, logFile: join(resolve(f.workDir), 'bisect-source.log') };
  const kernel = await prepareSource(await resolveSource(f.sourceSpec, o), o);
  const series = await readSeriesFor(f.series, kernel.version);
  const n = series.patches.length;
  if (n === 0) throw new QkError('usage-error', `${series.dir} has no patches to bisect`);
  const st = await makeState('series', f, { runArgs: [...f.source, ...f.extra] });
  log.info(`bisecting the series ${series.dir} (${n} patches), criterion ${st.criterion}${st.metric ? ` ${st.metric}` : ''} on ${st.backend}; ${st.dir}`);
  const at = (k: number, role: string, runId = `prefix-${k}`) => async () => {
    const dir = await prefixSeries(series.dir, k, st.dir);
    const args = k === 0 ? ['--series', dir, '--variants', 'baseline'] : ['--series', dir, '--variants', 'patched'];
    return runStep(st, { role, runId, patches: k, args }, log, signal);
  };
  let base: StepRecord | undefined;
  if (st.criterion !== 'apply') {
    base = await at(0, 'base (no patch)')();
    if (base.verdict === 'abort') throw new QkError('infra-error', `the base run could not run: ${base.reason}`, { hint: `see ${base.runDir}` });
    if (base.verdict !== 'good') return finish(st, { found: true, culprit: { patch: '(none: the base kernel itself)', index: 0 }, bad: base, message: `the base kernel fails the ${st.criterion} criterion without any patch (${base.reason})` }, t0, log, { series: series.dir });
    if (st.criterion === 'metric') {
      st.reference = [...(base.figures ?? [])];
      await writeJsonAtomic(join(st.dir, STATE), st);
    }
  }
  const records = new Map<number, StepRecord>(base ? [[0, base]] : []);
  const judge = async (k: number, role: string) => {
    const r = await at(k, role)();
    if (r.verdict === 'abort') throw new QkError('infra-error', `the run with ${k} patch(es) could not run: ${r.reason}`, { hint: `see ${r.runDir}` });
    records.set(k, r);
    return r;
  };
  const full = await judge(n, 'whole series');
  if (full.verdict === 'good') return finish(st, { found: false, message: `no culprit: the whole series passes the ${st.criterion} criterion (${full.reason})` }, t0, log, { series: series.dir });
  if (full.verdict === 'skip') throw new QkError('infra-error', `the whole series could not be judged: ${full.reason}`);
  let lo = 0;
  let hi = n;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const r = await judge(mid, 'step');
    if (r.verdict === 'bad') hi = mid;
    else if (r.verdict === 'good') lo = mid;
    else throw new QkError('test-failure', `the run with ${mid} patch(es) is inconclusive (${r.reason}); add --repeat`, { hint: `see ${r.runDir}` });
  }
  const patch = series.patches[hi - 1]!;
  const conf = await confirm(st, Number(f.confirm ?? 3), { parent: (i) => at(hi - 1, `confirm ${i} parent`, `confirm-${i}-prefix-${hi - 1}`)(), culprit: (i) => at(hi, `confirm ${i} culprit`, `confirm-${i}-prefix-${hi}`)() });
  const message = `first bad patch: ${hi}/${n} ${patch.name}${conf.confirmed === 'not needed' ? '' : ` (${conf.confirmed} by ${conf.confirmation.length} re-run(s) of both sides)`}`;
  const parent = records.get(hi - 1);
  return finish(st, { found: true, culprit: { patch: patch.name, index: hi }, ...(parent ? { parent } : {}), bad: records.get(hi)!, ...conf, message }, t0, log, { series: series.dir });
}

/* ---- command line ------------------------------------------------------------------ */

export function buildBisectCommand(): Command {
  const program = new Command('bisect.mjs')
    .description('Find the kernel commit (kernel) or the patch of the series (series) that breaks a criterion or moves a benchmark figure.')
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
    .addHelpText(
      'after',
      `
Criteria: apply (the series applies), build, boot (the kernel boots clean:
no panic, oops, warning, hang), kunit (its KUnit suites pass), metric (a
benchmark case, --metric suite/case, stays within --threshold of the good
end; icount by default, where one boot per step decides).

Exit codes: 0 no culprit (the bad end passes the criterion); 1 a culprit was
named (or the candidates git could not tell apart); 2 the bisection could not
be done (bad flag, a good end that is not good, a step the tool could not
run); 130 interrupted. Each step's run is kept in <bisect-dir>/steps/.

Examples:
  npx zx scripts/bisect.mjs kernel --tree ~/linux --good v6.12 --bad HEAD --criterion build
  npx zx scripts/bisect.mjs kernel --tree ~/linux --good v6.12 --bad HEAD --criterion metric --metric slab/reuse
  npx zx scripts/bisect.mjs kernel --tree ~/linux --good v6.12 --bad HEAD --variant patched --criterion kunit
  npx zx scripts/bisect.mjs series --criterion build --backend uml
  npx zx scripts/bisect.mjs series --criterion metric --metric skb/alloc_free --backend uml --repeat 5`,
    );
  const common = (cmd: Command) =>
    cmd
      .addOption(new Option('--criterion <c>', 'what makes a step bad').choices(CRITERIA).default('build'))
      .option('--metric <suite/case>', 'with --criterion metric: the benchmark case (e.g. slab/reuse, skb/alloc_free)')
      .option('--threshold <pct>', 'with --criterion metric: bad when the figure is this many percent above the good end', '2')
      .addOption(new Option('--backend <b>', 'backend of every step').choices(BACKENDS).default('icount'))
      .option('--repeat <n>', 'boots per step (metric on noisy backends: default 5; icount and other criteria: 1)')
      .option('--confirm <n>', 'metric on noisy backends: re-run both sides of the culprit this many times', '3')
      .option('-o, --output <dir>', 'results directory', join(REPO_ROOT, 'results'))
      .option('--work-dir <dir>', 'work directory (trees and builds, shared with run.mjs)', process.env['QK_WORK_DIR'] ?? join(REPO_ROOT, '.work'))
      .option('--id <id>', 'name of the bisection directory (default: bisect-<time>)')
      .option('--no-install', 'never install missing host packages');
  common(program.command('kernel').description('git bisect run over a kernel tree, the pipeline as the test').argument('[run-args...]', 'after --: more run.mjs flags for every step'))
    .requiredOption('--tree <path>', 'the kernel git tree (never modified)')
    .requiredOption('--good <rev>', 'a revision that passes the criterion')
    .requiredOption('--bad <rev>', 'a later revision that fails it')
    .addOption(new Option('--variant <v>', 'the kernel each step builds: baseline (the commit as it is) or patched (with kernel-patches/ applied)').choices(['baseline', 'patched']).default('baseline'));
  common(program.command('series').description('the first patch of the series that breaks the criterion').argument('[run-args...]', 'after --: more run.mjs flags for every step'))
    .option('--series <dir>', 'the series', join(REPO_ROOT, 'kernel-patches'))
    .option('--source <base>', 'kernel source: debian (the installed linux-source-6.12, default) or debian:X.Y (from the Debian registry)')
    .option('--tree <path>', 'kernel source: a git checkout')
    .option('--ref <ref>', 'with --tree or --git')
    .option('--tarball <file>', 'kernel source: a tarball')
    .option('--git <url>', 'kernel source: a git URL');
  program.command('step', { hidden: true }).requiredOption('--state <file>');
  return program;
}

export async function bisectMain(argv: readonly string[]): Promise<number> {
  const log = consoleLogger();
  return withInterrupts(async (signal) => {
    const program = buildBisectCommand();
    const early = parseArgs(program, argv);
    if (early !== undefined) return early;
    const [sub] = program.commands.filter((c) => program.args[0] === c.name());
    if (!sub) {
      process.stderr.write('error (usage-error): choose a command: kernel or series\nsee: npx zx scripts/bisect.mjs --help\n');
      return EXIT_CODE['usage-error'];
    }
    if (sub.name() === 'step') return bisectStep(resolve(sub.opts<{ state: string }>().state), log, signal);
    try {
      const o = sub.opts<CommonFlags & Record<string, string>>();
      const extra = [...sub.args];
      if (sub.name() === 'kernel') return await kernelBisect({ ...o, tree: o['tree']!, good: o['good']!, bad: o['bad']!, variant: o['variant']!, extra }, log, signal);
      const source = ['source', 'tree', 'ref', 'tarball', 'git'].flatMap((k) => (o[k] ? [`--${k}`, o[k]] : []));
      const sourceSpec = sourceFromFlags({ source: o['source'], tree: o['tree'] ? resolve(o['tree']) : undefined, ref: o['ref'], tarball: o['tarball'] ? resolve(o['tarball']) : undefined, git: o['git'] });
      return await seriesBisect({ ...o, series: resolve(o['series']!), source, sourceSpec, extra }, log, signal);
    } catch (e) {
      return reportFailure(e, signal);
    }
  });
}
