/**
 * One step of a bisection: a run.mjs run of one commit or one prefix of
 * the series, in its own run directory under steps/, judged by the
 * criterion (bisect.ts) and appended to steps.jsonl.
 */
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { median } from 'simple-statistics';
import { QkError, errorHeadline, type RunClass } from '../plumbing/errors.ts';
import type { Logger } from '../plumbing/log.ts';
import { spawn } from '../plumbing/proc.ts';
import { REPO_ROOT } from '../plumbing/paths.ts';
import { readManifest } from '../pipeline/recorder.ts';
import { readResultsFile, type Results } from '../analysis/results.ts';
import { judgeMetric } from '../analysis/judgemetric.ts';
import { bootFigures, classVerdict, criterionArgs, type StepRecord, type Verdict } from './bisect.ts';
import type { BisectState } from './state.ts';

const RUN_MJS = join(REPO_ROOT, 'scripts', 'run.mjs');

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

export async function runStep(
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

export function fmt(x: number): string {
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

export async function readSteps(dir: string): Promise<StepRecord[]> {
  const text = await readFile(join(dir, 'steps.jsonl'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as StepRecord);
}
