/**
 * Configs made ahead of their builds.
 *
 * A kernel's config stage is Kconfig: a few runs of `conf`, each probing
 * the compiler some 90 times, single-threaded, 15–30 s on 2 cores. On a
 * cold run they came one after another between the builds, about 90 s of
 * one idle core. So while the first kernel compiles, the kernels after it
 * are configured, one at a time, each in a directory of its own beside its
 * build directory (which its seed, seed.ts, must find absent); when a
 * kernel's turn comes, its .config and config stamp move into its build
 * directory after the seed, and the config stage finds them current
 * (kbuild.ts configure: the stamp names the Kconfig inputs and fragments,
 * not the directory), as a re-run would. The .config is the one Kconfig
 * makes in place: .config holds no path, and it is newer than anything
 * the seed copied, so make runs syncconfig as after any config stage.
 */
import { cp, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { exists } from '../plumbing/fsutil.ts';

/** What a config stage leaves in the build directory besides Kconfig's own work files. */
const CONFIG_FILES = ['.config', '.qk-config.json', 'qk-fragments'] as const;

/** The directory a kernel's config is made in ahead of its build. */
export function aheadDir(buildDir: string): string {
  return `${buildDir}.qk-ahead`;
}

/**
 * Move a config made ahead into the build directory (created if the seed
 * made none), replacing what a seed copied there, and remove the rest of
 * the ahead directory (Kconfig's work files).
 */
export async function adoptAheadConfig(from: string, buildDir: string): Promise<void> {
  await mkdir(buildDir, { recursive: true });
  for (const f of CONFIG_FILES) {
    if (!(await exists(join(from, f)))) continue;
    await rm(join(buildDir, f), { recursive: true, force: true });
    await rename(join(from, f), join(buildDir, f)).catch(async () => cp(join(from, f), join(buildDir, f), { recursive: true }));
  }
  await rm(from, { recursive: true, force: true });
}
