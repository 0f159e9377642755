/**
 * Series bisection: a binary search over the series' prefixes (its first
 * k patches), each step a run.mjs run with that prefix as the patched
 * tree, for the first patch that breaks the criterion.
 */
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { QkError } from '../plumbing/errors.ts';
import type { Logger } from '../plumbing/log.ts';
import { writeJsonAtomic } from '../plumbing/fsutil.ts';
import { readSeries, readSeriesFor } from '../pipeline/series.ts';
import { prepareSource, resolveSource, type SourceSpec } from '../pipeline/source.ts';
import { prefixFiles, type StepRecord } from './bisect.ts';
import { STATE, makeState, type CommonFlags } from './state.ts';
import { runStep, type StepRuns } from './step.ts';
import { confirm, finish } from './outcome.ts';

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

export async function seriesBisect(f: CommonFlags & { series: string; sourceArgs: string[]; sourceSpec: SourceSpec; extra: string[] }, runs: StepRuns, log: Logger, signal: AbortSignal): Promise<number> {
  const t0 = Date.now();
  const runArgs = [...f.sourceArgs, ...f.extra];
  // The run.mjs flags after --: a mistake there is found now, before the source is prepared or any step runs.
  runs.parse(runArgs);
  // The version of the series for the base's release (kernel-patches/ or its for-X.Y/).
  const o = { workDir: resolve(f.workDir), log, logFile: join(resolve(f.workDir), 'bisect-source.log') };
  const kernel = await prepareSource(await resolveSource(f.sourceSpec, o), o);
  const series = await readSeriesFor(f.series, kernel.version);
  const n = series.patches.length;
  if (n === 0) throw new QkError('usage-error', `${series.dir} has no patches to bisect`);
  const st = await makeState('series', f, { runArgs });
  log.info(`bisecting the series ${series.dir} (${n} patches), criterion ${st.criterion}${st.metric ? ` ${st.metric}` : ''} on ${st.backend}; ${st.dir}`);
  const at = (k: number, role: string, runId = `prefix-${k}`) => async () => {
    const dir = await prefixSeries(series.dir, k, st.dir);
    return runStep(st, { role, runId, patches: k, seriesDir: dir, variant: k === 0 ? 'baseline' : 'patched' }, runs, log, signal);
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
