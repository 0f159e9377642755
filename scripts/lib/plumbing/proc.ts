/**
 * Child processes: argument arrays only (never shell strings), a timeout on
 * everything, each child in its own process group so that the whole tree is
 * killed, and the full output kept in a log file with its tail at hand.
 */
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { appendFile, mkdir, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { QkError, type RunClass } from './errors.ts';
import { shellQuote } from './quote.ts';

const live = new Set<number>();

/** Kill every child process group this process started and that still runs. */
export function killAllChildren(signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const pid of live) {
    try {
      process.kill(-pid, signal);
    } catch {
      /* already gone */
    }
  }
}

export function killGroup(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

export interface SpawnOptions {
  /** What is being done, for error messages: "building baseline/x86_64". */
  readonly what: string;
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Append all output (stdout and stderr interleaved) to this file. */
  readonly logFile?: string;
  readonly timeoutMs?: number;
  /** Called for every output line, after it was written to the log. */
  readonly onLine?: (line: string) => void;
  /** Class of the QkError thrown when the command fails. */
  readonly failClass?: RunClass;
  readonly hint?: string;
  /** Do not throw on a non-zero exit; the caller inspects the result. */
  readonly allowFailure?: boolean;
  readonly input?: string;
  readonly tailLines?: number;
  /** On abort the process group is killed and QkError('interrupted') thrown. */
  readonly signal?: AbortSignal | undefined;
}

export interface SpawnResult {
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly timedOut: boolean;
  readonly tail: readonly string[];
  readonly output: string;
}

/** Keeps the last `max` lines. */
export class Tail {
  private readonly lines: string[] = [];
  constructor(private readonly max: number) {}
  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
  }
  get(): string[] {
    return [...this.lines];
  }
}

async function openLog(path: string | undefined): Promise<WriteStream | undefined> {
  if (!path) return undefined;
  await mkdir(dirname(path), { recursive: true });
  return createWriteStream(path, { flags: 'a' });
}

/** Throw the interrupted error when the run is already being stopped. */
function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new QkError('interrupted', 'interrupted');
}

/** What a guard did to a child's process group. */
interface Guard {
  /** The timeout passed before the child exited: its group was killed. */
  readonly timedOut: boolean;
  /** The signal aborted: the group was killed. */
  readonly aborted: boolean;
  /** Stop watching: kill whatever is left of the group and stop tracking it. */
  release(): void;
}

/**
 * Watch a child started with `detached: true` (so its pid is its process
 * group id) and kill the whole group, grandchildren included: when the
 * timeout passes, when the signal aborts, and as soon as the child itself
 * has exited (a grandchild still holding the output pipe would keep the
 * caller waiting). Until released, killAllChildren() reaches the group.
 */
function guard(
  child: Pick<ChildProcess, 'pid' | 'once' | 'off'>,
  o: { timeoutMs?: number | undefined; signal?: AbortSignal | undefined; onKill?: (why: string) => void },
): Guard {
  const pid = child.pid;
  let timedOut = false;
  let aborted = false;
  if (pid !== undefined) live.add(pid);
  const timer = o.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        o.onKill?.(`timed out after ${seconds(o.timeoutMs ?? 0)} s`);
        killGroup(pid);
      }, o.timeoutMs)
    : undefined;
  const onAbort = () => {
    aborted = true;
    o.onKill?.('interrupted');
    killGroup(pid);
  };
  const onExit = () => {
    clearTimeout(timer);
    killGroup(pid);
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });
  child.once('exit', onExit);
  return {
    get timedOut() {
      return timedOut;
    },
    get aborted() {
      return aborted;
    },
    release() {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      child.off('exit', onExit);
      killGroup(pid);
      if (pid !== undefined) live.delete(pid);
    },
  };
}

/**
 * Run a command to completion, streaming its output line by line into the log.
 * Output is also collected in memory up to 1 MiB (for short commands).
 * On timeout or abort the whole process group is killed; an abort throws
 * QkError('interrupted') even with allowFailure.
 */
