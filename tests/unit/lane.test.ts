/** The background lane: low priority, stopped while paused, timeouts that leave out the pauses. */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { QkError } from '../../scripts/lib/plumbing/errors.ts';
import { Lane } from '../../scripts/lib/plumbing/lane.ts';
import { spawn } from '../../scripts/lib/plumbing/proc.ts';

/** Fields of /proc/PID/stat after the command name: [0] state, [16] nice. */
async function stat(pid: number): Promise<string[]> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).trim().split(' ');
}

/** A shell that prints its pid, then a line every 20 ms, and a child doing the same, for `seconds`. */
const ticker = (seconds: number) => ['-c', `echo pid $$; (while :; do echo child; sleep 0.02; done) & echo kid $!; end=$(( $(date +%s) + ${seconds} )); while [ $(date +%s) -lt $end ]; do echo tick; sleep 0.02; done; kill $!`];

describe('lane', { timeout: 20_000 }, () => {
  it('runs a command and its children at the lane niceness, stops them while paused and lets them go on after', async () => {
    const lane = new Lane('test', 17);
    const lines: string[] = [];
    let pid = 0;
    let kid = 0;
    const run = spawn('sh', ticker(3), {
      what: 'ticking',
      lane,
      onLine: (l) => {
        lines.push(l);
        if (l.startsWith('pid ')) pid = Number(l.slice(4));
        if (l.startsWith('kid ')) kid = Number(l.slice(4));
      },
    });
    while (kid === 0) await sleep(10);
    expect((await stat(pid))[16]).toBe('17');
    expect((await stat(kid))[16]).toBe('17');
    // Where the kernel groups sessions (autogroups), the command's session has the lane's nice value too.
    const autogroup = async () => readFile(`/proc/${pid}/autogroup`, 'utf8').catch(() => undefined);
    for (let i = 0; i < 100 && (await autogroup())?.match(/ nice 17$/m) === null; i++) await sleep(20);
    const ag = await autogroup();
    if (ag !== undefined) expect(ag).toMatch(/ nice 17$/m);
    expect(lane.running).toBe(1);

    lane.pause();
    await sleep(100);
    const before = lines.length;
    expect((await stat(pid))[0]).toBe('T');
    expect((await stat(kid))[0]).toBe('T');
    await sleep(400);
    expect(lines.length).toBe(before);

    lane.resume();
    await sleep(300);
    expect(['S', 'R']).toContain((await stat(pid))[0]);
    expect(lines.length).toBeGreaterThan(before + 3);
    await run;
    expect(lane.running).toBe(0);
  });

  it('takes only the CPU the foreground leaves: on one CPU beside a foreground command it gets little', async () => {
    // Two busy loops on CPU 0, one in the lane, one not; each a session of its own, as every command is.
    const pids: Record<string, number> = {};
    const busy = (name: string, lane?: Lane) =>
      spawn('taskset', ['-c', '0', 'sh', '-c', 'echo pid $$; while :; do :; done'], {
        what: name,
        allowFailure: true,
        timeoutMs: 2500,
        ...(lane ? { lane } : {}),
        onLine: (l) => (l.startsWith('pid ') ? (pids[name] = Number(l.slice(4))) : undefined),
      });
    const runs = [busy('background', new Lane('test')), busy('foreground')];
    await sleep(2000);
    const cpu = async (name: string) => (await stat(pids[name]!)).slice(11, 13).reduce((a, b) => a + Number(b), 0);
    const [bg, fg] = [await cpu('background'), await cpu('foreground')];
    await Promise.all(runs);
    expect(fg).toBeGreaterThan(20); // clock ticks (100 a second), whatever else shares CPU 0
    expect(bg / fg).toBeLessThan(0.1);
  });

  it('a command started while the lane is paused waits for resume', async () => {
    const lane = new Lane('test');
    lane.pause();
    let started = false;
    const run = spawn('sh', ['-c', 'echo started'], { what: 'waiting', lane, onLine: () => (started = true) });
    await sleep(300);
    expect(started).toBe(false);
    lane.resume();
    await run;
    expect(started).toBe(true);
  });

  it("a command's timeout leaves out the time the lane was paused", async () => {
    const lane = new Lane('test');
    const t0 = Date.now();
    // Twelve short sleeps: a stopped process's sleep runs out meanwhile, the ones after it wait.
    const run = spawn('sh', ['-c', 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 0.05; done'], { what: 'sleeping', lane, timeoutMs: 800 });
    await sleep(100);
    lane.pause();
    await sleep(500);
    lane.resume();
    const r = await run;
    expect(r.timedOut).toBe(false);
    expect(Date.now() - t0).toBeGreaterThan(1000);
    // Without pauses, the same timeout still fires.
    const err = await spawn('sh', ['-c', 'sleep 2'], { what: 'sleeping', lane, timeoutMs: 300 }).catch((e: unknown) => e);
    expect((err as QkError).message).toMatch(/sleeping failed: sh timed out after 0.3 s/);
  });

  it('an abort while paused kills the stopped group, and a waiting command is interrupted', async () => {
    const lane = new Lane('test');
    const ac = new AbortController();
    let pid = 0;
    const run = spawn('sh', ticker(10), { what: 'ticking', lane, signal: ac.signal, allowFailure: true, onLine: (l) => (l.startsWith('pid ') ? (pid = Number(l.slice(4))) : undefined) });
    while (pid === 0) await sleep(10);
    lane.pause();
    const waiting = spawn('sh', ['-c', 'true'], { what: 'waiting', lane, signal: ac.signal }).catch((e: unknown) => e);
    await sleep(100);
    ac.abort();
    await expect(run).rejects.toMatchObject({ runClass: 'interrupted' });
    expect(await waiting).toMatchObject({ runClass: 'interrupted' });
    await sleep(100);
    await expect(readFile(`/proc/${pid}/stat`, 'utf8')).rejects.toThrow();
  });

  it('a command that is not installed is a missing dependency, as outside a lane', async () => {
    const err = await spawn('qk-no-such-command', [], { what: 'testing', lane: new Lane('test') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QkError);
    expect((err as QkError).runClass).toBe('missing-dependency');
    expect((err as QkError).message).toMatch(/qk-no-such-command is not installed \(needed for testing\)/);
  });

  it('pausedWithin counts the overlap of pauses with a span', () => {
    const lane = new Lane('test');
    const real = Date.now;
    let now = 1000;
    Date.now = () => now;
    try {
      lane.pause();
      now = 1500;
      lane.resume();
      now = 2000;
      lane.pause();
      now = 2200;
      expect(lane.pausedWithin(0, 2200)).toBe(700);
      expect(lane.pausedWithin(1200, 2100)).toBe(400);
      lane.resume();
      expect(lane.pausedWithin(2100, 3000)).toBe(100);
    } finally {
      Date.now = real;
    }
  });
});
