/**
 * Parsing the arguments of a small entry point (parse.mjs, compare.mjs)
 * with commander: help exits 0, a usage error is one line on stderr with
 * where to read more, exit 2.
 */
import { CommanderError, type Command } from 'commander';
import { EXIT_CODE, QkError, exitCodeOf, formatError } from './errors.ts';

/**
 * Parse `argv` with `cmd` (made with exitOverride() and a silenced
 * writeErr). Returns undefined to go on, or the exit code to return now.
 */
export function parseArgs(cmd: Command, argv: readonly string[]): number | undefined {
  try {
    cmd.parse([...argv], { from: 'user' });
    return undefined;
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (e.code === 'commander.helpDisplayed' || e.exitCode === 0) return 0;
    // A command with subcommands called without one: commander printed the help.
    if (e.code === 'commander.help') {
      process.stderr.write(`error (usage-error): no command given\nsee: npx zx scripts/${cmd.name()} --help\n`);
      return EXIT_CODE['usage-error'];
    }
    process.stderr.write(`error (usage-error): ${e.message.replace(/^error: /, '')}\nsee: npx zx scripts/${cmd.name()} --help\n`);
    return EXIT_CODE['usage-error'];
  }
}

/**
 * Print a failure for a person (the stack only with QK_DEBUG=1) and return
 * its exit code. After Ctrl-C, whatever a killed child made fail counts as
 * interrupted.
 */
export function reportFailure(e: unknown, signal?: AbortSignal): number {
  const err = signal?.aborted && !(e instanceof QkError && e.runClass === 'interrupted') ? new QkError('interrupted', 'interrupted', { cause: e }) : e;
  if (process.env['QK_DEBUG'] && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  process.stderr.write(`${formatError(err)}\n`);
  return exitCodeOf(err);
}
