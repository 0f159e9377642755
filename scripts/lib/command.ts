/**
 * Parsing the arguments of a small entry point (parse.mjs, compare.mjs)
 * with commander: help exits 0, a usage error is one line on stderr with
 * where to read more, exit 2.
 */
import { CommanderError, type Command } from 'commander';
import { EXIT_CODE } from './errors.ts';

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
    process.stderr.write(`error (usage-error): ${e.message.replace(/^error: /, '')}\nsee: npx zx scripts/${cmd.name()} --help\n`);
    return EXIT_CODE['usage-error'];
  }
}
