/**
 * Host check: find every tool the pipeline needs; as root on Debian install
 * the missing packages, otherwise name the exact command and stop (exit 2).
 */
import { access, constants, readFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { QkError } from '../plumbing/errors.ts';
import { exists } from '../plumbing/fsutil.ts';
import { spawn, tryCapture } from '../plumbing/proc.ts';
import type { Logger } from '../plumbing/log.ts';
import { parseControlStanzas } from './debian.ts';

export interface Requirement {
  /** What we look for: a command on PATH, an absolute file, or an installed Debian package (a library). */
  readonly probe: { cmd: string } | { file: string } | { staticBinary: string } | { installed: string };
  readonly pkg: string;
  readonly why: string;
}

export const DEBIAN_SOURCE_TARBALL = '/usr/src/linux-source-6.12.tar.xz';

export interface HostNeeds {
  readonly needDebianSource: boolean;
  readonly needQemu: boolean;
  readonly qemuLibraries?: { packages: readonly string[]; why: string } | undefined;
  /** false: only QEMU's part (the run checks it once its QEMU is chosen, beside the source stage). */
  readonly baseTools?: boolean;
}

/**
 * What the host check looks for. `needQemu` asks for the host's QEMU, unless
 * the run uses QEMU from the registry (`qemuLibraries`): then the Debian 12
 * packages of the libraries that binary needs (qemu.ts).
 */
export function requirements(o: HostNeeds): Requirement[] {
  const r: Requirement[] = o.baseTools === false ? [] : [
    { probe: { cmd: 'git' }, pkg: 'git', why: 'base trees and the series' },
    { probe: { cmd: 'make' }, pkg: 'make', why: 'kernel build' },
    { probe: { cmd: 'gcc' }, pkg: 'gcc', why: 'kernel build' },
    { probe: { cmd: 'flex' }, pkg: 'flex', why: 'kernel build (Kconfig)' },
    { probe: { cmd: 'bison' }, pkg: 'bison', why: 'kernel build (Kconfig)' },
    { probe: { cmd: 'bc' }, pkg: 'bc', why: 'kernel build' },
    { probe: { cmd: 'perl' }, pkg: 'perl', why: 'kernel build, checkpatch' },
    { probe: { cmd: 'pahole' }, pkg: 'dwarves', why: 'kernel build (BTF)' },
    { probe: { file: '/usr/include/gelf.h' }, pkg: 'libelf-dev', why: 'kernel build (objtool)' },
    { probe: { file: '/usr/include/openssl/ssl.h' }, pkg: 'libssl-dev', why: 'kernel build (signing tools)' },
    { probe: { cmd: 'openssl' }, pkg: 'openssl', why: "kernel build (the module signing key of Debian's configs: distro and rt profiles)" },
    { probe: { cmd: 'ccache' }, pkg: 'ccache', why: 'incremental rebuilds across variants' },
    { probe: { cmd: 'xz' }, pkg: 'xz-utils', why: 'kernel source tarball' },
    { probe: { cmd: 'tar' }, pkg: 'tar', why: 'kernel source tarball' },
    { probe: { staticBinary: '/bin/busybox' }, pkg: 'busybox-static', why: 'guest userspace' },
    { probe: { cmd: 'cpio' }, pkg: 'cpio', why: 'guest image' },
    { probe: { cmd: 'ip' }, pkg: 'iproute2', why: 'guest network set-up' },
    { probe: { cmd: 'xtables-legacy-multi' }, pkg: 'iptables', why: 'iptables scenarios in the guest' },
    { probe: { file: '/usr/lib/x86_64-linux-gnu/libc.a' }, pkg: 'libc6-dev', why: 'the guest helper qk-net, linked statically' },
  ];
  if (o.needQemu && o.qemuLibraries) r.push(...o.qemuLibraries.packages.map((pkg) => ({ probe: { installed: pkg }, pkg, why: o.qemuLibraries!.why })));
  else if (o.needQemu) r.push({ probe: { cmd: 'qemu-system-x86_64' }, pkg: 'qemu-system-x86', why: 'QEMU backends (kvm, tcg, icount)' });
  if (o.needDebianSource) r.push({ probe: { file: DEBIAN_SOURCE_TARBALL }, pkg: 'linux-source-6.12', why: 'the default kernel source' });
  return r;
}

export async function which(cmd: string, pathEnv = process.env['PATH'] ?? ''): Promise<string | undefined> {
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export const DPKG_STATUS = '/var/lib/dpkg/status';

/** Installed packages and their versions, from dpkg's status file (no dpkg-query on PATH needed). */
export function installedPackages(statusText: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of parseControlStanzas(statusText)) {
    if (f['package'] && / installed$/.test(f['status'] ?? '')) out.set(f['package'], f['version'] ?? '');
  }
  return out;
}

/** The host's installed packages; empty where there is no dpkg. */
export async function hostPackages(): Promise<Map<string, string>> {
  return installedPackages(await readFile(DPKG_STATUS, 'utf8').catch(() => ''));
}

function probeLabel(r: Requirement): string {
  const p = r.probe;
  return 'cmd' in p ? p.cmd : 'file' in p ? p.file : 'staticBinary' in p ? p.staticBinary : `package ${p.installed}`;
}

async function satisfied(r: Requirement, installed: () => Promise<Map<string, string>>): Promise<boolean> {
  if ('installed' in r.probe) return (await installed()).has(r.probe.installed);
  if ('cmd' in r.probe) return (await which(r.probe.cmd)) !== undefined;
  if ('file' in r.probe) return exists(r.probe.file);
  if (!(await exists(r.probe.staticBinary))) return false;
  // A dynamically linked busybox would not run in the initramfs.
  const out = await tryCapture('file', ['-b', r.probe.staticBinary]);
  if (out !== undefined) return /statically linked|static-pie/.test(out);
  const ldd = await tryCapture('ldd', [r.probe.staticBinary]);
  return ldd === undefined || /not a dynamic executable/.test(ldd);
}

export async function missingPackages(reqs: readonly Requirement[]): Promise<Requirement[]> {
  let status: Promise<Map<string, string>> | undefined;
  const installed = () => (status ??= hostPackages());
  const res = await Promise.all(reqs.map(async (r) => ((await satisfied(r, installed)) ? undefined : r)));
  return res.filter((r): r is Requirement => r !== undefined);
}

export async function isDebian(): Promise<boolean> {
  return exists('/etc/debian_version');
}

export function installCommand(pkgs: readonly string[], asRoot: boolean): string {
  const sudo = asRoot ? '' : 'sudo ';
  return `${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends ${[...new Set(pkgs)].join(' ')}`;
}

/** Why the host check may not install packages itself (undefined: it may). */
export function installRefusal(o: { root: boolean; debian: boolean; allowInstall: boolean }): string | undefined {
  return !o.debian ? 'this is not a Debian system' : !o.root ? 'not running as root' : !o.allowInstall ? '--no-install was given' : undefined;
}

/** installRefusal for this process and host. */
export async function hostInstallRefusal(allowInstall: boolean): Promise<string | undefined> {
  return installRefusal({ root: process.getuid?.() === 0, debian: await isDebian(), allowInstall });
}

export interface HostCheckResult {
  readonly installed: readonly string[];
}

export async function hostCheck(o: HostNeeds & {
  allowInstall: boolean;
  log: Logger;
  logFile: string;
}): Promise<HostCheckResult> {
  return ensurePackages(requirements(o), o);
}

/** Find what `reqs` ask for; as root on Debian install what is missing, otherwise name the exact command and throw. */
export async function ensurePackages(reqs: readonly Requirement[], o: { allowInstall: boolean; log: Logger; logFile: string }): Promise<HostCheckResult> {
  const missing = await missingPackages(reqs);
  if (missing.length === 0) return { installed: [] };
  const pkgs = [...new Set(missing.map((m) => m.pkg))];
  const root = process.getuid?.() === 0;
  const debian = await isDebian();
  const list = missing.map((m) => `  ${probeLabel(m)}${'installed' in m.probe ? '' : ` (${m.pkg})`}: ${m.why}`).join('\n');
  const why = installRefusal({ root, debian, allowInstall: o.allowInstall });
  if (why) {
    throw new QkError('missing-dependency', `missing host tools (${why}):\n${list}`, {
      hint: debian ? `install them with:\n  ${installCommand(pkgs, root)}` : `install the equivalents of these Debian packages: ${pkgs.join(' ')}`,
    });
  }
  o.log.info(`host check: installing ${pkgs.join(' ')} (apt-get, log: ${o.logFile})`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await spawn('apt-get', ['update', '-q'], { what: 'apt-get update', env, logFile: o.logFile, timeoutMs: 15 * 60_000, failClass: 'missing-dependency', hint: `run by hand: ${installCommand(pkgs, true)}` });
  await spawn('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...pkgs], {
    what: `apt-get install ${pkgs.join(' ')}`,
    env,
    logFile: o.logFile,
    timeoutMs: 30 * 60_000,
    failClass: 'missing-dependency',
    hint: `run by hand: ${installCommand(pkgs, true)}`,
  });
  const still = await missingPackages(reqs);
  if (still.length > 0) {
    throw new QkError('missing-dependency', `still missing after apt-get install: ${still.map((s) => s.pkg).join(' ')}`, { logFile: o.logFile });
  }
  return { installed: pkgs };
}

export async function osRelease(): Promise<string> {
  try {
    const t = await readFile('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(t)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
