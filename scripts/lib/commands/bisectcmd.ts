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
 *
 * This is bisect.mjs's command line; the work is in bisect/.
 */
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { parseArgs, reportFailure } from './command.ts';
import { optionsFromArgv, sourceFromFlags } from './cli.ts';
import { runChild, sourceArgv } from './runargv.ts';
import { EXIT_CODE } from '../plumbing/errors.ts';
import { consoleLogger } from '../plumbing/log.ts';
import { withInterrupts } from '../plumbing/signals.ts';
import { runDefaults } from '../pipeline/options.ts';
import { BACKENDS } from '../analysis/results.ts';
import { CRITERIA } from '../bisect/bisect.ts';
import type { CommonFlags } from '../bisect/state.ts';
import { bisectStep, kernelBisect } from '../bisect/kernel.ts';
import type { StepRuns } from '../bisect/step.ts';
import { seriesBisect } from '../bisect/series.ts';

/** Each step is a run.mjs run in a child process, made from typed options (runargv.ts). */
const STEP_RUNS: StepRuns = {
  parse: optionsFromArgv,
  run: (opts, o) => runChild(opts, { what: `bisection step ${opts.runId}`, timeoutMs: 6 * 3600_000, ...o }),
};

export function buildBisectCommand(): Command {
  const d = runDefaults();
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
      .option('-o, --output <dir>', 'results directory', d.outputDir)
      .option('--work-dir <dir>', 'work directory (trees and builds, shared with run.mjs)', d.workDir)
      .option('--id <id>', 'name of the bisection directory (default: bisect-<time>)')
      .option('--no-install', 'never install missing host packages');
  common(program.command('kernel').description('git bisect run over a kernel tree, the pipeline as the test').argument('[run-args...]', 'after --: more run.mjs flags for every step'))
    .requiredOption('--tree <path>', 'the kernel git tree (never modified)')
    .requiredOption('--good <rev>', 'a revision that passes the criterion')
    .requiredOption('--bad <rev>', 'a later revision that fails it')
    .addOption(new Option('--variant <v>', 'the kernel each step builds: baseline (the commit as it is) or patched (with kernel-patches/ applied)').choices(['baseline', 'patched']).default('baseline'));
  common(program.command('series').description('the first patch of the series that breaks the criterion').argument('[run-args...]', 'after --: more run.mjs flags for every step'))
    .option('--series <dir>', 'the series', d.seriesDir)
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
    if (sub.name() === 'step') return bisectStep(resolve(sub.opts<{ state: string }>().state), STEP_RUNS, log, signal);
    try {
      const o = sub.opts<CommonFlags & Record<string, string>>();
      const extra = [...sub.args];
      if (sub.name() === 'kernel') return await kernelBisect({ ...o, tree: o['tree']!, good: o['good']!, bad: o['bad']!, variant: o['variant']!, extra }, STEP_RUNS, log, signal);
      const sourceSpec = sourceFromFlags({ source: o['source'], tree: o['tree'] ? resolve(o['tree']) : undefined, ref: o['ref'], tarball: o['tarball'] ? resolve(o['tarball']) : undefined, git: o['git'] });
      return await seriesBisect({ ...o, series: resolve(o['series']!), sourceArgs: sourceArgv(sourceSpec), sourceSpec, extra }, STEP_RUNS, log, signal);
    } catch (e) {
      return reportFailure(e, signal);
    }
  });
}
