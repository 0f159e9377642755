/**
 * Bisection: the pure part. What a criterion asks of a step's run, what
 * verdict (good, bad, skip) a run's class gives (its figures are judged by
 * judgemetric.ts), and how a step is recorded. The rest of bisect/ drives
 * the runs (each one a run.mjs run with its own run directory) and git
 * bisect.
 *
 * A step's run ends in a class (errors.ts). Classes fall into stages, in
 * pipeline order: apply < build < boot < kunit, then the metric. A failure
 * at the criterion's own stage is "bad". A failure at an earlier stage
 * says nothing about the criterion: in a kernel bisection that commit is
 * skipped (git bisect's 125, as a build break is when hunting a slowdown);
 * in a series bisection it is bad, since a patch of the series broke it.
 * A failure at a later stage is "good" (the criterion held). The tool
 * failing (infra, usage, missing tool, interrupted) aborts the bisection.
 */
import { median } from 'simple-statistics';
import { z } from 'zod';
import { QkError, RUN_CLASSES, type RunClass } from '../plumbing/errors.ts';
import type { RunRequest } from '../pipeline/options.ts';
import type { Backend, Results } from '../analysis/results.ts';

export const CRITERIA = ['apply', 'build', 'boot', 'kunit', 'metric'] as const;
export type Criterion = (typeof CRITERIA)[number];
export type Stage = Exclude<Criterion, 'metric'>;
export type Verdict = 'good' | 'bad' | 'skip';
export type Mode = 'kernel' | 'series';

/** git bisect run's exit codes; 128 aborts the bisection. */
export const BISECT_EXIT = { good: 0, bad: 1, skip: 125, abort: 128 } as const;

const STAGE_ORDER: readonly Stage[] = ['apply', 'build', 'boot', 'kunit'];

/** The stage a run's class failed at; 'ok' for runs that passed, 'tool' when the tool could not run it. */
export function stageOf(c: RunClass): Stage | 'ok' | 'tool' {
  switch (c) {
    case 'ok':
    case 'flaky':
      return 'ok';
    case 'apply-failure':
      return 'apply';
    case 'build-failure':
    case 'config-failure':
      return 'build';
    case 'panic':
    case 'oops':
    case 'warning':
    case 'hang':
    case 'boot-failure':
      return 'boot';
    case 'test-failure':
      return 'kunit';
    case 'usage-error':
    case 'missing-dependency':
    case 'infra-error':
    case 'kvm-unusable':
    case 'interrupted':
      return 'tool';
  }
}

/** The verdict of a run's class under a criterion; 'abort' when the tool failed. Metric runs that passed are judged by judgeMetric. */
export function classVerdict(criterion: Criterion, c: RunClass, mode: Mode): Verdict | 'abort' | 'measure' {
  const stage = stageOf(c);
  if (stage === 'tool') return 'abort';
  if (stage === 'ok') return criterion === 'metric' ? 'measure' : 'good';
  if (criterion === stage) return 'bad';
  const at = STAGE_ORDER.indexOf(stage);
  const wanted = criterion === 'metric' ? STAGE_ORDER.length : STAGE_ORDER.indexOf(criterion);
  if (at < wanted) return mode === 'series' ? 'bad' : 'skip';
  // A later stage failed: the criterion itself held. (A KUnit failure under a metric criterion cannot be later.)
  return 'good';
}

/** What a criterion changes in a step's run: how far it goes, what its benchmark boots load and how many there are. */
export type CriterionRequest = Pick<RunRequest, 'stopAfter' | 'modules' | 'boots' | 'extraCmdline'>;

/** The run options that make a run test exactly this criterion. */
export function criterionOptions(criterion: Criterion, o: { metric?: string | undefined; repeat: number }): CriterionRequest {
  switch (criterion) {
    case 'apply':
      return { stopAfter: 'apply' };
    case 'build':
      return { stopAfter: 'build' };
    case 'boot':
    case 'kunit':
      return { modules: [], boots: 1 };
    case 'metric': {
      const { module, name } = metricModule(o.metric);
      return { modules: [module], extraCmdline: [`${module}.only=${name}`], boots: o.repeat };
    }
  }
}

