/**
 * The emulator (scripts/lib/pipeline/qemu.ts): which QEMU a run uses, what its
 * version means for TCG threading, how a boot's command line names it, and
 * the registry lookup on recorded apt output (no network; the packages a
 * test extracts are small .debs it builds itself).
 */
import { readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseControl, parseMadison, newestFirst, type FetchedPackage, type RegistryVersion } from '../../scripts/lib/pipeline/debian.ts';
import {
  chooseQemuPackages,
  debianQemuVersion,
  finishQemu,
  forRelease,
  installDir,
  lddProblems,
  librariesError,
  packageOfLibrary,
  parseDepends,
  parseQemuVersion,
  prepareQemu,
  tcgThreadsFor,
  type Qemu,
  type QemuInstall,
} from '../../scripts/lib/pipeline/qemu.ts';
import { bootCommand, qemuArgs } from '../../scripts/lib/pipeline/boot.ts';
import { bootRequest, bootSettings } from '../../scripts/lib/pipeline/pipeline.ts';
import { buildCommand, optionsFromFlags } from '../../scripts/lib/commands/cli.ts';
import { installedPackages, requirements } from '../../scripts/lib/pipeline/hostcheck.ts';
import { captureLogger } from '../../scripts/lib/plumbing/log.ts';
import type { ImageResult } from '../../scripts/lib/pipeline/image.ts';
import { shellQuote } from '../../scripts/lib/plumbing/quote.ts';
import { useTempDir } from './tempdir.ts';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'apt');
const fixture = (name: string) => readFileSync(join(FIX, name), 'utf8');

const V10 = '1:10.0.2+ds-2+deb13u1~bpo12+1';
const V72 = '1:7.2+dfsg-7+deb12u18+b3';

const registryQemu: Qemu = {
  source: 'registry',
  binary: '/w/tools/qemu-10.0.2/usr/bin/qemu-system-x86_64',
  firmware: ['/w/tools/qemu-10.0.2/usr/share/qemu', '/w/tools/qemu-10.0.2/usr/share/seabios'],
  version: `QEMU emulator version 10.0.2 (Debian ${V10})`,
  parsed: { major: 10, minor: 0, micro: 2 },
  packages: [{ name: 'qemu-system-x86', version: V10, suite: 'bookworm-backports', sha256: 'ab' }],
};
const hostQemu: Qemu = {
  source: 'host',
  binary: '/usr/bin/qemu-system-x86_64',
  firmware: [],
  version: 'QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)',
  parsed: { major: 7, minor: 2, micro: 22 },
  packages: [{ name: 'qemu-system-x86', version: V72 }],
};

