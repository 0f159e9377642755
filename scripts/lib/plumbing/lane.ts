/**
 * A lane: commands that run in the background of a run, beside its
 * foreground work, taking only the CPU the foreground leaves idle.
 *
 * A run that boots UML first (pipeline.ts) builds its QEMU kernels in a
 * lane while the UML kernels build: a kernel build has long stretches where
 * one core or none is busy (Kconfig, links, modpost), and on a small host
 * those add up to minutes. A lane's commands run at the lowest CPU priority
 * (nice 19), so the foreground keeps the CPUs it asks for; and the run
 * stops the lane altogether while it measures (pause: SIGSTOP to each
 * command's process group; resume: SIGCONT), so no timing is taken beside a
 * compiler. A command started while the lane is paused waits for resume.
 *
 * A command runs under nice(1), so it and every child it forks have the
 * lane's priority from their first instruction (renicing it once started
 * would miss the children a shell forks at once). That is not enough where
 * the kernel groups tasks by session (CONFIG_SCHED_AUTOGROUP, on in
 * Debian's kernels): every command the kit starts is a session of its own
 * (its own process group, to be killed whole), and autogroups share the
 * CPU as equals whatever their tasks' nice values; a niced build beside
 * the foreground's took half the CPU. So the lane also sets its command's
 * autogroup to the same nice value (/proc/PID/autogroup; raising it needs
 * no privilege). Timeouts of a lane's commands do not count the time it
 * was paused.
 */
import { writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { QkError } from './errors.ts';

export class Lane {
  private readonly groups = new Set<number>();
  /** Closed pause intervals [from, to] in Date.now() ms, and the open one's start. */
  private readonly pauses: Array<readonly [number, number]> = [];
  private pausedAt: number | undefined;
  private waiters: Array<() => void> = [];

  constructor(
    /** What runs in it, for messages: "the QEMU kernels' builds". */
    readonly name: string,
    readonly niceness = 19,
  ) {}

  get paused(): boolean {
    return this.pausedAt !== undefined;
  }

  /** Process groups of the lane's commands now running. */
  get running(): number {
    return this.groups.size;
  }

  /** Stop every command of the lane (SIGSTOP to its process group); commands started from now on wait. */
  pause(): void {
    if (this.pausedAt !== undefined) return;
    this.pausedAt = Date.now();
    for (const g of this.groups) signalGroup(g, 'SIGSTOP');
  }

  /** Let the lane's commands go on. */
  resume(): void {
    if (this.pausedAt === undefined) return;
    this.pauses.push([this.pausedAt, Date.now()]);
    this.pausedAt = undefined;
    for (const g of this.groups) signalGroup(g, 'SIGCONT');
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when the lane is not paused; rejects with QkError('interrupted') when the signal aborts first. */
  ready(signal?: AbortSignal): Promise<void> {
    if (this.pausedAt === undefined) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(new QkError('interrupted', 'interrupted'));
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.waiters = this.waiters.filter((f) => f !== go);
        reject(new QkError('interrupted', 'interrupted'));
      };
      const go = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.waiters.push(go);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The command line that runs `cmd` at the lane's priority. */
  command(cmd: string, args: readonly string[]): [string, string[]] {
    return ['nice', ['-n', String(this.niceness), '--', cmd, ...args]];
  }

  /** Take a command just started in its own process group (its pid is the group's id) into the lane. */
  adopt(pid: number | undefined): void {
    if (pid === undefined) return;
    this.groups.add(pid);
    if (this.pausedAt !== undefined) signalGroup(pid, 'SIGSTOP');
    void this.niceAutogroup(pid);
  }

  /**
   * Give the session `pid` leads the lane's nice value as an autogroup. An
   * unprivileged process may change an autogroup's nice value once every
   * 100 ms (EAGAIN otherwise): tried again for a second. A kernel without
   * autogroups has no such file: the command's own nice value is what counts there.
   */
  private async niceAutogroup(pid: number): Promise<void> {
    for (let i = 0; i < 10; i++) {
      try {
        await writeFile(`/proc/${pid}/autogroup`, String(this.niceness));
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return;
        await sleep(110);
      }
    }
  }

  /** The command has ended. */
  release(pid: number | undefined): void {
    if (pid !== undefined) this.groups.delete(pid);
  }

  /** Milliseconds of [from, to] the lane spent paused. */
  pausedWithin(from: number, to: number): number {
    const all = this.pausedAt !== undefined ? [...this.pauses, [this.pausedAt, to] as const] : this.pauses;
    let ms = 0;
    for (const [a, b] of all) ms += Math.max(0, Math.min(b, to) - Math.max(a, from));
    return ms;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}
