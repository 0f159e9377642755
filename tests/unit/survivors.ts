/**
 * For tests of process-group killing: shells that leave grandchildren
 * behind, and a look through /proc for any of them still alive.
 */
import { readFile, readdir } from 'node:fs/promises';

/** The state letter and process group of every process, from /proc/<pid>/stat. */
async function processes(): Promise<{ pid: number; state: string; pgrp: number; cmdline: string }[]> {
  const out: { pid: number; state: string; pgrp: number; cmdline: string }[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      // "pid (comm) S ppid pgrp ...": comm may hold spaces and parentheses.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = (await readFile(`/proc/${name}/cmdline`, 'utf8')).replace(/\0/g, ' ');
      out.push({ pid: Number(name), state: state!, pgrp: Number(pgrp), cmdline });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/**
 * Processes in this group or with this marker on their command line. Zombies
 * do not count: they are dead, but until PID 1 reaps the orphans (in a
 * container it may take its time) `process.kill(-pgid, 0)` still succeeds.
 */
async function survivors(o: { pgid?: number; marker: string }): Promise<number[]> {
  return (await processes()).filter((p) => p.state !== 'Z' && (p.pgrp === o.pgid || p.cmdline.includes(o.marker))).map((p) => p.pid);
}

/** Survivors after giving SIGKILL a moment to land: the list should be empty. */
export async function survivorsAfterAWhile(o: { pgid?: number; marker: string }): Promise<number[]> {
  let left: number[] = [];
  for (let i = 0; i < 20; i++) {
    left = await survivors(o);
    if (left.length === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return left;
}

/**
 * A sleep duration that names this test process and test, all of one width so
 * that no marker is a prefix of another: 30.<pid><n> seconds.
 */
export function sleepMarker(n: number): string {
  return `30.${String(process.pid).padStart(8, '0')}${String(n).padStart(2, '0')}`;
}

/** A shell that records its pid (its process group) and leaves a grandchild holding stdout. */
export function grandchildScript(marker: string, pidFile: string): string[] {
  return ['-c', `echo $$ > ${pidFile}; echo started; sleep ${marker} & sleep ${marker}`];
}

export async function pgidFrom(pidFile: string): Promise<number> {
  return Number((await readFile(pidFile, 'utf8')).trim());
}