export async function spawn(cmd: string, args: readonly string[], o: SpawnOptions): Promise<SpawnResult> {
  throwIfAborted(o.signal);
  const log = await openLog(o.logFile);
  log?.write(`\n$ ${commandLine(cmd, args)}\n`);
  const tail = new Tail(o.tailLines ?? 40);
  let collected = '';
  const child = execa(cmd, args, {
    ...placeAndEnv(o),
    extendEnv: true,
    all: true,
    buffer: false,
    reject: false,
    detached: true,
    cleanup: true,
    killSignal: 'SIGKILL',
    ...(o.input !== undefined ? { input: o.input } : { stdin: 'ignore' as const }),
  });
  const g = guard(child, {
    timeoutMs: o.timeoutMs,
    signal: o.signal,
    onKill: (why) => log?.write(`qk: ${why}: killing process group ${child.pid ?? '?'}\n`),
  });
  try {
    const rl = createInterface({ input: child.all! });
    const lines = (async () => {
      for await (const line of rl) {
        log?.write(line + '\n');
        tail.push(line);
        if (collected.length < 1 << 20) collected += line + '\n';
        o.onLine?.(line);
      }
    })();
    const res = await child;
    await lines;
    if (g.aborted) throw new QkError('interrupted', 'interrupted');
    const result: SpawnResult = {
      exitCode: res.exitCode,
      signal: res.signal,
      timedOut: g.timedOut,
      tail: tail.get(),
      output: collected,
    };
    if (res.failed && res.exitCode === undefined && (res as { code?: string }).code === 'ENOENT') {
      throw new QkError('missing-dependency', `${cmd} is not installed (needed for ${o.what})`, {
        hint: 'run the host check again: npx zx scripts/run.mjs (as root it installs what is missing)',
      });
    }
    // A full disk fails git, make and the compiler alike; whatever class the caller gives a failure
    // (a build, a patch), this one is the host's and says so, also where the caller inspects failures itself.
    // The collected output stops at 1 MiB; the tail holds a make's last lines, where a full disk shows.
    if (res.exitCode !== 0 && !g.timedOut) {
      const seen = `${collected}${result.tail.join('\n')}`;
      if (DISK_FULL_RE.test(seen)) throw await diskFull(o.what, o.cwd, seen, o.logFile);
    }
    if (!o.allowFailure && (res.exitCode !== 0 || g.timedOut)) {
      const why = g.timedOut
        ? `timed out after ${seconds(o.timeoutMs ?? 0)} s`
        : res.exitCode === undefined
          ? `was killed (${res.signal ?? 'unknown signal'})`
          : `exited with status ${res.exitCode}`;
      throw new QkError(o.failClass ?? 'infra-error', `${o.what} failed: ${cmd} ${why}`, {
        details: result.tail.join('\n'),
        ...(o.logFile ? { logFile: o.logFile } : {}),
        ...(o.hint ? { hint: o.hint } : {}),
      });
    }
    return result;
  } finally {
    g.release();
    if (log) await new Promise<void>((r) => log.end(() => r()));
  }
}

export interface CaptureOptions {
  readonly what: string;
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Default 120 s; then the whole process group is killed. */
  readonly timeoutMs?: number;
  readonly failClass?: RunClass;
  /** Append the command line and its output (stdout and stderr) to this file. */
  readonly logFile?: string;
  /** On abort the process group is killed and QkError('interrupted') thrown. */
  readonly signal?: AbortSignal | undefined;
}

/** The outcome of a short command, output buffered. */
interface ShortResult {
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly stdout: string;
  /** stdout and stderr interleaved. */
  readonly all: string;
  readonly timedOut: boolean;
  readonly aborted: boolean;
  /** The command does not exist. */
  readonly missing: boolean;
}

