/**
 * A bisection's state: what every step needs (criterion, backend, the
 * run.mjs arguments, the good end's figures), kept as bisect-state.json
 * in the bisection's directory so that `bisect.mjs step`, which git
 * bisect run starts once per commit, can read it.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { QkError } from '../plumbing/errors.ts';
import { exists, writeJsonAtomic } from '../plumbing/fsutil.ts';
import { newRunId } from '../plumbing/paths.ts';
import { BACKENDS, type Backend } from '../analysis/results.ts';
import { CRITERIA, metricModule, type Criterion, type Mode } from './bisect.ts';

/** Everything a step needs, kept in the bisection's directory (the `step` subcommand reads it). */
export const BisectState = z.object({
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
export type BisectState = z.infer<typeof BisectState>;

export const STATE = 'bisect-state.json';

/** The flags every bisection takes (bisect.mjs kernel and series). */
export interface CommonFlags {
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

/** Check the flags, make the bisection's directory and write its state there. */
export async function makeState(mode: Mode, f: CommonFlags, rest: Partial<BisectState> & { runArgs: string[] }): Promise<BisectState> {
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
