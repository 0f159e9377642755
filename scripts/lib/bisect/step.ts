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
import { parseJsonText } from '../plumbing/fsutil.ts';
import { readManifest } from '../pipeline/recorder.ts';
import { sidesFromVariants, type RunOptions } from '../pipeline/options.ts';
import { readResultsFile, type Results, type VariantName } from '../analysis/results.ts';
import { judgeMetric } from '../analysis/judgemetric.ts';
import { StepRecord, bootFigures, classVerdict, criterionOptions, type Verdict } from './bisect.ts';
import type { BisectState } from './state.ts';

/**
 * How a bisection starts its steps' runs; bisect.mjs's command line gives
 * them. `parse` reads run.mjs flags (the state's runArgs) into options the
 * way run.mjs does; `run` runs options in a child run.mjs, appending its
 * output to logFile (git bisect run needs a command per step anyway, and a
 * child's run keeps its own run directory and logs).
 */
export interface StepRuns {
  readonly parse: (argv: readonly string[]) => RunOptions;
  readonly run: (opts: RunOptions, o: { logFile: string; signal?: AbortSignal | undefined }) => Promise<void>;
}

/** What a step changes in the bisection's run: the commit of the --tree (kernel mode), or the series and the tree that carries it (series mode). */
export interface StepChange {
  readonly ref?: string;
  readonly seriesDir?: string;
  readonly variant?: VariantName;
}

async function readStepRun(runDir: string): Promise<{ class: RunClass; results?: Results; error?: string }> {
  const m = await readManifest(runDir);
  if (!m?.class) throw new QkError('infra-error', `the step's run left no result in ${runDir}`, { hint: `see ${runDir} and the bisection's bisect-runs.log` });
  const results = await readResultsFile(join(runDir, 'results.json'));
  return { class: m.class, ...(results ? { results } : {}), ...(m.error ? { error: m.error } : {}) };
}

/**
 * A step's run: the bisection's run (its run.mjs flags, `base`) with the
 * step's commit or series, what the criterion asks (its kernel arguments
 * after the user's, so that neither is lost), and the bisection's own
 * backend, directories and install permission.
 */
export function stepOptions(st: BisectState, base: RunOptions, step: StepChange & { runId: string }): RunOptions {
  const source = step.ref === undefined ? base.source : base.source.kind === 'tree' ? { ...base.source, ref: step.ref } : undefined;
  if (!source) throw new QkError('infra-error', `internal: a step at commit ${step.ref} needs a --tree source, not ${base.source.kind}`);
  const crit = criterionOptions(st.criterion, { metric: st.metric, repeat: st.repeat });
  return {
    ...base,
    source,
    ...(step.seriesDir !== undefined ? { seriesDir: step.seriesDir } : {}),
    ...(step.variant !== undefined ? { sides: sidesFromVariants([step.variant]) } : {}),
    ...crit,
    extraCmdline: [...base.extraCmdline, ...(crit.extraCmdline ?? [])],
    backends: [st.backend],
    // A step is judged on every boot of its metric (bisect.ts bootFigures): an A/A twin's boots would count twice.
    aaControl: 'none',
    outputDir: join(st.dir, 'steps'),
    runId: step.runId,
    workDir: st.workDir,
    allowInstall: base.allowInstall && st.install,
  };
}

export async function runStep(
  st: BisectState,
  step: StepChange & { role: string; runId: string; commit?: string; subject?: string; patches?: number },
  runs: StepRuns,
  log: Logger,
  signal?: AbortSignal,
): Promise<StepRecord> {
  const t0 = Date.now();
  const opts = stepOptions(st, runs.parse(st.runArgs), step);
  const logFile = join(st.dir, 'bisect-runs.log');
  await appendFile(logFile, `\n==== ${step.role} ${step.commit ?? `${step.patches} patch(es)`}\n`);
  await runs.run(opts, { logFile, signal });
  const runDir = join(opts.outputDir, opts.runId);
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

/** The steps so far, each line of steps.jsonl through the schema: none before the first step, an error naming the line when one is corrupt. */
export async function readSteps(dir: string): Promise<StepRecord[]> {
  const file = join(dir, 'steps.jsonl');
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((line, i) => parseJsonText(line, StepRecord, { path: `${file} line ${i + 1}`, what: 'bisection step record', hint: `${file} is the bisection's record of its steps: start the bisection again` }));
}
