/** A config made ahead of its build moves into the build directory whole, over what a seed copied there. */
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { adoptAheadConfig, aheadDir } from '../../scripts/lib/pipeline/ahead.ts';
import { exists } from '../../scripts/lib/plumbing/fsutil.ts';
import { useTempDir } from './tempdir.ts';

async function put(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
}

describe('adoptAheadConfig', () => {
  const tmp = useTempDir('qk-ahead-');

  it('replaces the seed\'s .config, stamp and fragments, keeps its objects, and removes the ahead directory', async () => {
    const build = join(tmp(), 'build-x86_64');
    const ahead = aheadDir(build);
    expect(ahead).toBe(`${build}.qk-ahead`);
    await put(build, { '.config': 'CONFIG_BASELINE=y\n', '.qk-config.json': '{"from":"baseline"}', 'qk-fragments/00-common.config': 'baseline', 'qk-fragments/01-old.config': 'gone', 'mm/slub.o': 'object' });
    await put(ahead, { '.config': 'CONFIG_PATCHED=y\n', '.qk-config.json': '{"from":"ahead"}', 'qk-fragments/00-common.config': 'patched', 'scripts/kconfig/conf': 'work file' });
    await adoptAheadConfig(ahead, build);
    expect(await readFile(join(build, '.config'), 'utf8')).toBe('CONFIG_PATCHED=y\n');
    expect(await readFile(join(build, '.qk-config.json'), 'utf8')).toBe('{"from":"ahead"}');
    expect(await readdir(join(build, 'qk-fragments'))).toEqual(['00-common.config']);
    expect(await readFile(join(build, 'qk-fragments', '00-common.config'), 'utf8')).toBe('patched');
    expect(await readFile(join(build, 'mm', 'slub.o'), 'utf8')).toBe('object');
    // Kconfig's work files stay behind and go with the ahead directory.
    expect(await exists(join(build, 'scripts'))).toBe(false);
    expect(await exists(ahead)).toBe(false);
  });

  it('makes the build directory when no seed made one', async () => {
    const build = join(tmp(), 'build-um');
    await put(aheadDir(build), { '.config': 'CONFIG_UML=y\n', '.qk-config.json': '{}' });
    await adoptAheadConfig(aheadDir(build), build);
    expect((await readdir(build)).sort()).toEqual(['.config', '.qk-config.json']);
  });
});
