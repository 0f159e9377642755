/**
 * UML in a container (issue 25): Docker mounts /dev/shm noexec, and UML,
 * which maps its memory from $TMPDIR or /dev/shm, refuses a noexec one
 * before the kernel starts, so every UML boot there failed as a "boot
 * failure". Here the README run's UML kernel boots with /dev/shm remounted
 * noexec in a private mount namespace (unshare -m, as root: the host's
 * /dev/shm is never touched), and must still boot: the run gives UML a
 * TMPDIR of its own under the work directory (scripts/lib/pipeline/umltmp.ts). With
 * no exec-capable directory at all the run must fail as the host's problem
 * (infra-error, exit 2), never as the kernel's.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, inject, it } from 'vitest';
import { finishTool, startTool } from './tool.ts';

const qk = inject('qk');
const asRoot = process.getuid?.() === 0 && (await execa('unshare', ['-m', 'true'], { reject: false })).exitCode === 0;
const ARGS = ['--backend', 'uml', '--variants', 'baseline', '--boots', '1', '--aa-control', 'none'];
/** Run the tool in a private mount namespace after `setup` (shell commands, as root), with /dev/shm noexec there. */
const inNamespace = (setup: string) => ['unshare', '-m', '--propagation', 'private', 'sh', '-c', `set -e; mount -o remount,noexec /dev/shm; ${setup} echo "shm: $(findmnt -no OPTIONS /dev/shm | tr '\\n' ' ')"; exec "$@"`, 'sh'];
let n = 0;
const runIn = (name: string, setup: string) => {
  const runId = `it-${name}-${Date.now().toString(36)}${n++}`;
  return finishTool(qk, runId, startTool(qk, runId, ARGS, {}, inNamespace(setup)));
};

describe.skipIf(!asRoot)('UML with /dev/shm mounted noexec (private mount namespace, root)', () => {
  it('boots, its memory in an exec-capable directory of the run, and the reproducer says so', async () => {
    const r = await runIn('uml-noexec-shm', '');
    expect(r.output).toMatch(/^shm: .*\bnoexec\b/m);
    expect(r.exitCode, r.output.slice(-3000)).toBe(0);
    const dir = join(qk.work, 'tmp', 'uml');
    expect(r.output).toMatch(new RegExp(`uml: guest memory in ${dir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(not /dev/shm/qmempool-kit-0: files there cannot be executed`));
    const res = await r.results();
    expect(res.boots.length).toBeGreaterThan(0);
    for (const b of res.boots) {
      expect([b.backend, b.class]).toEqual(['uml', 'ok']);
      expect(b.reproduce.startsWith(`env TMPDIR=${dir} `)).toBe(true);
      // UML's own words: it checked the directory we gave it, not /dev/shm.
      const log = await readFile(join(r.runDir, b.consoleLog), 'utf8');
      expect(log).toContain(`Checking PROT_EXEC mmap in ${dir}...OK`);
    }
  });

  it('with no exec-capable directory at all: an infra error naming each directory (exit 2), not a boot failure', async () => {
    const tmp = join(qk.work, 'tmp');
    const r = await runIn('uml-noexec-all', `mkdir -p '${tmp}'; mount -t tmpfs -o noexec,size=64m tmpfs '${tmp}';`);
    expect(r.exitCode, r.output.slice(-3000)).toBe(2);
    expect(r.output).toContain("error (infra-error): no directory can hold a UML guest's memory");
    expect(r.output).toMatch(/\/dev\/shm\/qmempool-kit-0: files there cannot be executed \(EACCES\): mounted noexec/);
    expect(r.output).toContain(`${join(tmp, 'uml')}: files there cannot be executed (EACCES): mounted noexec`);
    expect(r.output).toContain('hint: give the run a --work-dir on an exec-capable filesystem');
    expect((await r.manifest()).class).toBe('infra-error');
  });
});
