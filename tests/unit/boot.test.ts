/**
 * The boot stage's timers, on a fake guest (a shell script printing what a
 * kernel would): silence, the overall timeout, the grace period after a
 * crash report, the wait after the sentinel, and the process group kill.
 */
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { consoleFileOf, interactiveArgv, qemuArgs, runGuest, withConsoleFile } from '../../scripts/lib/pipeline/boot.ts';
import { survivorsAfterAWhile } from './survivors.ts';
import { useTempDir } from './tempdir.ts';

// Each test's guests write below a directory removed after the test.
const tmp = useTempDir('qk-boot-');

async function guest(script: string, o: { silenceMs?: number; timeoutMs?: number; graceMs?: number; afterEndMs?: number } = {}) {
  const dir = await mkdtemp(join(tmp(), 'guest-'));
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

  describe('a console written to a file (QEMU: consoleFileOf)', () => {
    async function fileGuest(script: string, o: { silenceMs?: number } = {}) {
      const dir = await mkdtemp(join(tmp(), 'file-'));
      const consoleLog = join(dir, 'console.log');
      const consoleFile = consoleFileOf(consoleLog);
      // The fake emulator gets the file as $1, as QEMU gets it in -chardev file,path=.
      const run = await runGuest({ cmd: 'sh', args: ['-c', script, 'sh', consoleFile], consoleLog, consoleFile, silenceMs: o.silenceMs ?? 10_000, timeoutMs: 20_000 });
      return { run, log: await readFile(consoleLog, 'utf8'), left: await readdir(dir) };
    }

    it('follows the file into the log with the emulator\'s own output, keeps every byte of a burst, and removes the file', async () => {
      // 200000 numbered lines (about 2 MB) at once, far past a pipe's 64 KiB, then a line without its newline.
      const { run, log, left } = await fileGuest('echo "qemu: starting" >&2; seq 1 200000 >> "$1"; printf "QK-END {\\"status\\":0}" >> "$1"; exit 0');
      expect(run.ending).toBe('exited');
      const nums = run.lines.filter((l) => /^\d+$/.test(l)).map(Number);
      expect(nums).toHaveLength(200000);
      expect(nums.every((n, i) => n === i + 1)).toBe(true);
      expect(run.lines).toContain('qemu: starting');
      expect(run.lines.at(-1)).toBe('QK-END {"status":0}');
      expect(log.split('\n').filter((l) => /^\d+$/.test(l))).toHaveLength(200000);
      expect(left).toEqual(['console.log']);
    });

    it('counts only what reaches the file as the console talking: a silent file ends the boot', async () => {
      const { run } = await fileGuest('echo booting >> "$1"; exec sleep 30', { silenceMs: 400 });
      expect(run.ending).toBe('silence');
      expect(run.lines).toEqual(['booting']);
    });
  });

  it('QEMU gets the file as its serial backend, a comma in the path doubled; stdio without one', () => {
    const base = { backend: 'tcg' as const, kernel: '/k', initrd: '/i', smp: 2, memoryMB: 1024, cmdline: [] };
    const withFile = qemuArgs({ ...base, consoleFile: '/r/a,b/console-x.serial' });
    expect(withFile.slice(withFile.indexOf('-chardev'), withFile.indexOf('-chardev') + 4)).toEqual(['-chardev', 'file,id=qkcon,path=/r/a,,b/console-x.serial', '-serial', 'chardev:qkcon']);
    expect(withFile).not.toContain('stdio');
    expect(qemuArgs(base)).toEqual(expect.arrayContaining(['-serial', 'stdio']));
    expect(consoleFileOf('/r/logs/console-baseline-tcg-r0.log')).toBe('/r/logs/console-baseline-tcg-r0.serial');
    // One vector booted again, into another file: only the chardev's path changes.
    const again = withConsoleFile(withFile, '/s/c-1.serial');
    expect(again.filter((a, i) => a !== withFile[i])).toEqual(['file,id=qkcon,path=/s/c-1.serial']);
    expect(() => withConsoleFile(qemuArgs(base), '/s/x')).toThrow(/no -chardev file,id=qkcon/);
    // The reproducer a person runs puts the console back on the terminal, and changes nothing else.
    expect(interactiveArgv(['qemu', ...withFile])).toEqual(['qemu', ...qemuArgs(base)]);
    expect(interactiveArgv(['linux', 'mem=256M'])).toEqual(['linux', 'mem=256M']);
  });
});
