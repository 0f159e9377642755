/**
 * Installing an export: the staged patch files renamed into the series
 * directory in an order that leaves a usable series whenever it stops,
 * and staging directories of killed exports cleaned up.
 */
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The format-patch files of a series directory: NNNN-*.patch. */
export const PATCH_FILE = /^\d{4}-.*\.patch$/;

/**
 * Move freshly exported patch files (cover letter included) from stagedDir
 * into seriesDir so that a crash at any point leaves a usable series: every
 * new file is renamed into place first, then the new `series` file (its `#`
 * comment lines kept), and only then are old patch files that are no longer
 * part of the series removed. stagedDir must be on seriesDir's filesystem.
 */
export async function installExport(seriesDir: string, stagedDir: string, patchNames: readonly string[]): Promise<void> {
  const seriesFile = join(seriesDir, 'series');
  const header = (await readFile(seriesFile, 'utf8').catch(() => '')).split('\n').filter((l) => l.startsWith('#'));
  const listed = patchNames.filter((f) => !f.startsWith('0000-'));
  const stagedSeries = join(stagedDir, 'series');
  await writeFile(stagedSeries, [...header, ...listed].join('\n') + '\n');
  for (const f of patchNames) await rename(join(stagedDir, f), join(seriesDir, f));
  await rename(stagedSeries, seriesFile);
  const keep = new Set(patchNames);
  for (const old of await readdir(seriesDir)) if (PATCH_FILE.test(old) && !keep.has(old)) await rm(join(seriesDir, old));
}

/** Remove staging directories that exports killed midway left behind. */
export async function removeStaleStages(seriesDir: string): Promise<void> {
  for (const name of await readdir(seriesDir)) {
    const pid = /^\.export-(\d+)$/.exec(name)?.[1];
    if (pid && !processAlive(Number(pid))) await rm(join(seriesDir, name), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
