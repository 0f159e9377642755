/**
 * The boot stage's timers, on a fake guest (a shell script printing what a
 * kernel would): silence, the overall timeout, the grace period after a
 * crash report, the wait after the sentinel, and the process group kill.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runGuest } from '../../scripts/lib/pipeline/boot.ts';
import { survivorsAfterAWhile } from './survivors.ts';

async function guest(script: string, o: { silenceMs?: number; timeoutMs?: number; graceMs?: number; afterEndMs?: number } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'qk-boot-'));
  const consoleLog = join(dir, 'console.log');
  const t0 = Date.now();
  const run = await runGuest({ cmd: 'sh', args: ['-c', script], consoleLog, silenceMs: o.silenceMs ?? 10_000, timeoutMs: o.timeoutMs ?? 20_000, graceMs: o.graceMs ?? 3000, afterEndMs: o.afterEndMs ?? 10_000 });
  return { run, ms: Date.now() - t0, log: await readFile(consoleLog, 'utf8') };
}

describe('boot stage timers', () => {
  it('stops a guest whose console goes silent', async () => {
    const { run, ms, log } = await guest('echo booting; exec sleep 30', { silenceMs: 400 });
    expect(run.ending).toBe('silence');
    expect(ms).toBeLessThan(5000);
    expect(run.lines).toEqual(['booting']);
    expect(log).toBe('booting\n');
  });

  it('stops a guest that keeps talking past the overall timeout', async () => {
    const { run, ms } = await guest('while :; do echo tick; sleep 0.05; done', { silenceMs: 5000, timeoutMs: 700 });
    expect(run.ending).toBe('timeout');
    expect(ms).toBeGreaterThanOrEqual(650);
    expect(ms).toBeLessThan(5000);
  });

  it('after a crash report keeps reading for the grace period, then stops', async () => {
    const { run, ms } = await guest('echo "Kernel panic - not syncing: test"; i=0; while :; do i=$((i+1)); echo "trace $i"; sleep 0.05; done', { graceMs: 600 });
    expect(run.ending).toBe('finding');
    expect(run.lines[0]).toBe('Kernel panic - not syncing: test');
    // The rest of the report reached the log...
    expect(run.lines.length).toBeGreaterThan(3);
    // ...and the guest did not run on after the grace period.
    expect(ms).toBeGreaterThanOrEqual(550);
    expect(ms).toBeLessThan(5000);
  });

  it('gives a guest that printed the sentinel a moment to power off, then stops it', async () => {
    const { run, ms } = await guest('echo \'QK-END {"status":0}\'; exec sleep 30', { afterEndMs: 500 });
    expect(run.ending).toBe('exited');
    expect(ms).toBeGreaterThanOrEqual(450);
    expect(ms).toBeLessThan(5000);
  });

  it('a guest that exits by itself ends as exited with its exit code', async () => {
    const { run } = await guest('echo hello; exit 3');
    expect(run).toMatchObject({ ending: 'exited', exitCode: 3, lines: ['hello'] });
  });

  it('kills the whole process group: a grandchild holding the console pipe does not keep the boot alive', async () => {
    // A sleep of a length nothing else uses marks the grandchild.
    const marker = `sleep 30.${process.pid}`;
    const { run, ms } = await guest(`${marker} & echo started; exec sleep 30`, { silenceMs: 400 });
    expect(run.lines).toEqual(['started']);
    expect(run.ending).toBe('silence');
    expect(ms).toBeLessThan(5000);
    expect(await survivorsAfterAWhile({ marker })).toEqual([]);
  });
});