/** The benchmark module that measures a case, by its suite. */
export function metricModule(metric: string | undefined): { module: string; name: string } {
  const m = /^(\w+)\/(\w+)$/.exec(metric ?? '');
  if (!m) throw new QkError('usage-error', `--metric needs a benchmark case as suite/case (e.g. slab/reuse), not '${metric ?? ''}'`);
  const suite = m[1]!;
  const module = ['slab', 'qmempool', 'objpool'].includes(suite) ? 'qk_bench' : ['alf_queue', 'ptr_ring', 'kfifo'].includes(suite) ? 'qk_bench_queue' : suite === 'skb' ? 'qk_bench_skb' : undefined;
  if (!module) throw new QkError('usage-error', `--metric ${metric}: no benchmark module measures the suite '${suite}'`, { hint: 'suites: slab, qmempool, objpool, alf_queue, ptr_ring, kfifo, skb' });
  return { module, name: `${suite}/${m[2]!}` };
}

/** One boot's figure per boot for a case (the median of its samples), in boot order. */
export function bootFigures(r: Results | undefined, metric: string, backend: Backend): number[] {
  if (!r) return [];
  return r.metrics
    .filter((m) => m.name === metric && m.backend === backend && m.flavor === 'normal')
    .sort((a, b) => a.boot - b.boot)
    .map((m) => median([...m.samples]));
}

/** One evaluated step, as steps.jsonl records it (git bisect run's steps write it from processes of their own). */
export const StepRecord = z.object({
  /** "good end", "bad end", "step", "confirm 2 parent" ... */
  role: z.string(),
  /** Kernel mode: the commit; series mode: the patches applied. */
  commit: z.string().optional(),
  subject: z.string().optional(),
  patches: z.number().int().nonnegative().optional(),
  runId: z.string(),
  runDir: z.string(),
  class: z.enum(RUN_CLASSES),
  verdict: z.enum(['good', 'bad', 'skip', 'abort']),
  reason: z.string(),
  /** Metric criterion: per-boot figures and the judgement against the reference. */
  figures: z.array(z.number()).readonly().optional(),
  /** Every sample of every boot, for the spread. */
  samples: z.array(z.array(z.number()).readonly()).readonly().optional(),
  ratio: z.number().optional(),
  p: z.number().optional(),
  wallMs: z.number(),
}).readonly();
export type StepRecord = z.infer<typeof StepRecord>;

/** "abc123... is the first bad commit" or, with skips, the candidates git could not tell apart. */
export function parseBisectOutput(out: string): { first?: string; candidates: string[] } {
  const first = /^([0-9a-f]{40}) is the first bad commit/m.exec(out)?.[1];
  if (first) return { first, candidates: [first] };
  const i = out.indexOf('The first bad commit could be any of:');
  if (i < 0) return { candidates: [] };
  const candidates = [...out.slice(i).matchAll(/^([0-9a-f]{40})$/gm)].map((m) => m[1]!);
  return { candidates };
}

/**
 * The fragment, KUnit modules and command line of a series prefix: a
 * CONFIG_ line or a KUnit module belongs to the prefix unless only a later
 * patch of the series introduces it (its `config X` in Kconfig, its `X.o`
 * in a Makefile).
 */
export function prefixFiles(o: { patches: readonly string[]; k: number; config: string; kunit: string }): { config: string; kunit: string } {
  const intro = (text: string, re: (name: string) => RegExp) => (name: string) => re(name).test(text);
  const inPrefix = o.patches.slice(0, o.k).join('\n');
  const inAll = o.patches.join('\n');
  const keep = (name: string, re: (n: string) => RegExp) => intro(inPrefix, re)(name) || !intro(inAll, re)(name);
  const kconfig = (n: string) => new RegExp(`^\\+\\s*(menu)?config ${n}\\s*$`, 'm');
  const makefile = (n: string) => new RegExp(`^\\+.*\\b${n}\\.o\\b`, 'm');
  const config = o.config
    .split('\n')
    .filter((l) => {
      const m = /^(?:# )?CONFIG_(\w+)[= ]/.exec(l);
      return !m || keep(m[1]!, kconfig);
    })
    .join('\n');
  const kunit = o.kunit
    .split('\n')
    .filter((l) => {
      const name = l.replace(/#.*$/, '').trim();
      return !name || keep(name, makefile);
    })
    .join('\n');
  return { config, kunit };
}
