/**
 * What `npm test` needs besides node_modules and what run.mjs installs for
 * its own runs: Debian's Chromium for the history page tests, xmllint
 * (libxml2-utils) to check junit.xml against Jenkins xunit's JUnit schema,
 * and gcc for the unit tests of the huge-page preload. Run as npm's
 * pretest step: as root on Debian it installs what is missing (as run.mjs
 * does), otherwise it prints the exact command and exits 2.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitCodeOf, formatError } from '../plumbing/errors.ts';
import { ensurePackages, type Requirement } from '../pipeline/hostcheck.ts';
import { consoleLogger } from '../plumbing/log.ts';

export const CHROMIUM = process.env['QK_CHROMIUM'] ?? '/usr/bin/chromium';
export const XMLLINT = '/usr/bin/xmllint';

export function testRequirements(): Requirement[] {
  return [
    { probe: { file: CHROMIUM }, pkg: 'chromium', why: 'the history page tests run it headless' },
    { probe: { file: XMLLINT }, pkg: 'libxml2-utils', why: 'the JUnit tests validate junit.xml against Jenkins xunit junit-10.xsd with it' },
    { probe: { cmd: 'gcc' }, pkg: 'gcc', why: "the unit tests build the compiler's huge-page preload and a probe it is loaded into" },
    { probe: { file: '/usr/include/stdio.h' }, pkg: 'libc6-dev', why: "the unit tests build the compiler's huge-page preload and a probe it is loaded into" },
  ];
}

export async function main(argv: readonly string[]): Promise<number> {
  const log = consoleLogger({ quiet: false });
  try {
    const r = await ensurePackages(testRequirements(), { allowInstall: !argv.includes('--no-install'), log, logFile: join(tmpdir(), 'qk-test-deps.log') });
    if (r.installed.length > 0) log.info(`test dependencies installed: ${r.installed.join(' ')}`);
    return 0;
  } catch (e) {
    process.stderr.write(`${formatError(e)}\n`);
    return exitCodeOf(e);
  }
}
