/**
 * Parsing the arguments of a small entry point (parse.mjs, compare.mjs)
 * with commander: help exits 0, a usage error is one line on stderr with
 * where to read more, exit 2.
 */
import { CommanderError, type Command } from 'commander';
import { EXIT_CODE, QkError, exitCodeOf, formatError } from '../plumbing/errors.ts';

/**
 * Parse `argv` with `cmd` (made with exitOverride() and a silenced
 * writeErr). Returns undefined to go on, or the exit code to return now.
 */
export function parseArgs(cmd: Command, argv: readonly string[]): number | undefined {
  try {
    cmd.parse([...argv], { from: 'user' });
    return undefined;
  } catch (e) {
    return usageFailure(cmd, e);
  }
}

/**
 * Report a mistake found in the command line, before any work: commander's
 * own (unknown option, missing argument, no subcommand), or a QkError a
 * value parser or a check of the flags threw. One message, then where to
 * read more; returns the exit code (0 after --help).
 */
export function usageFailure(cmd: Command, e: unknown): number {
  const see = `see: npx zx scripts/${cmd.name()} --help\n`;
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0) return 0;
    // A command with subcommands called without one: commander "printed" the help (to the silenced writeErr).
    const subs = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden).map((c) => c.name());
    const message = e.code === 'commander.help' ? `choose a command: ${subs.join(', ')}` : e.message.replace(/^error: /, '');
    process.stderr.write(`error (usage-error): ${message}\n${see}`);
    return EXIT_CODE['usage-error'];
  }
  process.stderr.write(`${formatError(e)}\n${e instanceof QkError && e.runClass === 'usage-error' ? see : ''}`);
  return exitCodeOf(e);
}

/** A comma-separated flag value: each item one of `allowed`, duplicates dropped. */
export function listOf<T extends string>(flag: string, allowed: readonly T[]) {
  return (value: string): T[] => {
    const items = value.split(',').map((s) => s.trim()).filter(Boolean);
    if (items.length === 0) throw new QkError('usage-error', `${flag} needs at least one of: ${allowed.join(', ')}`);
    for (const i of items) {
      if (!allowed.includes(i as T)) throw new QkError('usage-error', `${flag}: unknown value '${i}' (choose from ${allowed.join(', ')})`);
    }
    return [...new Set(items)] as T[];
  };
}

/** A whole-number flag value from min to max. */
export function intOf(flag: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) throw new QkError('usage-error', `${flag} must be an integer from ${min} to ${max}, not '${value}'`);
    return n;
  };
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