/** Run a short command in its own process group, buffering its output. */
async function runShort(
  cmd: string,
  args: readonly string[],
  o: { cwd?: string | undefined; env?: Readonly<Record<string, string>> | undefined; timeoutMs: number; signal?: AbortSignal | undefined; logFile?: string | undefined },
): Promise<ShortResult> {
  throwIfAborted(o.signal);
  if (o.logFile) {
    await mkdir(dirname(o.logFile), { recursive: true });
    await appendFile(o.logFile, `\n$ ${commandLine(cmd, args)}\n`);
  }
  const notes: string[] = [];
  const child = execa(cmd, args, {
    ...placeAndEnv(o),
    extendEnv: true,
    all: true,
    reject: false,
    stdin: 'ignore',
    detached: true,
    killSignal: 'SIGKILL',
  });
  const g = guard(child, { timeoutMs: o.timeoutMs, signal: o.signal, onKill: (why) => notes.push(`qk: ${why}: killing process group ${child.pid ?? '?'}\n`) });
  try {
    const res = await child;
    const all = String(res.all ?? '');
    if (o.logFile) await appendFile(o.logFile, (all && !all.endsWith('\n') ? all + '\n' : all) + notes.join(''));
    return {
      exitCode: res.exitCode,
      signal: res.signal,
      stdout: String(res.stdout ?? ''),
      all,
      timedOut: g.timedOut,
      aborted: g.aborted,
      missing: (res as { code?: string }).code === 'ENOENT',
    };
  } finally {
    g.release();
  }
}

/** Run a short command and return its stdout (trimmed). */
export async function capture(cmd: string, args: readonly string[], o: CaptureOptions): Promise<string> {
  const timeoutMs = o.timeoutMs ?? 120_000;
  const res = await runShort(cmd, args, { ...o, timeoutMs });
  if (res.aborted) throw new QkError('interrupted', 'interrupted');
  if (res.missing) {
    throw new QkError('missing-dependency', `${cmd} is not installed (needed for ${o.what})`);
  }
  if (!res.timedOut && res.exitCode !== 0 && DISK_FULL_RE.test(res.all)) throw await diskFull(o.what, o.cwd, res.all, o.logFile);
  if (res.timedOut || res.exitCode !== 0) {
    const why = res.timedOut ? `timed out after ${seconds(timeoutMs)} s` : `exited with status ${res.exitCode ?? res.signal}`;
    throw new QkError(o.failClass ?? 'infra-error', `${o.what} failed: ${cmd} ${why}`, {
      details: res.all.split('\n').slice(-20).join('\n'),
      ...(o.logFile ? { logFile: o.logFile } : {}),
    });
  }
  return res.stdout.trim();
}

/** Like capture, but returns undefined instead of throwing. */
export async function tryCapture(cmd: string, args: readonly string[], cwd?: string): Promise<string | undefined> {
  try {
    const res = await runShort(cmd, args, { cwd, timeoutMs: 30_000 });
    return res.exitCode === 0 && !res.timedOut ? res.stdout.trim() : undefined;
  } catch {
    return undefined;
  }
}

export function trackChild(pid: number | undefined): void {
  if (pid !== undefined) live.add(pid);
}
export function untrackChild(pid: number | undefined): void {
  if (pid !== undefined) live.delete(pid);
}

/** strerror(ENOSPC) and EDQUOT, as git, make, gcc, ld, cp and tar print them. */
const DISK_FULL_RE = /No space left on device|Disk quota exceeded/;

/** The failure of a command that ran out of disk: an infra-error naming the filesystem, its free space and the line that said so. */
async function diskFull(what: string, cwd: string | undefined, output: string, logFile: string | undefined): Promise<QkError> {
  const dir = cwd ?? process.cwd();
  const free = await statfs(dir).then(
    (fs) => `${((fs.bavail * fs.bsize) / 2 ** 30).toFixed(1)} GiB free there now`,
    () => 'its free space unknown',
  );
  const line = output.split('\n').find((l) => DISK_FULL_RE.test(l)) ?? '';
  return new QkError('infra-error', `${what} failed: the disk is full (${dir}: ${free})`, {
    details: line.trim(),
    ...(logFile ? { logFile } : {}),
    hint: 'free space on that filesystem, or give the run a --work-dir on a larger one (the default job, built cold, takes about 8 GiB), then run again',
  });
}

/** Milliseconds as seconds for messages: 1800, 0.5. */
function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}

function commandLine(cmd: string, args: readonly string[]): string {
  return shellQuote([cmd, ...args]);
}

/** cwd and env only when given (execa's option types reject undefined). */
function placeAndEnv(o: { cwd?: string | undefined; env?: Readonly<Record<string, string>> | undefined }): { cwd?: string; env?: Record<string, string> } {
  return { ...(o.cwd !== undefined ? { cwd: o.cwd } : {}), ...(o.env !== undefined ? { env: { ...o.env } } : {}) };
}
