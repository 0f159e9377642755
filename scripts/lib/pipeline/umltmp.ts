/**
 * Where a UML guest keeps its memory. UML maps guest RAM from a file in
 * $TMPDIR (else /dev/shm) and refuses a filesystem mounted noexec ("... must
 * be not mounted noexec") before the kernel even starts: in a container
 * (Docker mounts /dev/shm noexec, --privileged or not) every UML boot would
 * die as a boot failure, i.e. read as a kernel regression. So UML boots get
 * a TMPDIR of ours, checked once per run: a directory in /dev/shm (RAM, as
 * before) when that is exec-capable and has room for the guest, else one
 * under the work directory. Neither usable is the host's problem, said as
 * such (infra-error, exit 2), never a boot failure.
 */
import { chmod, mkdir, rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { QkError } from '../plumbing/errors.ts';

export interface UmlTmp {
  /** The directory UML boots get as TMPDIR. */
  readonly dir: string;
  /** Why the other candidates were passed over, for the log. */
  readonly passed: readonly string[];
  /** Set when the directory has less room than the guest's memory. */
  readonly warning?: string;
}

/** Candidates in order: RAM first (the guest's memory in a page cache that never writes back), then the work directory. */
export function umlTmpCandidates(workDir: string, uid = process.getuid?.() ?? 0): string[] {
  return [join('/dev/shm', `qmempool-kit-${uid}`), join(workDir, 'tmp', 'uml')];
}

/**
 * UML's memory file is sparse (arch/um/os-Linux/mem.c writes one byte at its
 * end): the disk holds only the pages the guest touches. A directory with
 * less free space than the guest's memory is still taken, with a warning,
 * when nothing roomier is at hand and it has at least this much.
 */
export const UML_MIN_FREE_MB = 256;

/** Why `dir` cannot hold any UML guest memory (undefined when it can), and its free space. */
async function inspect(dir: string): Promise<{ unusable?: string; freeMB: number }> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    return { unusable: `cannot create it (${(e as NodeJS.ErrnoException).code ?? String(e)})`, freeMB: 0 };
  }
  // What UML needs is a mapping with PROT_EXEC, which a noexec mount refuses just as it refuses execve: run a script from there.
  const probe = join(dir, `.exec-probe-${process.pid}`);
  try {
    await writeFile(probe, '#!/bin/sh\nexit 0\n');
    await chmod(probe, 0o700);
    const r = await execa(probe, [], { reject: false, stdin: 'ignore' });
    if (r.exitCode !== 0) return { unusable: `files there cannot be executed (${(r as { code?: string }).code ?? `exit ${r.exitCode}`}): mounted noexec`, freeMB: 0 };
  } catch (e) {
    return { unusable: `cannot write a file there (${(e as NodeJS.ErrnoException).code ?? String(e)})`, freeMB: 0 };
  } finally {
    await rm(probe, { force: true });
  }
  const fs = await statfs(dir);
  return { freeMB: Math.floor((fs.bavail * fs.bsize) / 2 ** 20) };
}

/** Why `dir` cannot hold a UML guest's memory of `memoryMB` in full, or undefined when it can. */
export async function umlTmpProblem(dir: string, memoryMB: number): Promise<string | undefined> {
  return problemOf(await inspect(dir), memoryMB);
}

/** What keeps an inspected directory from holding all of a guest's memory, or undefined. */
function problemOf(c: { unusable?: string; freeMB: number }, memoryMB: number): string | undefined {
  if (c.unusable !== undefined) return c.unusable;
  if (c.freeMB < memoryMB) return `only ${c.freeMB} MiB free, and the guest has ${memoryMB} MiB`;
  return undefined;
}

/**
 * The first candidate with room for all of the guest's memory; else the first
 * usable one with UML_MIN_FREE_MB free, with a warning; none is an
 * infra-error naming each and why.
 */
export async function prepareUmlTmp(workDir: string, memoryMB: number, candidates = umlTmpCandidates(workDir)): Promise<UmlTmp> {
  const passed: string[] = [];
  const tight: { dir: string; freeMB: number; i: number }[] = [];
  for (const dir of candidates) {
    const c = await inspect(dir);
    const problem = problemOf(c, memoryMB);
    if (problem === undefined) return { dir, passed };
    if (c.unusable === undefined && c.freeMB >= Math.min(UML_MIN_FREE_MB, memoryMB)) tight.push({ dir, freeMB: c.freeMB, i: passed.length });
    passed.push(`${dir}: ${problem}`);
  }
  const t = tight[0];
  if (t) {
    return {
      dir: t.dir,
      passed: passed.filter((_, i) => i !== t.i),
      warning: `${t.dir} has only ${t.freeMB} MiB free for a guest of ${memoryMB} MiB: UML's memory file is sparse, so this holds while the guest touches no more than that; a guest that does dies of SIGBUS`,
    };
  }
  throw new QkError('infra-error', `no directory can hold a UML guest's memory: UML maps it from a file in $TMPDIR and refuses a filesystem mounted noexec`, {
    details: passed.join('\n'),
    hint: `give the run a --work-dir on an exec-capable filesystem with ${memoryMB} MiB free, or make /dev/shm exec-capable (as root: mount -o remount,exec /dev/shm)`,
  });
}