describe('QEMU versions and the TCG threading they allow', () => {
  it('reads the version QEMU prints and the version of its Debian package', () => {
    expect(parseQemuVersion(registryQemu.version)).toEqual({ major: 10, minor: 0, micro: 2 });
    expect(parseQemuVersion('QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022')).toEqual({ major: 7, minor: 2, micro: 22 });
    expect(parseQemuVersion('QEMU emulator version 9.1')).toEqual({ major: 9, minor: 1, micro: 0 });
    expect(parseQemuVersion('qemu-img version 10.0.2')).toBeUndefined();
    expect(debianQemuVersion(V10)).toEqual({ major: 10, minor: 0, micro: 2 });
    expect(debianQemuVersion(V72)).toEqual({ major: 7, minor: 2, micro: 0 });
    expect(debianQemuVersion('10.1.0-1')).toEqual({ major: 10, minor: 1, micro: 0 });
  });

  it('runs TCG multi-threaded by default from QEMU 10 on, single-threaded below, and an explicit choice wins', () => {
    expect(tcgThreadsFor(registryQemu, undefined)).toEqual({ threads: 'multi' });
    expect(tcgThreadsFor({ ...registryQemu, parsed: { major: 11, minor: 1, micro: 3 } }, undefined).threads).toBe('multi');
    expect(tcgThreadsFor(hostQemu, undefined).threads).toBe('single');
    expect(tcgThreadsFor({ ...hostQemu, parsed: { major: 9, minor: 2, micro: 4 } }, undefined).threads).toBe('single');
    expect(tcgThreadsFor(registryQemu, 'single')).toEqual({ threads: 'single' });
    expect(tcgThreadsFor(hostQemu, 'multi')).toEqual({ threads: 'multi' });
    // A QEMU whose version could not be read is not trusted with multi-threaded TCG.
    expect(tcgThreadsFor({ ...registryQemu, parsed: undefined }, undefined).threads).toBe('single');
    expect(tcgThreadsFor(undefined, undefined).threads).toBe('single');
  });

  it('says in one line why TCG stays single-threaded: which QEMU, why it matters, why this QEMU, how to override', () => {
    const why = tcgThreadsFor({ ...hostQemu, note: "the registry's QEMU needs libslirp0, not installed (--no-install was given)" }, undefined).why!;
    expect(why.split('\n')).toHaveLength(1);
    expect(why).toMatch(/^tcg: single-threaded TCG/);
    expect(why).toContain("QEMU 7.2.22, the host's");
    expect(why).toContain('before QEMU 10');
    expect(why).toContain('Oops: int3');
    expect(why).toContain('libslirp0, not installed (--no-install was given)');
    expect(why).toContain('--tcg-threads multi');
    // Nothing to explain when the QEMU allows multi, or the user chose.
    expect(tcgThreadsFor(registryQemu, undefined).why).toBeUndefined();
    expect(tcgThreadsFor(hostQemu, 'single').why).toBeUndefined();
  });
});

describe('the command line of a QEMU boot', () => {
  const image: ImageResult = { kind: 'initramfs', path: '/k/i.cpio', init: '/init', moduleDir: '/qk/modules', key: 'k', cached: true };
  const guest = { run: 'r', variant: 'baseline', backend: 'tcg' as const, modules: [], attempt: 1 };
  const request = { kernel: '/k/bzImage', image, smp: 2, memoryMB: 1024, guest, extraCmdline: ['x=1'] };

  it('names the QEMU binary and its own firmware directories, and runs TCG multi-threaded when asked', () => {
    const b = bootCommand({ ...request, backend: 'tcg', tcgThreads: 'multi', qemu: registryQemu });
    expect(b.cmd).toBe(registryQemu.binary);
    expect(b.args.slice(0, 4)).toEqual(['-L', registryQemu.firmware[0], '-L', registryQemu.firmware[1]]);
    expect(b.args).toContain('tcg,thread=multi');
    const repro = shellQuote([b.cmd, ...b.args]);
    expect(repro).toMatch(/^\/w\/tools\/qemu-10\.0\.2\/usr\/bin\/qemu-system-x86_64 -L \/w\/tools\/qemu-10\.0\.2\/usr\/share\/qemu -L \/w\/tools\/qemu-10\.0\.2\/usr\/share\/seabios -nodefaults /);
    // The host's QEMU: its binary, no -L (it knows its own firmware).
    const h = bootCommand({ ...request, backend: 'tcg', tcgThreads: 'single', qemu: hostQemu });
    expect(h.cmd).toBe('/usr/bin/qemu-system-x86_64');
    expect(h.args).not.toContain('-L');
    expect(h.args).toContain('tcg,thread=single');
  });

  it('gives TCG guests (tcg, icount) no_timer_check, and KVM guests not', () => {
    const append = (args: string[]) => args[args.indexOf('-append') + 1]!.split(' ');
    for (const backend of ['tcg', 'icount'] as const) {
      expect(append(bootCommand({ ...request, backend, tcgThreads: 'multi', qemu: registryQemu }).args), backend).toContain('no_timer_check');
    }
    expect(append(bootCommand({ ...request, backend: 'kvm', tcgThreads: 'single', qemu: registryQemu }).args)).not.toContain('no_timer_check');
    // Before the guest's own arguments, so a user's --append still comes last.
    const a = append(qemuArgs({ backend: 'tcg', kernel: '/k', initrd: '/i', smp: 2, memoryMB: 512, cmdline: ['qk_run=r'] }));
    expect(a).toEqual(['console=ttyS0', 'panic=-1', 'rdinit=/init', 'no_timer_check', 'qk_run=r']);
    // icount stays single-threaded whatever the QEMU.
    expect(bootCommand({ ...request, backend: 'icount', tcgThreads: 'multi', qemu: registryQemu }).args).toContain('tcg,thread=single');
  });

  it("boots normal kernels with the run's threading and its QEMU, checker kernels single-threaded", () => {
    const cmd = buildCommand();
    cmd.parse(['--backend', 'tcg'], { from: 'user' });
    const opts = optionsFromFlags(cmd.opts(), ['--backend', 'tcg']);
    const kernel = { kb: { image: '/k/bzImage' }, image, kunit: [] } as unknown as Parameters<typeof bootRequest>[1];
    const side = opts.sides[0]!;
    const req = (flavor: 'normal' | 'debug') =>
      bootRequest({ seq: 0, round: 0, position: 0, flavor, backend: 'tcg', side, purpose: 'bench' }, kernel, { patched: { dir: '/s', patches: [], hash: 'h', configFragments: [], kunitModules: [], cmdline: [] } }, 1, {
        boot: bootSettings(opts),
        emulator: { qemu: registryQemu, tcgThreads: 'multi' },
        rec: { logs: '/r/logs' },
        signal: new AbortController().signal,
      });
    expect(req('normal')).toMatchObject({ tcgThreads: 'multi', qemu: { binary: registryQemu.binary, firmware: registryQemu.firmware } });
    expect(req('debug').tcgThreads).toBe('single');
    expect(bootCommand(req('debug')).cmd).toBe(registryQemu.binary);
  });
});

