import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QkError } from '../../scripts/lib/plumbing/errors.ts';
import { capture, killAllChildren, spawn } from '../../scripts/lib/plumbing/proc.ts';
import { grandchildScript, pgidFrom, sleepMarker, survivorsAfterAWhile } from './survivors.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qk-proc-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// A broken group kill leaves the caller waiting for the 30 s sleeps: fail sooner.
describe('proc', { timeout: 10_000 }, () => {
  it('spawn: a timeout kills the whole process group, grandchildren holding the pipe included', async () => {
    const marker = sleepMarker(1);
    const pidFile = join(dir, 'spawn-timeout.pid');
    const t0 = Date.now();
    const r = await spawn('sh', grandchildScript(marker, pidFile), { what: 'test', timeoutMs: 500, allowFailure: true });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(r.timedOut).toBe(true);
    expect(r.output).toContain('started');
    const pgid = await pgidFrom(pidFile);
    expect(await survivorsAfterAWhile({ pgid, marker })).toEqual([]);
  });

  it('spawn: a timeout without allowFailure throws and names the timeout', async () => {
    const marker = sleepMarker(2);
    const err = await spawn('sh', grandchildScript(marker, join(dir, 'spawn-throw.pid')), { what: 'sleeping', timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QkError);
    expect((err as QkError).message).toMatch(/sleeping failed: sh timed out/);
    expect(await survivorsAfterAWhile({ marker })).toEqual([]);
  });

  it('capture: a timeout kills the whole process group and throws', async () => {
    const marker = sleepMarker(3);
    const pidFile = join(dir, 'capture-timeout.pid');
    const t0 = Date.now();
    const err = await capture('sh', grandchildScript(marker, pidFile), { what: 'capturing', timeoutMs: 500 }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(err).toBeInstanceOf(QkError);
    expect((err as QkError).runClass).toBe('infra-error');
    expect((err as QkError).message).toMatch(/capturing failed: sh timed out/);
    const pgid = await pgidFrom(pidFile);
    expect(await survivorsAfterAWhile({ pgid, marker })).toEqual([]);
  });

  it('spawn: an abort kills the whole process group and throws interrupted', async () => {
    const marker = sleepMarker(4);
    const pidFile = join(dir, 'spawn-abort.pid');
    const ac = new AbortController();
    const t0 = Date.now();
    const p = spawn('sh', grandchildScript(marker, pidFile), {
      what: 'test',
      allowFailure: true,
      signal: ac.signal,
      onLine: (l) => {
        if (l === 'started') ac.abort();
      },
    });
    const err = await p.catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(err).toBeInstanceOf(QkError);
    expect((err as QkError).runClass).toBe('interrupted');
    const pgid = await pgidFrom(pidFile);
    expect(await survivorsAfterAWhile({ pgid, marker })).toEqual([]);
  });

  it('capture: an abort kills the whole process group and throws interrupted', async () => {
    const marker = sleepMarker(5);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const t0 = Date.now();
    const err = await capture('sh', grandchildScript(marker, join(dir, 'capture-abort.pid')), { what: 'test', signal: ac.signal }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect((err as QkError).runClass).toBe('interrupted');
    expect(await survivorsAfterAWhile({ marker })).toEqual([]);
  });

  it('killAllChildren reaches a running capture', async () => {
    const marker = sleepMarker(7);
    const pidFile = join(dir, 'capture-killall.pid');
    setTimeout(() => killAllChildren(), 300);
    const err = await capture('sh', grandchildScript(marker, pidFile), { what: 'test' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QkError);
    expect(await survivorsAfterAWhile({ pgid: await pgidFrom(pidFile), marker })).toEqual([]);
  });

  it('spawn returns when its child exits, killing a grandchild left holding the pipe', async () => {
    const marker = sleepMarker(8);
    const t0 = Date.now();
    const r = await spawn('sh', ['-c', `sleep ${marker} & echo done`], { what: 'test' });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(r.exitCode).toBe(0);
    expect(r.timedOut).toBe(false);
    expect(r.output).toBe('done\n');
    expect(await survivorsAfterAWhile({ marker })).toEqual([]);
  });

  it('an already aborted signal starts nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    const err = await spawn('sh', ['-c', `echo ran > ${join(dir, 'never')}`], { what: 'test', signal: ac.signal }).catch((e: unknown) => e);
    expect((err as QkError).runClass).toBe('interrupted');
    await expect(readFile(join(dir, 'never'), 'utf8')).rejects.toThrow();
  });

  it('spawn and capture write the command line and the output to the log file', async () => {
    const logFile = join(dir, 'logs', 'stage.log');
    await spawn('sh', ['-c', 'echo to-stdout; echo to-stderr >&2'], { what: 'test', logFile });
    const out = await capture('sh', ['-c', 'echo captured; echo captured-err >&2'], { what: 'test', logFile });
    expect(out).toBe('captured');
    const log = await readFile(logFile, 'utf8');
    expect(log).toContain(`$ sh -c 'echo to-stdout; echo to-stderr >&2'\n`);
    expect(log).toMatch(/^to-stdout$/m);
    expect(log).toMatch(/^to-stderr$/m);
    expect(log).toContain(`$ sh -c 'echo captured; echo captured-err >&2'\n`);
    expect(log).toMatch(/^captured$/m);
    expect(log).toMatch(/^captured-err$/m);
  });

  it('the log notes a timeout kill', async () => {
    const logFile = join(dir, 'timeout.log');
    await spawn('sh', ['-c', `sleep ${sleepMarker(6)}`], { what: 'test', logFile, timeoutMs: 300, allowFailure: true });
    expect(await readFile(logFile, 'utf8')).toMatch(/qk: timed out after 0.3 s: killing process group \d+/);
  });

  // /dev/full answers every write with ENOSPC: a real full disk, as the kernel reports it, without filling one.
  it('a command that runs out of disk is an infra-error naming the full disk, whatever class the caller gave a failure', async () => {
    const logFile = join(dir, 'full.log');
    const built = await spawn('sh', ['-c', 'echo compiling; head -c 4096 /dev/zero > /dev/full'], { what: 'build baseline/x86_64', failClass: 'build-failure', cwd: dir, logFile }).catch(
      (e: unknown) => e,
    );
    expect(built).toBeInstanceOf(QkError);
    expect((built as QkError).runClass).toBe('infra-error');
    expect((built as QkError).message).toMatch(new RegExp(`^build baseline/x86_64 failed: the disk is full \\(${dir}: [0-9.]+ GiB free there now\\)$`));
    expect((built as QkError).details).toMatch(/No space left on device/);
    expect((built as QkError).hint).toMatch(/--work-dir/);
    // A caller that inspects failures itself (git am) must not read a full disk as a patch that does not apply.
    const am = await spawn('sh', ['-c', 'head -c 4096 /dev/zero > /dev/full'], { what: 'applying 0001', allowFailure: true }).catch((e: unknown) => e);
    expect((am as QkError).runClass).toBe('infra-error');
    const cap = await capture('sh', ['-c', 'head -c 4096 /dev/zero > /dev/full'], { what: 'writing', failClass: 'build-failure' }).catch((e: unknown) => e);
    expect((cap as QkError).runClass).toBe('infra-error');
    // An ordinary failure keeps the caller's class.
    const other = await spawn('sh', ['-c', 'echo "error: expected ;"; exit 2'], { what: 'build', failClass: 'build-failure' }).catch((e: unknown) => e);
    expect((other as QkError).runClass).toBe('build-failure');
  });
});
