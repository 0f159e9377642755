/**
 * How a bisection ends: bisect.json and report.md (the culprit, the
 * evidence from its run, every step), and the re-runs that confirm a
 * metric culprit on a noisy backend.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../plumbing/log.ts';
import { writeFileAtomic, writeJsonAtomic } from '../plumbing/fsutil.ts';
import { readManifest } from '../pipeline/recorder.ts';
import { parseKtap, type KtapTest } from '../pipeline/ktap.ts';
import { readResultsFile, type BootRecord } from '../analysis/results.ts';
import { judgeMetric } from '../analysis/judgemetric.ts';
import type { StepRecord, Verdict } from './bisect.ts';
import type { BisectState } from './state.ts';
import { fmt, readSteps } from './step.ts';

/** The log lines that show why a step failed: the error's details, or the failing boot's console around its reason. */
async function excerpt(rec: StepRecord): Promise<string[]> {
  const m = await readManifest(rec.runDir);
  if (m?.error) return m.error.split('\n').slice(0, 30);
  const r = await readResultsFile(join(rec.runDir, 'results.json'));
  const b = r?.boots.find((x) => x.class !== 'ok' && x.class !== 'flaky');
  if (!b) return [];
  const consoleText = await readFile(join(rec.runDir, b.consoleLog), 'utf8').catch(() => '');
  return [`${b.class}: ${b.reason}`, ...consoleEvidence(consoleText, b)];
}

/** The console line (1-based) of the first failed KTAP result, nested cases included, as the run's KTAP parser reads the log. */
function firstFailedCase(lines: readonly string[]): number | undefined {
  const failed: number[] = [];
  const walk = (t: KtapTest): void => {
    if (t.status === 'fail') failed.push(t.line);
    t.children.forEach(walk);
  };
  parseKtap(lines).tests.forEach(walk);
  return failed.length > 0 ? Math.min(...failed) : undefined;
}

/**
 * The console lines around why a boot failed: its first finding as the
 * classifier recorded it (a panic, Oops, BUG, WARNING, KASAN, UBSAN, RCU
 * stall, hung task ...: console.ts knows them all), else its first failed
 * KTAP case (ktap.ts, whatever printk prefix the lines carry), else the
 * end of the log.
 */
export function consoleEvidence(consoleText: string, boot: Pick<BootRecord, 'findings'>): string[] {
  const lines = consoleText.split('\n');
  const line = boot.findings[0]?.line ?? firstFailedCase(lines);
  return line !== undefined ? lines.slice(Math.max(0, line - 4), line + 14) : lines.slice(-15);
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

export async function finish(st: BisectState, o: Outcome, t0: number, log: Logger, extra: Record<string, unknown> = {}): Promise<number> {
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
export async function confirm(
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