/** The registry as apt answered on a Debian 12 host (fixtures), with .debs built on the spot. */
function fakeRegistry(dir: string, o: { madison?: string; fail?: boolean } = {}) {
  const all = parseMadison(o.madison ?? fixture('madison-qemu.txt'));
  const shows: Record<string, string> = { [V10]: fixture('show-qemu-system-x86-10.0.txt'), [V72]: fixture('show-qemu-system-x86-7.2.txt') };
  const fetched: string[] = [];
  return {
    fetched,
    async versions(pkg: string): Promise<RegistryVersion[]> {
      if (o.fail) throw new Error('the Debian registry could not be reached');
      return newestFirst(all.filter((v) => v.pkg === pkg));
    },
    async control(v: RegistryVersion) {
      return parseControl(shows[v.version] ?? '');
    },
    async fetch(v: RegistryVersion): Promise<FetchedPackage> {
      fetched.push(`${v.pkg}=${v.version}`);
      const root = join(dir, 'build', v.pkg);
      await mkdir(join(root, 'DEBIAN'), { recursive: true });
      await writeFile(join(root, 'DEBIAN', 'control'), `Package: ${v.pkg}\nVersion: ${v.version}\nArchitecture: all\nMaintainer: test <t@t>\nDescription: test\n`);
      const files: Record<string, string> = {
        'qemu-system-x86': `usr/bin/qemu-system-x86_64`,
        'qemu-system-data': 'usr/share/qemu/linuxboot_dma.bin',
        'qemu-system-common': 'usr/lib/qemu/qemu-bridge-helper',
        seabios: 'usr/share/seabios/bios-256k.bin',
        'ipxe-qemu': 'usr/lib/ipxe/qemu/efi-virtio.rom',
      };
      const f = join(root, files[v.pkg]!);
      await mkdir(join(f, '..'), { recursive: true });
      // A stand-in for QEMU: prints what QEMU prints (a script: ldd finds no library to miss).
      await writeFile(f, v.pkg === 'qemu-system-x86' ? `#!/bin/sh\necho 'QEMU emulator version ${debianQemuVersion(v.version)!.major}.${debianQemuVersion(v.version)!.minor}.${debianQemuVersion(v.version)!.micro} (Debian ${v.version})'\n` : 'x');
      await chmod(f, 0o755);
      const deb = join(dir, `${v.pkg}.deb`);
      execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '-b', root, deb], { stdio: 'ignore' });
      return { pkg: v.pkg, version: v.version, suite: v.suite, sha256: `sha-${v.pkg}-${v.version}`, deb, root: '' };
    },
  };
}

