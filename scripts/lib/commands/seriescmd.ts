/**
 * `series`: the workflow for people who edit kernel-patches/.
 *
 *   edit    a git branch (qk-series) with the series applied, in a worktree of the base
 *   export  write the branch back as format-patch files, with stable output
 *   check   checkpatch --strict on each patch, a build after each patch
 *           (bisectable, W=1 on the files it touches), then the KUnit suites
 *           through a pipeline run on the requested flavors and backends
 *
 * This is series.mjs's command line; the work is in series/.
 */
import { Command, Option } from 'commander';
import { intOf, listOf, parseArgs, reportFailure } from './command.ts';
import { consoleLogger } from '../plumbing/log.ts';
import { withInterrupts } from '../plumbing/signals.ts';
import { FLAVORS, type Flavor } from '../pipeline/kbuild.ts';
import { runDefaults, type BackendChoice } from '../pipeline/options.ts';
import { BACKENDS } from '../analysis/results.ts';
import { seriesEdit, type Common } from '../series/edit.ts';
import { seriesExport } from '../series/export.ts';
import { seriesCheck } from '../series/check.ts';

export async function seriesMain(argv: readonly string[]): Promise<number> {
  return withInterrupts((signal) => seriesCommand(argv, signal));
}

type CheckFlags = Common & { build: boolean; kunit: boolean; backend: BackendChoice[]; flavors: Flavor[]; jobs: number; output: string };

export function buildSeriesCommand(): Command {
  const d = runDefaults();
  const common = (cmd: Command) =>
    cmd
      .option('--series <dir>', 'series directory', d.seriesDir)
      .option('--source <base>', 'the base: debian (the installed linux-source-6.12) or debian:X.Y (linux-source-X.Y from the Debian registry)', 'debian')
      .option('--work-dir <dir>', 'work directory', d.workDir);
  const program = new Command('series.mjs').description('Edit, export and check the kernel patch series in kernel-patches/.').exitOverride().configureOutput({ writeErr: () => {} });
  common(program.command('edit').description('make a git branch with the series applied, for editing')).option('--force', 'start over even if the edit branch has commits');
  common(program.command('export').description('write the edit branch back as format-patch files (stable output)'));
  common(program.command('check').description('checkpatch --strict, a build after each patch (W=1 on its files), then the KUnit suites in guests'))
    .option('--no-build', 'skip the per-patch builds')
    .option('--no-kunit', 'skip the KUnit run')
    .addOption(new Option('--backend <list>', `backends for the KUnit run: ${['auto', ...BACKENDS].join(', ')}`).argParser(listOf<BackendChoice>('--backend', ['auto', ...BACKENDS])).default(['tcg', 'uml'], 'tcg,uml'))
    .addOption(new Option('--flavors <list>', `flavors for the KUnit run (${FLAVORS.join(', ')})`).argParser(listOf('--flavors', FLAVORS)).default([...FLAVORS], FLAVORS.join(',')))
    .addOption(new Option('-j, --jobs <n>', 'make jobs').argParser(intOf('--jobs', 1, 1024)).default(2))
    .option('-o, --output <dir>', 'results directory', d.outputDir);
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
