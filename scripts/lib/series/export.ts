/**
 * `series export`: the edit branch written back as format-patch files,
 * with stable output (the same branch and identity give the same bytes),
 * signed off by the exporter, staged beside the series and installed.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { QkError } from '../plumbing/errors.ts';
import type { Logger } from '../plumbing/log.ts';
import { exists } from '../plumbing/fsutil.ts';
import { capture, spawn } from '../plumbing/proc.ts';
import { commitCount } from '../plumbing/git.ts';
import { BRANCH, editDir, setup, type Common } from './edit.ts';
import { PLACEHOLDER_IDENTITY, formatIdentity, gitIdentity, type GitIdentity } from './identity.ts';
import { copyHeaders, mailHeader, signPatch } from './mail.ts';
import { PATCH_FILE, installExport, removeStaleStages } from './install.ts';

export async function seriesExport(c: Common, log: Logger): Promise<string[]> {
  // The patches are signed off by whoever exports them: know who, before anything is written.
  const me = await gitIdentity();
  const { source, series } = await setup(c, log);
  const dir = editDir(c.workDir, source);
  if (!(await exists(join(dir, '.git')))) throw new QkError('usage-error', `no edit worktree at ${dir}`, { hint: 'run: npx zx scripts/series.mjs edit' });
  const n = await commitCount(dir, `${source.baseCommit}..HEAD`);
  if (n === 0) throw new QkError('usage-error', `${dir} has no commits on the base: nothing to export`);
  // Staged beside the series (same filesystem: renames into place are atomic).
  await removeStaleStages(series.dir);
  const out = join(series.dir, `.export-${process.pid}`);
  await rm(out, { recursive: true, force: true });
  await mkdir(out);
  try {
    const files = await formatSeries({ dir, base: source.baseCommit, out, me });
    const patches = files.filter((f) => !f.startsWith('0000-'));
    await installExport(series.dir, out, files);
    log.info(`exported ${patches.length} patch(es) and the cover letter to ${series.dir}, signed off by ${formatIdentity(me)}`);
    return patches;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/**
 * `git format-patch` of base..HEAD in the edit worktree `dir` into `out`,
 * with the exporter `me` where the kit's placeholder identity was: the
 * cover letter is from `me` (its shortlog maps the placeholder to `me`, its
 * date is the last patch's), and each patch gets `signPatch`. Stable: the
 * same branch and identity give the same bytes. Returns the file names,
 * cover letter first.
 */
export async function formatSeries(o: { dir: string; base: string; out: string; me: GitIdentity }): Promise<string[]> {
  const { dir, base, out, me } = o;
  const range = `${base}..HEAD`;
  const hasDesc = await capture('git', ['config', '--get', `branch.${BRANCH}.description`], { what: 'reading the description', cwd: dir }).then(() => true, () => false);
  // A mailmap of one line, placeholder -> exporter, for the cover letter's shortlog and git's rendering of a From: header.
  const mailmap = join(out, '.qk-mailmap');
  await writeFile(mailmap, `${formatIdentity(me)} ${formatIdentity(PLACEHOLDER_IDENTITY)}\n`);
  const env = { LC_ALL: 'C', GIT_COMMITTER_NAME: me.name, GIT_COMMITTER_EMAIL: me.email };
  try {
    // Stable output: zero From hashes, no version signature, fixed base, no per-run noise.
    await spawn(
      'git',
      ['-c', `mailmap.file=${mailmap}`, 'format-patch', '-q', '--zero-commit', '--no-signature', `--base=${base}`, '--cover-letter', ...(hasDesc ? ['--cover-from-description=subject'] : []), '-o', out, range],
      { what: 'git format-patch', cwd: dir, env },
    );
    // The exporter's From: header as git writes it for a patch (quoting, RFC 2047), from a commit with the placeholder author.
    const placeholderCommit = await capture('git', ['log', '-1', '--format=%H', '--fixed-strings', `--author=${formatIdentity(PLACEHOLDER_IDENTITY)}`, range], { what: 'finding placeholder commits', cwd: dir, env });
    const from = placeholderCommit
      ? mailHeader(await capture('git', ['-c', `mailmap.file=${mailmap}`, 'log', '-1', '--use-mailmap', '--pretty=email', '--no-patch', placeholderCommit], { what: 'rendering the From: header', cwd: dir, env }), 'From')
      : undefined;
    const files = (await readdir(out)).filter((f) => PATCH_FILE.test(f)).sort();
    const patches = files.filter((f) => !f.startsWith('0000-'));
    for (const f of patches) {
      const text = await readFile(join(out, f), 'utf8');
      const signed = signPatch(text, me, from);
      if (signed !== text) await writeFile(join(out, f), signed);
    }
    // The cover letter is from the exporter (format-patch's committer), dated
    // by the last patch rather than by when it is exported: re-exporting changes no byte.
    const coverFile = join(out, '0000-cover-letter.patch');
    if ((await exists(coverFile)) && patches.length > 0) {
      const last = await readFile(join(out, patches[patches.length - 1]!), 'utf8');
      await writeFile(coverFile, copyHeaders(await readFile(coverFile, 'utf8'), last, ['Date']));
    }
    return files;
  } finally {
    await rm(mailmap, { force: true });
  }
}
