/**
 * UML's memory directory (umltmp.ts): UML refuses a TMPDIR mounted noexec,
 * so each run picks an exec-capable directory of its own and every UML boot
 * gets it as TMPDIR. The noexec case needs a real noexec mount: as root, a
 * tmpfs mounted noexec in a private mount namespace (unshare -m), which the
 * host never sees.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { bootCommand } from '../../scripts/lib/pipeline/boot.ts';
import { umlCpuOption } from '../../scripts/lib/commands/cli.ts';
import { QkError } from '../../scripts/lib/plumbing/errors.ts';
import type { ImageResult } from '../../scripts/lib/pipeline/image.ts';
import { prepareUmlTmp, umlTmpCandidates, umlTmpProblem } from '../../scripts/lib/pipeline/umltmp.ts';
import { useTempDir } from './tempdir.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const asRoot = process.getuid?.() === 0 && (await execa('unshare', ['-m', 'true'], { reject: false })).exitCode === 0;

describe('UML memory directory', () => {
  const tmp = useTempDir('qk-umltmp-');

  it('prefers a directory of ours in /dev/shm, then one under the work directory', () => {
    expect(umlTmpCandidates('/w', 1000)).toEqual(['/dev/shm/qmempool-kit-1000', '/w/tmp/uml']);
  });

  it('takes the first usable candidate and says why it passed over the others', async () => {
    const file = join(tmp(), 'a-file');
    await writeFile(file, '');
    const good = join(tmp(), 'work', 'tmp', 'uml');
    const r = await prepareUmlTmp(tmp(), 64, [join(file, 'sub'), good]);
    expect(r.dir).toBe(good);
    expect(r.passed).toEqual([expect.stringMatching(/a-file\/sub: cannot create it \(ENOTDIR\)/)]);
    expect(await umlTmpProblem(good, 10 ** 9)).toMatch(/^only \d+ MiB free, and the guest has 1000000000 MiB$/);
  });

  it('with no roomier candidate, takes one with less room than the guest (its memory file is sparse), and warns', async () => {
    const file = join(tmp(), 'b-file');
    await writeFile(file, '');
    const dir = join(tmp(), 'small');
    // No filesystem here has 10^9 MiB: the one with the floor's worth is taken, the unusable one stays passed over.
    const r = await prepareUmlTmp(tmp(), 10 ** 9, [join(file, 'sub'), dir]);
    expect(r.dir).toBe(dir);
    expect(r.passed).toEqual([expect.stringMatching(/b-file\/sub: cannot create it/)]);
    expect(r.warning).toMatch(new RegExp(`^${dir} has only \\d+ MiB free for a guest of 1000000000 MiB: UML's memory file is sparse.*SIGBUS$`));
    expect((await prepareUmlTmp(tmp(), 64, [dir])).warning).toBeUndefined();
  });

  it('refuses with an infra error (exit 2) that names each directory, the cause and the fix', async () => {
    const file = join(tmp(), 'f');
    await writeFile(file, '');
    const err = await prepareUmlTmp(tmp(), 64, [join(file, 'a'), join(file, 'b')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QkError);
    const e = err as QkError;
    expect(e.runClass).toBe('infra-error');
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/refuses a filesystem mounted noexec/);
    expect(e.details).toMatch(/f\/a: cannot create it[\s\S]*f\/b: cannot create it/);
    expect(e.hint).toMatch(/--work-dir on an exec-capable filesystem.*mount -o remount,exec \/dev\/shm/);
  });

  it.skipIf(!asRoot)('passes over a directory on a noexec mount (a private mount namespace, as root)', async () => {
    const noexec = join(tmp(), 'shm');
    const work = join(tmp(), 'work');
    await mkdir(noexec);
    const script = `
      import { prepareUmlTmp } from ${JSON.stringify(join(ROOT, 'scripts', 'lib', 'pipeline', 'umltmp.ts'))};
      const r = await prepareUmlTmp(${JSON.stringify(work)}, 8, [${JSON.stringify(join(noexec, 'qk'))}, ${JSON.stringify(join(work, 'tmp', 'uml'))}]);
      console.log(JSON.stringify(r));`;
    const r = await execa('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs -o noexec,size=64m tmpfs "$1" && shift && exec "$@"', 'sh', noexec, process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    const picked = JSON.parse(r.stdout) as { dir: string; passed: string[] };
    expect(picked.dir).toBe(join(work, 'tmp', 'uml'));
    expect(picked.passed).toEqual([`${join(noexec, 'qk')}: files there cannot be executed (EACCES): mounted noexec`]);
  });

  it.skipIf(!asRoot)('refuses a directory with less than the floor free, naming its free space (a 64 MiB tmpfs, as root)', async () => {
    const small = join(tmp(), 'tiny');
    await mkdir(small);
    const script = `
      import { prepareUmlTmp } from ${JSON.stringify(join(ROOT, 'scripts', 'lib', 'pipeline', 'umltmp.ts'))};
      const r = await prepareUmlTmp('/nonexistent', 1024, [${JSON.stringify(join(small, 'qk'))}]).catch((e) => ({ error: e.runClass, details: e.details }));
      console.log(JSON.stringify(r));`;
    const r = await execa('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs -o size=64m tmpfs "$1" && shift && exec "$@"', 'sh', small, process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ error: 'infra-error', details: `${join(small, 'qk')}: only 64 MiB free, and the guest has 1024 MiB` });
  });

  it('boots UML through env(1) with that TMPDIR, so the reproducer carries it too', () => {
    const image: ImageResult = { kind: 'hostfs', path: '/w/image-um', init: '/w/init', moduleDir: '/qk/modules', key: 'k', cached: true };
    const req = { backend: 'uml' as const, kernel: '/k/linux', image, smp: 1, memoryMB: 256, guest: { run: 'r', variant: 'baseline', backend: 'uml' as const, modules: [] }, extraCmdline: [], tcgThreads: 'single' as const };
    const b = bootCommand({ ...req, umlTmpDir: '/w/tmp/uml' });
    expect([b.cmd, ...b.args.slice(0, 3)]).toEqual(['env', 'TMPDIR=/w/tmp/uml', '/k/linux', 'mem=256M']);
    expect(bootCommand(req).cmd).toBe('/k/linux');
  });

  it('pins UML to a host CPU through taskset(1) when --uml-cpu says so, and only then', () => {
    const image: ImageResult = { kind: 'hostfs', path: '/w/image-um', init: '/w/init', moduleDir: '/qk/modules', key: 'k', cached: true };
    const req = { backend: 'uml' as const, kernel: '/k/linux', image, smp: 1, memoryMB: 256, guest: { run: 'r', variant: 'baseline', backend: 'uml' as const, modules: [] }, extraCmdline: [], tcgThreads: 'single' as const };
    const b = bootCommand({ ...req, umlTmpDir: '/w/tmp/uml', umlCpu: 1 });
    expect([b.cmd, ...b.args.slice(0, 5)]).toEqual(['taskset', '-c', '1', 'env', 'TMPDIR=/w/tmp/uml', '/k/linux']);
    expect(bootCommand({ ...req, umlCpu: 0 }).args.slice(0, 3)).toEqual(['-c', '0', '/k/linux']);
    expect(umlCpuOption('none', 2)).toEqual({});
    expect(umlCpuOption('auto', 2)).toEqual({ umlCpu: 1 });
    expect(umlCpuOption('auto', 1)).toEqual({});
    expect(umlCpuOption('0', 2)).toEqual({ umlCpu: 0 });
    expect(() => umlCpuOption('2', 2)).toThrow(/--uml-cpu .* from 0 to 1, not '2'/);
    expect(() => umlCpuOption('x', 2)).toThrow(QkError);
  });
});
