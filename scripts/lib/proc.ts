/**
 * Child processes: argument arrays only (never shell strings), a timeout on
 * everything, each child in its own process group so that the whole tree is
 * killed, and the full output kept in a log file with its tail at hand.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { QkError, type RunClass } from './errors.ts';

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

/**
 * Run a command to completion, streaming its output line by line into the log.
 * Output is also collected in memory up to 1 MiB (for short commands).
 */
export async function spawn(cmd: string, args: readonly string[], o: SpawnOptions): Promise<SpawnResult> {
  const log = await openLog(o.logFile);
  log?.write(`\n$ ${[cmd, ...args].map(quoteForLog).join(' ')}\n`);
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
    ...(o.timeoutMs ? { timeout: o.timeoutMs } : {}),
  });
  if (child.pid !== undefined) live.add(child.pid);
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
    killGroup(child.pid);
    const result: SpawnResult = {
      exitCode: res.exitCode,
      signal: res.signal,
      timedOut: res.timedOut,
      tail: tail.get(),
      output: collected,
    };
    if (res.failed && res.exitCode === undefined && (res as { code?: string }).code === 'ENOENT') {
      throw new QkError('missing-dependency', `${cmd} is not installed (needed for ${o.what})`, {
        hint: 'run the host check again: npx zx scripts/run.mjs (as root it installs what is missing)',
      });
    }
    if (!o.allowFailure && (res.exitCode !== 0 || res.timedOut)) {
      const why = res.timedOut
        ? `timed out after ${Math.round((o.timeoutMs ?? 0) / 1000)} s`
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
    if (child.pid !== undefined) live.delete(child.pid);
    if (log) await new Promise<void>((r) => log.end(() => r()));
  }
}

/** Run a short command and return its stdout (trimmed). */
export async function capture(
  cmd: string,
  args: readonly string[],
  o: { what: string; cwd?: string; env?: Readonly<Record<string, string>>; timeoutMs?: number; failClass?: RunClass } ,
): Promise<string> {
  const child = execa(cmd, args, {
    ...placeAndEnv(o),
    extendEnv: true,
    reject: false,
    stdin: 'ignore',
    timeout: o.timeoutMs ?? 120_000,
    killSignal: 'SIGKILL',
  });
  const res = await child;
  if ((res as { code?: string }).code === 'ENOENT') {
    throw new QkError('missing-dependency', `${cmd} is not installed (needed for ${o.what})`);
  }
  if (res.exitCode !== 0) {
    throw new QkError(o.failClass ?? 'infra-error', `${o.what} failed: ${cmd} exited with status ${res.exitCode ?? res.signal}`, {
      details: String(res.stderr || res.stdout).split('\n').slice(-20).join('\n'),
    });
  }
  return String(res.stdout).trim();
}

/** Like capture, but returns undefined instead of throwing. */
export async function tryCapture(cmd: string, args: readonly string[], cwd?: string): Promise<string | undefined> {
  try {
    const res = await execa(cmd, args, { ...placeAndEnv({ cwd }), reject: false, stdin: 'ignore', timeout: 30_000 });
    return res.exitCode === 0 ? String(res.stdout).trim() : undefined;
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

function quoteForLog(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** cwd and env only when given (execa's option types reject undefined). */
function placeAndEnv(o: { cwd?: string | undefined; env?: Readonly<Record<string, string>> | undefined }): { cwd?: string; env?: Record<string, string> } {
  return { ...(o.cwd !== undefined ? { cwd: o.cwd } : {}), ...(o.env !== undefined ? { env: { ...o.env } } : {}) };
}
