/**
 * The compiler's heap in transparent huge pages (qk-thp.c, preloaded).
 *
 * A cold run is bound by gcc, and on a host whose THP mode is "madvise"
 * gcc's heap is faulted in 4 KiB at a time. Measured on this project's
 * 2-core VM (THP madvise, gcc 12; 2026-12-08): rebuilding net/ipv4,
 * net/core, mm and kernel of the x86_64 small profile (335 objects, no
 * ccache, -j3), alternating, took 235, 219 and 205 s plain and 130, 144
 * and 165 s with qk-thp preloaded and glibc's malloc tunable set, and all
 * 335 objects were byte for byte those of the plain build. A single
 * compile of net/core/skbuff.c: 2.7 s plain, 2.2 s preloaded.
 *
 * Only make and what it runs get the preload; the guests never do (QEMU
 * already advises its guest RAM, and UML's memory is a file). With THP
 * "always" the compiler needs no help, with "never" none can be given,
 * and --build-hugepages off leaves it out.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from '../plumbing/proc.ts';
import { REPO_ROOT } from '../plumbing/paths.ts';
import { compiledTool } from './tools.ts';
import type { Logger } from '../plumbing/log.ts';

export const BUILD_HUGEPAGES = ['auto', 'off'] as const;
export type BuildHugepagesChoice = (typeof BUILD_HUGEPAGES)[number];

export const THP_MODES = ['always', 'madvise', 'never'] as const;
export type ThpMode = (typeof THP_MODES)[number];

export const THP_ENABLED_FILE = '/sys/kernel/mm/transparent_hugepage/enabled';
const QK_THP_SOURCE = join(REPO_ROOT, 'scripts', 'lib', 'pipeline', 'qk-thp.c');
/** glibc's malloc advises its own mappings with this tunable (glibc 2.35 and later). */
const MALLOC_TUNABLE = 'glibc.malloc.hugetlb=1';

/** The selected mode of the sysfs file ("always [madvise] never"); undefined if there is none. */
export function parseThpMode(text: string): ThpMode | undefined {
  const m = /\[(\w+)\]/.exec(text);
  return THP_MODES.find((x) => x === m?.[1]);
}

export interface CompilerHugepages {
  /** The host's THP mode; absent: its kernel has none. */
  readonly thp: ThpMode | 'absent';
  /** The preloaded library, when there is one. */
  readonly preload?: string;
  /** For make and what it runs: LD_PRELOAD and GLIBC_TUNABLES, or nothing. */
  readonly env: Readonly<Record<string, string>>;
  /** One line for the log and the manifest. */
  readonly note: string;
}

/** An existing colon-separated variable with one more entry. */
function appended(current: string | undefined, entry: string): string {
  return current ? `${current}:${entry}` : entry;
}

/**
 * What the builds of this run get: the preload on a host with THP
 * "madvise" (built once per source into <work-dir>/tools/), else nothing,
 * with the reason. A preload that cannot be built or loaded is a warning,
 * not a failure: the builds are slower, not wrong.
 */
export async function compilerHugepages(o: {
  choice: BuildHugepagesChoice;
  workDir: string;
  log: Logger;
  logFile: string;
  thpFile?: string;
  env?: NodeJS.ProcessEnv;
}): Promise<CompilerHugepages> {
  const text = await readFile(o.thpFile ?? THP_ENABLED_FILE, 'utf8').catch(() => undefined);
  const thp = text === undefined ? 'absent' : parseThpMode(text) ?? 'absent';
  const none = (note: string): CompilerHugepages => ({ thp, env: {}, note });
  if (o.choice === 'off') return none('no preload (--build-hugepages off)');
  if (thp === 'absent') return none('no preload: the host kernel has no transparent huge pages');
  if (thp === 'always') return none('no preload: the host gives every large mapping huge pages (THP always)');
  if (thp === 'never') return none('no preload: the host gives no huge pages (THP never)');
  let preload: string;
  try {
    preload = await buildQkThp(o.workDir, o.logFile);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    o.log.warn(`the compiler's huge-page preload ${QK_THP_SOURCE} did not build or load (${why}); compiling without it, slower (see ${o.logFile})`);
    return none(`no preload: qk-thp did not build or load (${why})`);
  }
  const env = o.env ?? process.env;
  return {
    thp,
    preload,
    env: { LD_PRELOAD: appended(env['LD_PRELOAD'], preload), GLIBC_TUNABLES: appended(env['GLIBC_TUNABLES'], MALLOC_TUNABLE) },
    note: `gcc's heap in transparent huge pages (host THP madvise; ${preload} preloaded, ${MALLOC_TUNABLE})`,
  };
}

async function buildQkThp(workDir: string, logFile: string): Promise<string> {
  const out = await compiledTool(workDir, { name: 'qk-thp', source: QK_THP_SOURCE, suffix: '.so', gccArgs: ['-O2', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC'], after: ['-ldl'], what: 'building the compiler huge-page preload qk-thp (gcc -shared)' }, logFile);
  // The dynamic loader only warns about a library it cannot preload, so make sure this one loads.
  const r = await spawn('true', [], { what: 'loading qk-thp into true(1)', logFile, env: { LD_PRELOAD: out }, allowFailure: true });
  if (r.exitCode !== 0 || /LD_PRELOAD|cannot be preloaded/.test(r.output)) throw new Error(`the dynamic loader refused ${out}: ${r.output.trim().split('\n')[0] || `exit ${r.exitCode}`}`);
  return out;
}
