import { spawn as spawnNode } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grandchildScript, pgidFrom, sleepMarker, survivorsAfterAWhile } from './survivors.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qk-signals-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * A program that runs `body` inside withInterrupts while a shell with a
 * grandchild runs under spawn(); it prints "ready" once the shell started.
 */
async function program(name: string, body: string): Promise<string> {
  const file = join(dir, `${name}.mts`); // ESM: no package.json up there says so
  await writeFile(
    file,
    `import { withInterrupts } from ${JSON.stringify(join(ROOT, 'scripts/lib/plumbing/signals.ts'))};
import { spawn } from ${JSON.stringify(join(ROOT, 'scripts/lib/plumbing/proc.ts'))};
import { setTimeout as sleep } from 'node:timers/promises';
const started = (line: string) => { if (line === 'started') process.stdout.write('ready\\n'); };
${body}
`,
  );
  return file;
}

/** Run a program under tsx; send it these signals once it is ready, one per second. */
function run(file: string, signals: NodeJS.Signals[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawnNode(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (sent || !stdout.includes('ready\n')) return;
      sent = true;
      signals.forEach((s, i) => setTimeout(() => child.kill(s), 300 + 1000 * i));
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('withInterrupts', { timeout: 30_000 }, () => {
  it('on the first signal aborts the run, kills the children, and removes its handlers when fn settles', async () => {
    const marker = sleepMarker(11);
    const pidFile = join(dir, 'first.pid');
    const file = await program(
      'first',
      `const code = await withInterrupts(async (signal) => {
  // Not given the signal: only killAllChildren() can stop it.
  const r = await spawn('sh', ${JSON.stringify(grandchildScript(marker, pidFile))}, { what: 'sleeping', onLine: started, allowFailure: true });
  console.log('killed', r.signal, 'aborted', signal.aborted);
  return 7;
}, { onFirst: (sig) => console.log('first', sig) });
console.log('handlers left', process.listenerCount('SIGINT'), process.listenerCount('SIGTERM'));
process.exitCode = code;`,
    );
    const r = await run(file, ['SIGINT']);
    expect(r.stderr).toBe('\nSIGINT: stopping guests and builds ...\n');
    expect(r.stdout).toContain('first SIGINT\nkilled SIGKILL aborted true\nhandlers left 0 0\n');
    expect(r.code).toBe(7);
    expect(await survivorsAfterAWhile({ pgid: await pgidFrom(pidFile), marker })).toEqual([]);
  });

  it('exits with 130 on the second signal', async () => {
    const marker = sleepMarker(12);
    const pidFile = join(dir, 'second.pid');
    // fn does not listen to its signal: only the second SIGTERM ends the process.
    const file = await program(
      'second',
      `await withInterrupts(async () => {
  void spawn('sh', ${JSON.stringify(grandchildScript(marker, pidFile))}, { what: 'sleeping', onLine: started, allowFailure: true });
  await sleep(20_000);
});
console.log('not reached');`,
    );
    const r = await run(file, ['SIGTERM', 'SIGTERM']);
    expect(r.code).toBe(130);
    expect(r.stderr).toBe('\nSIGTERM: stopping guests and builds ...\n');
    expect(r.stdout).not.toContain('not reached');
    expect(await survivorsAfterAWhile({ pgid: await pgidFrom(pidFile), marker })).toEqual([]);
  });

  it('kills the children when the process exits', async () => {
    const marker = sleepMarker(13);
    const pidFile = join(dir, 'exit.pid');
    const file = await program(
      'exit',
      `await withInterrupts(async () => {
  void spawn('sh', ${JSON.stringify(grandchildScript(marker, pidFile))}, { what: 'sleeping', onLine: () => process.exit(3) });
  await sleep(20_000);
});`,
    );
    const r = await run(file, []);
    expect(r.code).toBe(3);
    expect(await survivorsAfterAWhile({ pgid: await pgidFrom(pidFile), marker })).toEqual([]);
  });
});
