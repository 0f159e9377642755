/**
 * Kernel bisection: git bisect run over a kernel tree's history, in a
 * clone that shares the tree's objects, each step a run.mjs run of the
 * commit git picked (--tree T --ref SHA), which git bisect run starts
 * through `bisect.mjs step`.
 * One base and one work tree serve every step, so a step is a checkout
 * and an incremental make (with ccache), not a new tree.
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { QkError, formatError } from '../plumbing/errors.ts';
import type { Logger } from '../plumbing/log.ts';
import { exists, readJson, writeJsonAtomic } from '../plumbing/fsutil.ts';
import { capture, spawn } from '../plumbing/proc.ts';
import { commitOf, isAncestor, subjectOf } from '../plumbing/git.ts';
import { REPO_ROOT } from '../plumbing/paths.ts';
import { BISECT_EXIT, parseBisectOutput } from './bisect.ts';
import { BisectState, STATE, makeState, type CommonFlags } from './state.ts';
import { readSteps, runStep, type StepRuns } from './step.ts';
import { confirm, finish } from './outcome.ts';

const BISECT_MJS = join(REPO_ROOT, 'scripts', 'bisect.mjs');

export async function kernelBisect(f: CommonFlags & { tree: string; good: string; bad: string; variant: string; extra: string[] }, runs: StepRuns, log: Logger, signal: AbortSignal): Promise<number> {
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
  const runArgs = ['--tree', tree, '--variants', f.variant, ...f.extra];
  // The run.mjs flags after --: a mistake there is found now, before any step runs.
  runs.parse(runArgs);
  const st = await makeState('kernel', f, { tree, variant: f.variant, runArgs });
  const repo = join(st.dir, 'git');
  Object.assign(st, { repo });
  await writeJsonAtomic(join(st.dir, STATE), st);
  log.info(`bisecting ${tree}: good ${good.slice(0, 12)}, bad ${bad.slice(0, 12)}, criterion ${st.criterion}${st.metric ? ` ${st.metric}` : ''} on ${st.backend}; ${st.dir}`);

  const at = (role: string, sha: string, n: string) => async () =>
    runStep(st, { role, runId: n, commit: sha, subject: await subjectOf(tree, sha), ref: sha }, runs, log, signal);
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
export async function bisectStep(stateFile: string, runs: StepRuns, log: Logger, signal: AbortSignal): Promise<number> {
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
    const rec = await runStep(st, { role: 'step', runId: `step-${String(n).padStart(2, '0')}-${sha.slice(0, 12)}`, commit: sha, subject: await subjectOf(st.tree, sha), ref: sha }, runs, { ...log, info: (m) => log.info(`qk-step: ${m}`) }, signal);
    return rec.verdict === 'abort' ? BISECT_EXIT.abort : BISECT_EXIT[rec.verdict];
  } catch (e) {
    process.stderr.write(`qk-step: ${formatError(e)}\n`);
    return BISECT_EXIT.abort;
  }
}
