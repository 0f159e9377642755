/**
 * `series edit`: a git branch (qk-series) with the series applied, in a
 * worktree of the base. Also what export and check share with it: the
 * base a series command works on, the version of the series for that
 * base, and where the edit worktree is.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { QkError } from '../plumbing/errors.ts';
import type { Logger } from '../plumbing/log.ts';
import { exists } from '../plumbing/fsutil.ts';
import { spawn } from '../plumbing/proc.ts';
import { commitCount } from '../plumbing/git.ts';
import { readSeries, readSeriesFor, type Series } from '../pipeline/series.ts';
import { parseSourceSpec, prepareSource, resolveSource, GIT_IDENTITY, type SourceResult, type SourceSpec } from '../pipeline/source.ts';
import { treesDir } from '../pipeline/variants.ts';

/** The branch the series is edited on. */
export const BRANCH = 'qk-series';

/** What every series subcommand is given. */
export interface Common {
  series: string;
  workDir: string;
  /** The base: debian (the installed 6.12, default) or debian:X.Y from the registry. */
  source?: string;
}

/** The base a series command works on, looked up in the registry where it comes from there. */
export async function baseOf(c: Common, log: Logger): Promise<SourceSpec> {
  return resolveSource(parseSourceSpec(c.source ?? 'debian'), { workDir: c.workDir, log, logFile: join(c.workDir, 'series-source.log') });
}

export function editDir(workDir: string, source: SourceResult): string {
  return join(treesDir(workDir, source), 'edit');
}

/** Subject and blurb of an existing cover letter, for the branch description. */
export function coverLetterDescription(text: string): string | undefined {
  const subject = /^Subject: \[PATCH[^\]]*\] (.*)$/m.exec(text)?.[1];
  if (!subject || subject.includes('*** SUBJECT HERE ***')) return undefined;
  const body = text.split('\n\n').slice(1).join('\n\n');
  const lines: string[] = [];
  for (const l of body.split('\n')) {
    if (/^\S.* \(\d+\):$/.test(l)) break; // the shortlog starts: "Author (N):"
    lines.push(l);
  }
  return `${subject}\n\n${lines.join('\n').trim()}\n`;
}

export async function setup(c: Common, log: Logger, spec?: SourceSpec): Promise<{ source: SourceResult; series: Series }> {
  await readSeries(c.series);
  const source = await prepareSource(spec ?? (await baseOf(c, log)), { workDir: c.workDir, log, logFile: join(c.workDir, 'series-source.log') });
  // The version of the series for this base (kernel-patches/ or its for-X.Y/): what edit, export and check work on.
  const series = await readSeriesFor(c.series, source.version);
  if (series.dir !== resolve(c.series)) log.info(`series: the version for ${source.version} in ${series.dir}`);
  return { source, series };
}

export async function seriesEdit(c: Common & { force: boolean }, log: Logger): Promise<string> {
  const { source, series } = await setup(c, log);
  const dir = editDir(c.workDir, source);
  if (await exists(join(dir, '.git'))) {
    const ahead = await commitCount(dir, `${source.baseCommit}..HEAD`);
    if (ahead > 0 && !c.force) {
      throw new QkError('usage-error', `${dir} already has ${ahead} commit(s) on the base: your edits would be lost`, {
        hint: `export them first (series.mjs export), or start over with --force`,
      });
    }
    await spawn('git', ['checkout', '-q', '-f', '-B', BRANCH, source.baseCommit], { what: 'resetting the edit branch', cwd: dir });
  } else {
    await spawn('git', ['worktree', 'prune'], { what: 'git worktree prune', cwd: source.repo });
    await spawn('git', ['worktree', 'add', '-f', '-B', BRANCH, dir, source.baseCommit], { what: 'creating the edit worktree', cwd: source.repo });
  }
  for (const p of series.patches) {
    await spawn('git', ['am', '--3way', p.path], { what: `applying ${p.name}`, cwd: dir, env: { ...GIT_IDENTITY, LC_ALL: 'C' }, failClass: 'apply-failure' });
  }
  const cover = join(series.dir, '0000-cover-letter.patch');
  const desc = (await exists(cover)) ? coverLetterDescription(await readFile(cover, 'utf8')) : undefined;
  if (desc) await spawn('git', ['config', `branch.${BRANCH}.description`, desc], { what: 'keeping the cover letter', cwd: dir });
  log.info(`edit the series in ${dir} (branch ${BRANCH}, ${series.patches.length} patch(es) on ${source.version});`);
  log.info('commit with git commit/rebase -i there, then: npx zx scripts/series.mjs export');
  return dir;
}