describe("the registry's QEMU, on recorded apt output", () => {
  it('takes the newest qemu-system-x86 built for this release, with its own packages at versions that satisfy it', async () => {
    const reg = fakeRegistry('/nonexistent');
    const c = await chooseQemuPackages(reg, 'bookworm');
    if (!c.ok) throw new Error(c.why);
    // Not trixie's 10.0.13 (stable) or 11.1 (stable-backports, testing, unstable): built for Debian 13, they need its libc.
    expect(c.packages.map((p) => `${p.pkg} ${p.version} ${p.suite}`)).toEqual([
      `qemu-system-x86 ${V10} bookworm-backports`,
      `qemu-system-common ${V10} bookworm-backports`,
      `qemu-system-data ${V10} bookworm-backports`,
      // seabios (>> 1.16.3-1~): the backport, not bookworm's 1.16.2-1.
      'seabios 1.16.3-2~bpo12+1 bookworm-backports',
      'ipxe-qemu 1.0.0+git-20190125.36a4c85-5.1 bookworm',
    ]);
    expect(c.version).toEqual({ major: 10, minor: 0, micro: 2 });
    expect(c.libraries).toContain('libslirp0');
    expect(c.libraries).toContain('zlib1g');
    expect(c.libraries).toHaveLength(26);
    expect(c.libraries.some((l) => l.startsWith('qemu-') || l === 'seabios' || l === 'ipxe-qemu')).toBe(false);
  });

  it('filters by release and reads Depends with alternatives and constraints', () => {
    expect(forRelease({ suite: 'bookworm-backports' }, 'bookworm')).toBe(true);
    expect(forRelease({ suite: 'bookworm-security' }, 'bookworm')).toBe(true);
    expect(forRelease({ suite: 'stable-backports' }, 'bookworm')).toBe(false);
    expect(forRelease({ suite: 'trixie' }, 'bookworm')).toBe(false);
    expect(parseDepends('libc6 (>= 2.34), qemu-system-any (= 1:10.0.2) | qemu-utils, libfoo1:any, seabios (>> 1.16.3-1~)')).toEqual([
      [{ name: 'libc6', op: '>=', version: '2.34' }],
      [{ name: 'qemu-system-any', op: '=', version: '1:10.0.2' }, { name: 'qemu-utils' }],
      [{ name: 'libfoo1' }],
      [{ name: 'seabios', op: '>>', version: '1.16.3-1~' }],
    ]);
  });

  it('refuses a firmware package too old for the QEMU: Debian 12 itself has seabios 1.16.2, QEMU 10 wants >> 1.16.3-1~', async () => {
    const noBackportedBios = fixture('madison-qemu.txt').split('\n').filter((l) => !(/seabios/.test(l) && /bookworm-backports/.test(l))).join('\n');
    expect(await chooseQemuPackages(fakeRegistry('/nonexistent', { madison: noBackportedBios }), 'bookworm')).toEqual({
      ok: false,
      why: `qemu-system-x86 ${V10} needs seabios (>> 1.16.3-1~), which the registry does not have for bookworm`,
    });
  });

  it('says so when the release has no qemu-system-x86 at all', async () => {
    expect(await chooseQemuPackages(fakeRegistry('/nonexistent'), 'buster')).toEqual({ ok: false, why: 'the registry has no qemu-system-x86 built for buster' });
  });
});

