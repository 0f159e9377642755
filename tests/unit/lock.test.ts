import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QkError } from '../../scripts/lib/plumbing/errors.ts';
import { exists } from '../../scripts/lib/plumbing/fsutil.ts';
import { acquireLock } from '../../scripts/lib/plumbing/lock.ts';

let dir: string;
let target: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qk-lock-'));
  // Neither the target nor its parent exists yet.
  target = join(dir, 'trees', 'baseline');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function lines(): { info(m: string): void; lines: string[] } {
  const out: string[] = [];
  return { lines: out, info: (m) => out.push(m) };
}

// A lock that waits forever would otherwise run into the 30 s default.
describe('acquireLock', { timeout: 10_000 }, () => {
  it('makes a second acquirer wait until the first releases, saying who holds the lock', async () => {
    const events: string[] = [];
    const releaseA = await acquireLock(target, { what: 'the baseline tree', owner: 'run A', log: lines() });
    expect(await exists(`${target}.lock`)).toBe(true);
    expect(JSON.parse(await readFile(`${target}.owner.json`, 'utf8'))).toMatchObject({ owner: 'run A', pid: process.pid });
    const logB = lines();
    const b = acquireLock(target, { what: 'the baseline tree', owner: 'run B', log: logB }).then((r) => {
      events.push('B acquired');
      return r;
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(events).toEqual([]);
    expect(logB.lines).toHaveLength(1);
    expect(logB.lines[0]).toMatch(/^waiting for the baseline tree: held by run A \(pid \d+\) since \d{4}-\d\d-\d\dT[\d:]+Z$/);
    events.push('A releasing');
    await releaseA();
    const releaseB = await b;
    expect(events).toEqual(['A releasing', 'B acquired']);
    expect(JSON.parse(await readFile(`${target}.owner.json`, 'utf8'))).toMatchObject({ owner: 'run B' });
    await releaseB();
    await releaseB();
    expect(await exists(`${target}.lock`)).toBe(false);
    expect(await exists(`${target}.owner.json`)).toBe(false);
  });

  it('refuses after waitMs, naming the holder and the lock directory', async () => {
    const release = await acquireLock(target, { what: 'the baseline tree', owner: 'run A', log: lines() });
    try {
      const t0 = Date.now();
      const err = await acquireLock(target, { what: 'the baseline tree', owner: 'run B', log: lines(), waitMs: 1200 }).catch((e: unknown) => e);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1100);
      expect(err).toBeInstanceOf(QkError);
      expect((err as QkError).runClass).toBe('infra-error');
      expect((err as QkError).message).toMatch(/^the baseline tree is locked by run A \(pid \d+\) since /);
      expect((err as QkError).hint).toContain(`${target}.lock`);
    } finally {
      await release();
    }
  });

  it('refuses at once with waitMs 0, without a waiting message', async () => {
    const release = await acquireLock(target, { what: 'the baseline tree', owner: 'run A', log: lines() });
    try {
      const log = lines();
      const t0 = Date.now();
      await expect(acquireLock(target, { what: 'the baseline tree', owner: 'run B', log, waitMs: 0 })).rejects.toThrow(/locked by run A/);
      expect(Date.now() - t0).toBeLessThan(500);
      expect(log.lines).toEqual([]);
    } finally {
      await release();
    }
  });

  it('stops waiting with interrupted when the signal aborts', async () => {
    const release = await acquireLock(target, { what: 'the baseline tree', owner: 'run A', log: lines() });
    try {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 300);
      const t0 = Date.now();
      const err = await acquireLock(target, { what: 'the baseline tree', owner: 'run B', log: lines(), signal: ac.signal }).catch((e: unknown) => e);
      expect(Date.now() - t0).toBeLessThan(1000);
      expect((err as QkError).runClass).toBe('interrupted');
    } finally {
      await release();
    }
  });

  it('takes over the lock of a process that is gone', async () => {
    // What a killed run leaves: its lock directory, untouched for minutes, and its owner file.
    await mkdir(`${target}.lock`, { recursive: true });
    const old = new Date(Date.now() - 5 * 60_000);
    await utimes(`${target}.lock`, old, old);
    await writeFile(`${target}.owner.json`, JSON.stringify({ owner: 'run dead', pid: 999999, host: 'x', since: old.toISOString() }));
    const release = await acquireLock(target, { what: 'the baseline tree', owner: 'run A', log: lines(), waitMs: 0 });
    expect(JSON.parse(await readFile(`${target}.owner.json`, 'utf8'))).toMatchObject({ owner: 'run A' });
    await release();
  });

  it('does not take over a lock that its holder keeps fresh', async () => {
    await mkdir(`${target}.lock`, { recursive: true });
    await expect(acquireLock(target, { what: 'the baseline tree', owner: 'run A', log: lines(), waitMs: 0 })).rejects.toThrow(
      /^the baseline tree is locked by another process$/,
    );
  });
});
