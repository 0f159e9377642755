/**
 * kcidb-submit.mjs: check nights' kcidb.json files against the kept schema
 * and send them to KCIDB (kcidbsubmit.ts), or say that submission is not
 * configured.
 */
import { readFile } from 'node:fs/promises';
import { QkError } from '../plumbing/errors.ts';
import { validateKcidb } from '../ci/kcidb.ts';
import { kcidbTarget, submitKcidb, type SubmitOptions } from '../ci/kcidbsubmit.ts';
import { consoleLogger } from '../plumbing/log.ts';
import { reportFailure } from './command.ts';

/** kcidb-submit.mjs FILE...: check each file against the kept schema and submit it, or say that submission is not configured. */
export async function kcidbSubmitMain(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, o: SubmitOptions = {}): Promise<number> {
  const log = o.log ?? consoleLogger();
  try {
    if (argv.length === 0 || argv.includes('--help')) {
      log.info('usage: npx zx scripts/kcidb-submit.mjs KCIDB.JSON...\n\nSubmits each file to KCIDB when KCIDB_REST (https://<token>@<host>/, or with KCIDB_TOKEN) is set; without it, says it skipped.\nExit codes: 0 submitted or skipped; 2 a file is not valid KCIDB data, the service refused it, or it could not be reached.');
      return argv.length === 0 ? 2 : 0;
    }
    const target = kcidbTarget(env);
    if (target === undefined) {
      log.info(`KCIDB submission skipped: KCIDB_REST is not set (${argv.length} file(s) not sent)`);
      return 0;
    }
    for (const file of argv) {
      let data: unknown;
      try {
        data = JSON.parse(await readFile(file, 'utf8'));
      } catch (cause) {
        throw new QkError('usage-error', `cannot read ${file} as JSON: ${(cause as Error).message}`, { cause });
      }
      const valid = validateKcidb(data);
      if (!valid.ok) throw new QkError('usage-error', `${file} is not KCIDB v5 data: ${valid.errors.slice(0, 3).join('; ')}`, { hint: 'the kept schema is scripts/schemas/kcidb-io-v5.schema.json' });
      const id = await submitKcidb(data, target, { ...o, log });
      log.info(`KCIDB: submitted ${file} to ${target.url}${id ? ` (submission ${id})` : ''}`);
    }
    return 0;
  } catch (e) {
    return reportFailure(e);
  }
}
