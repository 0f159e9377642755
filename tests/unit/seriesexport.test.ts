import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installExport } from '../../scripts/lib/seriescmd.ts';

let dir: string;
let staged: string;

/** A series directory as a previous export left it, and a fresh export staged inside it. */
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qk-export-'));
  staged = join(dir, '.export-1');
  await mkdir(staged);
  const files: Record<string, string> = {
    series: '# The series, in order.\n# Edit with: series.mjs\n0001-old-a.patch\n0002-kept-b.patch\n0003-stale.patch\n',
    '0000-cover-letter.patch': 'old cover\n',
    '0001-old-a.patch': 'old a\n',
    '0002-kept-b.patch': 'old b\n',
    '0003-stale.patch': 'old stale\n',
    'kernel.config': 'CONFIG_X=y\n',
  };
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  await writeFile(join(staged, '0000-cover-letter.patch'), 'new cover\n');
  await writeFile(join(staged, '0001-new-a.patch'), 'new a\n');
  await writeFile(join(staged, '0002-kept-b.patch'), 'new b\n');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const NEW = ['0000-cover-letter.patch', '0001-new-a.patch', '0002-kept-b.patch'];

describe('installExport', () => {
  it('replaces the patches, rewrites series with its comments and removes stale patches', async () => {
    await installExport(dir, staged, NEW);
    expect((await readdir(dir)).sort()).toEqual(['.export-1', ...NEW, 'kernel.config', 'series'].sort());
    expect(await readFile(join(dir, 'series'), 'utf8')).toBe('# The series, in order.\n# Edit with: series.mjs\n0001-new-a.patch\n0002-kept-b.patch\n');
    expect(await readFile(join(dir, '0000-cover-letter.patch'), 'utf8')).toBe('new cover\n');
    expect(await readFile(join(dir, '0002-kept-b.patch'), 'utf8')).toBe('new b\n');
    expect(await readFile(join(dir, 'kernel.config'), 'utf8')).toBe('CONFIG_X=y\n');
    expect(await readdir(staged)).toEqual([]);
  });

  it('removes nothing old until every new file is in place', async () => {
    // A staged file is missing: the install fails midway, as a crash would.
    await expect(installExport(dir, staged, [...NEW, '0003-missing.patch'])).rejects.toThrow(/ENOENT/);
    const left = await readdir(dir);
    expect(left).toContain('0001-old-a.patch');
    expect(left).toContain('0003-stale.patch');
    // The old series file is still in place, and every patch it lists exists.
    const series = await readFile(join(dir, 'series'), 'utf8');
    expect(series).toContain('0003-stale.patch');
    for (const name of series.split('\n').filter((l) => l && !l.startsWith('#'))) expect(left).toContain(name);
  });

  it('writes a series file when there was none', async () => {
    await rm(join(dir, 'series'));
    await installExport(dir, staged, NEW);
    expect(await readFile(join(dir, 'series'), 'utf8')).toBe('0001-new-a.patch\n0002-kept-b.patch\n');
  });
});