describe('preparing the QEMU of a run', () => {
  const tmp = useTempDir('qk-qemu-');
  const LIBS = parseDepends(parseControl(fixture('show-qemu-system-x86-10.0.txt'))['depends']!).map((g) => g[0]!.name);
  const base = (workDir: string, reg: ReturnType<typeof fakeRegistry>, extra: Partial<Parameters<typeof prepareQemu>[0]> = {}) => ({
    choice: 'auto' as const,
    workDir,
    allowInstall: true,
    log: captureLogger(),
    logFile: join(workDir, 'qemu.log'),
    codename: async () => 'bookworm',
    registry: () => reg,
    installed: async () => new Map(LIBS.map((l) => [l, '1'])),
    hostQemu: async () => '/usr/bin/qemu-system-x86_64',
    installRefusal: async () => undefined,
    ...extra,
  });

  it('auto: fetches QEMU 10, extracts it into <work-dir>/tools/, and reuses it next time without a lookup', async () => {
    const work = join(tmp(), 'work');
    const reg = fakeRegistry(tmp());
    const p = await prepareQemu(base(work, reg));
    if (p.kind !== 'registry') throw new Error(`expected the registry's QEMU, got the host's: ${p.note}`);
    expect(p.cached).toBe(false);
    const root = installDir(work, V10);
    expect(root).toBe(join(work, 'tools', 'qemu-10.0.2+ds-2+deb13u1_bpo12+1'));
    expect(shellQuote([join(root, 'usr/bin/qemu-system-x86_64')])).not.toMatch(/'/);
    expect(p.install).toMatchObject<Partial<QemuInstall>>({
      root,
      release: 'bookworm',
      binary: join(root, 'usr/bin/qemu-system-x86_64'),
      firmware: [join(root, 'usr/share/qemu'), join(root, 'usr/share/seabios'), join(root, 'usr/lib/ipxe/qemu')],
    });
    expect(p.install.packages.map((x) => x.name)).toEqual(['qemu-system-x86', 'qemu-system-common', 'qemu-system-data', 'seabios', 'ipxe-qemu']);
    expect(p.install.packages[0]).toEqual({ name: 'qemu-system-x86', version: V10, suite: 'bookworm-backports', sha256: `sha-qemu-system-x86-${V10}` });
    expect(JSON.parse(await readFile(join(root, 'qemu.json'), 'utf8')).binary).toBe('usr/bin/qemu-system-x86_64');

    // Offline now: the extracted QEMU is used as it is.
    const again = await prepareQemu(base(work, fakeRegistry(tmp(), { fail: true })));
    expect(again).toMatchObject({ kind: 'registry', cached: true, install: { root } });

    // What the manifest records, and what the boots run.
    const q = await finishQemu(again, { logFile: join(tmp(), 'qemu.log') });
    expect(q).toMatchObject({ source: 'registry', binary: join(root, 'usr/bin/qemu-system-x86_64'), version: `QEMU emulator version 10.0.2 (Debian ${V10})`, parsed: { major: 10 } });
    expect(q.packages.find((x) => x.name === 'seabios')).toMatchObject({ version: '1.16.3-2~bpo12+1', suite: 'bookworm-backports' });
    expect(tcgThreadsFor(q, undefined).threads).toBe('multi');
  });

  it("auto: the host's QEMU when the registry has none >= 10 for this release, or cannot be reached, saying why", async () => {
    const only72 = fixture('madison-qemu.txt').split('\n').filter((l) => !/bookworm-backports/.test(l) || /seabios/.test(l)).join('\n');
    const p = await prepareQemu(base(join(tmp(), 'w1'), fakeRegistry(tmp(), { madison: only72 })));
    expect(p).toEqual({ kind: 'host', note: `the registry has no QEMU >= 10 built for bookworm (newest: qemu-system-x86 ${V72})` });
    const down = await prepareQemu(base(join(tmp(), 'w2'), fakeRegistry(tmp(), { fail: true })));
    expect(down).toMatchObject({ kind: 'host', note: expect.stringMatching(/could not be looked up \(the Debian registry could not be reached\)/) });
    // --qemu registry takes what the release has, and fails when the registry does.
    const r72 = await prepareQemu(base(join(tmp(), 'w3'), fakeRegistry(tmp(), { madison: only72 }), { choice: 'registry' }));
    expect(r72.kind === 'registry' && r72.install.packages[0]).toMatchObject({ name: 'qemu-system-x86', version: V72, suite: 'bookworm' });
    await expect(prepareQemu(base(join(tmp(), 'w4'), fakeRegistry(tmp(), { fail: true }), { choice: 'registry' }))).rejects.toThrow(/could not be reached/);
    // Not Debian: auto takes the host's QEMU, --qemu registry cannot be done.
    const notDebian = async () => { throw new Error('this host is not Debian'); };
    expect(await prepareQemu(base(join(tmp(), 'w6'), fakeRegistry(tmp()), { codename: notDebian }))).toMatchObject({ kind: 'host', note: expect.stringMatching(/not Debian/) });
    await expect(prepareQemu(base(join(tmp(), 'w7'), fakeRegistry(tmp()), { codename: notDebian, choice: 'registry' }))).rejects.toThrow(/^--qemu registry: this host is not Debian$/);
    // --qemu host: no lookup at all.
    const reg = fakeRegistry(tmp());
    expect(await prepareQemu(base(join(tmp(), 'w5'), reg, { choice: 'host' }))).toEqual({ kind: 'host', note: 'chosen with --qemu host' });
    expect(reg.fetched).toEqual([]);
  });

  it("auto with --no-install and QEMU 10's libraries missing: the host's QEMU if it has one, else the libraries for the host check to name", async () => {
    const missing = async () => new Map(LIBS.filter((l) => l !== 'libslirp0' && l !== 'libpmem1').map((l) => [l, '1']));
    const refusal = async () => '--no-install was given';
    const p = await prepareQemu(base(join(tmp(), 'w1'), fakeRegistry(tmp()), { installed: missing, installRefusal: refusal }));
    expect(p.kind).toBe('host');
    expect(p.kind === 'host' && p.note).toMatch(/needs libpmem1 libslirp0, not installed \(--no-install was given; .*apt-get install -y --no-install-recommends libpmem1 libslirp0\)$/);
    // No host QEMU either: the registry's, whose libraries the host check then names with the command.
    const q = await prepareQemu(base(join(tmp(), 'w2'), fakeRegistry(tmp()), { installed: missing, installRefusal: refusal, hostQemu: async () => undefined }));
    expect(q.kind).toBe('registry');
    const reqs = requirements({ needDebianSource: false, needQemu: true, qemuLibraries: { packages: q.kind === 'registry' ? q.install.libraries : [], why: 'QEMU 10' } });
    expect(reqs.filter((r) => 'installed' in r.probe).map((r) => r.pkg)).toEqual(LIBS.filter((l) => !/^(qemu-|seabios|ipxe)/.test(l)));
    expect(reqs.some((r) => r.pkg === 'qemu-system-x86')).toBe(false);
    // Installing allowed: the registry's, and the host check installs what is missing.
    expect((await prepareQemu(base(join(tmp(), 'w3'), fakeRegistry(tmp()), { installed: missing }))).kind).toBe('registry');
  });
});

describe("the registry's QEMU and its libraries", () => {
  it('reads what ldd could not resolve', () => {
    const out = [
      '\tlinux-vdso.so.1 (0x00007ffd)',
      '\tlibslirp.so.0 => not found',
      '\tlibglib-2.0.so.0 => /lib/x86_64-linux-gnu/libglib-2.0.so.0 (0x00007f)',
      '\tlibpmem.so.1 => not found',
      "/w/qemu: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found (required by /w/qemu)",
    ].join('\n');
    expect(lddProblems(out)).toEqual([
      { library: 'libslirp.so.0', what: 'not found' },
      { library: 'libpmem.so.1', what: 'not found' },
      { library: 'libc.so.6', what: 'version GLIBC_2.38 not found' },
    ]);
    expect(lddProblems('\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1)\n')).toEqual([]);
  });

  it('names the package a missing library is in', () => {
    const libs = ['libaio1', 'libglib2.0-0', 'libpixman-1-0', 'libjpeg62-turbo', 'libfuse3-3', 'libpng16-16', 'libsasl2-2', 'libslirp0', 'libc6', 'zlib1g'];
    expect(packageOfLibrary('libslirp.so.0', libs)).toBe('libslirp0');
    expect(packageOfLibrary('libglib-2.0.so.0', libs)).toBe('libglib2.0-0');
    expect(packageOfLibrary('libpixman-1.so.0', libs)).toBe('libpixman-1-0');
    expect(packageOfLibrary('libjpeg.so.62', libs)).toBe('libjpeg62-turbo');
    expect(packageOfLibrary('libfuse3.so.3', libs)).toBe('libfuse3-3');
    expect(packageOfLibrary('libpng16.so.16', libs)).toBe('libpng16-16');
    expect(packageOfLibrary('libsasl2.so.2', libs)).toBe('libsasl2-2');
    expect(packageOfLibrary('libc.so.6', libs)).toBe('libc6');
    expect(packageOfLibrary('libz.so.1', libs)).toBeUndefined();
  });

  it('fails with an infra error that names each missing library, its package and the command', () => {
    const e = librariesError('/w/qemu', [{ library: 'libslirp.so.0', what: 'not found' }, { library: 'libz.so.1', what: 'not found' }], ['libslirp0', 'zlib1g'], 'ldd output');
    expect(e.runClass).toBe('infra-error');
    expect(e.message).toBe("the registry's QEMU cannot run: libslirp.so.0 not found (package libslirp0), libz.so.1 not found");
    expect(e.hint).toContain('apt-get install -y --no-install-recommends libslirp0');
    expect(e.hint).toContain('--qemu host');
  });

  it("checks libraries by dpkg's status file, with no dpkg-query on PATH", () => {
    const status = [
      'Package: libslirp0', 'Status: install ok installed', 'Architecture: amd64', 'Version: 4.7.0-1', '',
      'Package: libpmem1', 'Status: deinstall ok config-files', 'Version: 1.12.1-2', '',
      'Package: zlib1g', 'Status: install ok installed', 'Version: 1:1.2.13.dfsg-1', 'Description: compression', ' library', '',
    ].join('\n');
    expect([...installedPackages(status)]).toEqual([['libslirp0', '4.7.0-1'], ['zlib1g', '1:1.2.13.dfsg-1']]);
    // The host's QEMU is wanted only when the run does not use the registry's.
    expect(requirements({ needDebianSource: false, needQemu: true }).some((r) => r.pkg === 'qemu-system-x86')).toBe(true);
  });

  it("splits the host check: the base tools first, QEMU's part once its QEMU is chosen", () => {
    const libs = { packages: ['libslirp0', 'libpmem1'], why: 'QEMU 10' };
    const base = requirements({ needDebianSource: true, needQemu: false });
    const qemuPart = requirements({ needDebianSource: false, needQemu: true, baseTools: false, qemuLibraries: libs });
    expect(qemuPart.map((r) => r.pkg)).toEqual(['libslirp0', 'libpmem1']);
    expect(requirements({ needDebianSource: false, needQemu: true, baseTools: false }).map((r) => r.pkg)).toEqual(['qemu-system-x86']);
    // Together they are the one-call check: nothing lost in the split.
    const whole = requirements({ needDebianSource: true, needQemu: true, qemuLibraries: libs });
    expect([...base, ...qemuPart].map((r) => r.pkg).sort()).toEqual(whole.map((r) => r.pkg).sort());
    expect(base.some((r) => r.pkg === 'linux-source-6.12')).toBe(true);
  });
});
