/**
 * Locks between runs on one machine: a run that needs a tree another run
 * holds waits for it (and says who holds it) instead of building into it.
 *
 * The lock is proper-lockfile's `<path>.lock` directory, created atomically
 * with mkdir; its holder touches it every UPDATE_MS, so the lock of a killed
 * run goes stale after STALE_MS and the next run takes it over. Beside it,
 * `<path>.owner.json` says who holds it, for the messages of runs that wait.
 */
import { hostname } from 'node:os';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import lockfile from 'proper-lockfile';
import { QkError } from './errors.ts';
import { z } from 'zod';
import { readJson, writeJsonAtomic } from './fsutil.ts';

/** A lock not touched for this long belongs to a process that is gone. */
const STALE_MS = 60_000;
/** How often the holder touches its lock: well below STALE_MS. */
const UPDATE_MS = 10_000;
/** How often a waiting run tries again. */
const POLL_MS = 1000;
/** How long a run waits for a lock unless told otherwise. */
export const DEFAULT_LOCK_WAIT_MS = 3 * 3600_000;

export interface LockOptions {
  /** What is locked, for messages: "the baseline tree of debian-6.12.17". */
  readonly what: string;
  /** Who takes the lock, for the messages of runs that wait: "run 20250101-1200-ab12". */
  readonly owner: string;
  readonly log: { info(m: string): void };
  /** Aborting stops the wait with QkError('interrupted'). */
  readonly signal?: AbortSignal;
  /** How long to wait for the holder (default 3 hours); 0 refuses at once. */
  readonly waitMs?: number;
}

/** The content of `<path>.owner.json`. */
const LockOwner = z.object({
  owner: z.string(),
  pid: z.number().int(),
  host: z.string(),
  /** ISO time the lock was taken. */
  since: z.string(),
}).readonly();
type LockOwner = z.infer<typeof LockOwner>;
const OWNER = { what: 'lock owner file', hint: 'remove it: the next run to take the lock writes it again' };

/**
 * Lock path (a file or directory; it need not exist) for this process,
 * waiting up to waitMs for the run that holds it. Returns the release
 * function; releasing twice is harmless.
 */
export async function acquireLock(path: string, o: LockOptions): Promise<() => Promise<void>> {
  const target = resolve(path);
  const lockDir = `${target}.lock`;
  const ownerFile = `${target}.owner.json`;
  const waitMs = o.waitMs ?? DEFAULT_LOCK_WAIT_MS;
  await mkdir(dirname(target), { recursive: true });
  const start = Date.now();
  let attempts = 0;
  let told = false;
  for (;;) {
    if (o.signal?.aborted) throw new QkError('interrupted', 'interrupted');
    const release = await tryLock(target, o);
    if (release) {
      const me: LockOwner = { owner: o.owner, pid: process.pid, host: hostname(), since: new Date().toISOString() };
      await writeJsonAtomic(ownerFile, me);
      return releaser(release, ownerFile, me);
    }
    attempts += 1;
    const holder = describeOwner(await readJson(ownerFile, LockOwner, OWNER));
    const waited = Date.now() - start;
    if (waited >= waitMs) {
      throw new QkError('infra-error', `${o.what} is locked by ${holder}${waitMs > 0 ? `; gave up after waiting ${formatWait(waited)}` : ''}`, {
        hint: `wait for that run to finish, or remove ${lockDir} if no such process exists`,
      });
    }
    // Tell once, when the holder has written its name (or it never does).
    if (!told && (holder !== UNKNOWN_OWNER || attempts >= 3)) {
      o.log.info(`waiting for ${o.what}: held by ${holder}`);
      told = true;
    }
    await sleep(Math.min(POLL_MS, waitMs - waited), undefined, o.signal ? { signal: o.signal } : {}).catch(() => undefined);
  }
}

/** One attempt: the release function, or undefined while another process holds the lock. */
async function tryLock(target: string, o: LockOptions): Promise<(() => Promise<void>) | undefined> {
  try {
    return await lockfile.lock(target, {
      realpath: false,
      stale: STALE_MS,
      update: UPDATE_MS,
      retries: 0,
      // The lock was taken over (this process stalled for longer than
      // STALE_MS) or removed by hand: say so rather than crash.
      onCompromised: (err) => o.log.info(`warning: lost the lock on ${o.what}: ${err.message}`),
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOCKED') return undefined;
    throw new QkError('infra-error', `cannot lock ${o.what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/**
 * Release once: the owner file first (unless a run that took the lock over
 * has written its own), so that waiting runs never name a wrong owner.
 */
function releaser(release: () => Promise<void>, ownerFile: string, me: LockOwner): () => Promise<void> {
  let done = false;
  return async () => {
    if (done) return;
    done = true;
    const now = await readJson(ownerFile, LockOwner, OWNER);
    if (now?.pid === me.pid && now.since === me.since && now.owner === me.owner) await rm(ownerFile, { force: true });
    await release().catch((e: unknown) => {
      // ERELEASED: the lock was compromised and is no longer ours.
      if ((e as NodeJS.ErrnoException).code !== 'ERELEASED') throw e;
    });
  };
}

const UNKNOWN_OWNER = 'another process';

/** "run X (pid 12) since 2025-01-01T10:00:00Z", from the owner file. */
function describeOwner(h: LockOwner | undefined): string {
  if (!h) return UNKNOWN_OWNER;
  const host = h.host !== hostname() ? ` on ${h.host}` : '';
  return `${h.owner} (pid ${h.pid}${host}) since ${h.since.replace(/\.\d+Z$/, 'Z')}`;
}

function formatWait(ms: number): string {
  return ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`;
}
