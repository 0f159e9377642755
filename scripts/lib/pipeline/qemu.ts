/**
 * The emulator a run boots its QEMU backends with: the host's
 * qemu-system-x86, or a newer one built for this Debian release from the
 * registry (Debian 12: QEMU 10 from bookworm-backports). A registry QEMU
 * is fetched the way a registry kernel source is (debian.ts: the private apt
 * configuration, signatures and hashes checked, the host's apt sources
 * untouched), extracted with `dpkg-deb -x` into
 * `<work-dir>/tools/qemu-<version>/` together with its data and firmware
 * packages, and run from there with `-L` naming its own firmware
 * directories. Its libraries are ordinary packages of the host's release:
 * the host check installs them (hostcheck.ts), and `ldd` proves the binary
 * finds every one before anything boots.
 *
 * Why it matters: under multi-threaded TCG, QEMU 7.2 (Debian 12's own)
 * crashes healthy guests now and then (`Oops: int3` while the kernel
 * patches its code, DESIGN.md); QEMU 10 does not. So multi-threaded TCG is
 * the default only with QEMU >= 10.
 */
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { QkError } from '../plumbing/errors.ts';
import { z } from 'zod';
import { exists, readJson, writeJsonAtomic } from '../plumbing/fsutil.ts';
import { DebianRegistry, dpkgVersionIs, hostCodename, newestFirst, registryDir, type FetchedPackage, type RegistryVersion } from './debian.ts';
import { hostInstallRefusal, hostPackages, installCommand, which } from './hostcheck.ts';
import { acquireLock } from '../plumbing/lock.ts';
import { capture, spawn } from '../plumbing/proc.ts';
import type { Logger } from '../plumbing/log.ts';

/** Which QEMU a run uses: `auto` the registry's when it has QEMU >= 10 for this release (else the host's), or either on purpose. */
export const QEMU_CHOICES = ['auto', 'host', 'registry'] as const;
export type QemuChoice = (typeof QEMU_CHOICES)[number];

/** The first QEMU whose multi-threaded TCG no longer crashes healthy guests here: multi-threaded TCG is the default from it on. */
export const MULTI_TCG_MIN_MAJOR = 10;
export const QEMU_BINARY = 'qemu-system-x86_64';
export const QEMU_PACKAGE = 'qemu-system-x86';
/**
 * The packages extracted beside the binary: the emulator's own files and
 * its firmware. Every other dependency of qemu-system-x86 is a library the
 * host installs.
 */
export const QEMU_OWN_PACKAGES: readonly string[] = [QEMU_PACKAGE, 'qemu-system-common', 'qemu-system-data', 'seabios', 'ipxe-qemu'];
/** Firmware and data directories inside an extracted QEMU, searched in this order (`-L` each). */
const FIRMWARE_DIRS = ['usr/share/qemu', 'usr/share/seabios', 'usr/lib/ipxe/qemu'];

/* ---- versions -------------------------------------------------------------- */

export interface QemuVersion {
  readonly major: number;
  readonly minor: number;
  readonly micro: number;
}

/** `QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2...)` → 10.0.2. */
export function parseQemuVersion(text: string): QemuVersion | undefined {
  const m = /QEMU emulator version (\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  return m ? { major: Number(m[1]), minor: Number(m[2]), micro: Number(m[3] ?? 0) } : undefined;
}

/** A Debian package version of QEMU → its upstream version: `1:10.0.2+ds-2+deb13u1~bpo12+1` → 10.0.2, `1:7.2+dfsg-7` → 7.2.0. */
export function debianQemuVersion(version: string): QemuVersion | undefined {
  const m = /^(?:\d+:)?(\d+)\.(\d+)(?:\.(\d+))?/.exec(version);
  return m ? { major: Number(m[1]), minor: Number(m[2]), micro: Number(m[3] ?? 0) } : undefined;
}

export function formatQemuVersion(v: QemuVersion): string {
  return `${v.major}.${v.minor}.${v.micro}`;
}

/* ---- which QEMU a run uses, and what that means for TCG -------------------- */

/** The QEMU a run boots: how to start it, and where it came from. */
export interface Qemu {
  readonly source: 'host' | 'registry';
  /** The binary (an absolute path). */
  readonly binary: string;
  /** `-L` directories: its own firmware and data (none for the host's, which knows its own). */
  readonly firmware: readonly string[];
  /** The first line of `--version`. */
  readonly version: string;
  readonly parsed?: QemuVersion | undefined;
  /** Its packages: for the host's, the installed qemu-system-x86; for the registry's, every package extracted, with suite and sha256. */
  readonly packages: readonly { name: string; version: string; suite?: string; sha256?: string }[];
  /** Why this QEMU, when `auto` did not get the registry's. */
  readonly note?: string;
}

/** How a boot starts QEMU: the binary and its -L directories (the part of the command line that depends on which QEMU). */
export type QemuRun = Pick<Qemu, 'binary' | 'firmware'>;

/** A short name for messages: "QEMU 10.0.2 (registry: qemu-system-x86 1:10.0.2+ds-2...)". */
export function qemuLabel(q: Pick<Qemu, 'source' | 'parsed' | 'packages' | 'version'>): string {
  const v = q.parsed ? formatQemuVersion(q.parsed) : q.version;
  const pkg = q.packages.find((p) => p.name === QEMU_PACKAGE);
  const from = q.source === 'registry' ? `from the registry${pkg?.suite ? ` (${pkg.suite})` : ''}` : "the host's";
  return `QEMU ${v}, ${from}`;
}

/** QEMU TCG threading: one host thread per vCPU (multi), or the vCPUs taking turns on one (single). */
export type TcgThreads = 'single' | 'multi';

export interface TcgThreading {
  readonly threads: TcgThreads;
  /** Set when the default stayed single-threaded because of the QEMU: the one line the run prints. */
  readonly why?: string;
}

/**
 * TCG threading for normal kernels: an explicit --tcg-threads wins;
 * otherwise multi-threaded with QEMU >= 10, single-threaded (and why) below.
 */
export function tcgThreadsFor(qemu: Pick<Qemu, 'source' | 'parsed' | 'packages' | 'version' | 'note'> | undefined, explicit: TcgThreads | undefined): TcgThreading {
  if (explicit) return { threads: explicit };
  if (qemu?.parsed && qemu.parsed.major >= MULTI_TCG_MIN_MAJOR) return { threads: 'multi' };
  const which = qemu ? qemuLabel(qemu) : 'the QEMU version is unknown';
  return {
    threads: 'single',
    why:
      `tcg: single-threaded TCG (vCPUs take turns): ${which}, and before QEMU ${MULTI_TCG_MIN_MAJOR} multi-threaded TCG can crash a healthy guest ` +
      `(Oops: int3 while the kernel patches its code)${qemu?.note ? `; ${qemu.note}` : ''}. --tcg-threads multi forces it`,
  };
}

/* ---- the registry's QEMU: which packages ------------------------------------- */

export type VersionOp = '<<' | '<=' | '=' | '>=' | '>>';

export interface Dependency {
  readonly name: string;
  readonly op?: VersionOp;
  readonly version?: string;
}

/** A Depends field → its groups of alternatives: `a (>= 1), b | c` → [[a ≥ 1], [b, c]]. Architecture qualifiers are dropped. */
export function parseDepends(field: string): Dependency[][] {
  return field
    .split(',')
    .map((group) =>
      group
        .split('|')
        .map((alt) => /^\s*([a-z0-9][a-z0-9+.-]*)(?::\S+)?\s*(?:\(\s*(<<|<=|=|>=|>>)\s*([^)\s]+)\s*\))?/.exec(alt))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m): Dependency => (m[2] ? { name: m[1]!, op: m[2] as VersionOp, version: m[3]! } : { name: m[1]! })),
    )
    .filter((g) => g.length > 0);
}

/** A package version built for this release: its own suite or one of its updates (`bookworm`, `bookworm-security`, `bookworm-backports`). */
export function forRelease(v: Pick<RegistryVersion, 'suite'>, codename: string): boolean {
  return v.suite === codename || v.suite.startsWith(`${codename}-`);
}

const DPKG_OP = { '<<': 'lt', '<=': 'le', '=': 'eq', '>=': 'ge', '>>': 'gt' } as const;

/** Whether `version` satisfies a dependency's version constraint (dpkg's ordering). */
export async function satisfies(version: string, dep: Dependency): Promise<boolean> {
  if (!dep.op || !dep.version) return true;
  return dpkgVersionIs(version, DPKG_OP[dep.op], dep.version);
}

/** What the registry offers: every version of a package (newest first), and a version's control fields. */
export interface QemuRegistryView {
  versions(pkg: string): Promise<RegistryVersion[]>;
  control(v: RegistryVersion): Promise<Record<string, string>>;
}

export type QemuPackages =
  | { readonly ok: true; readonly packages: readonly RegistryVersion[]; readonly libraries: readonly string[]; readonly version: QemuVersion | undefined }
  | { readonly ok: false; readonly why: string };

/**
 * The newest qemu-system-x86 built for this release, and the packages to
 * extract with it: each of its own dependencies (QEMU_OWN_PACKAGES) at the
 * newest version for this release that satisfies the constraint; every
 * other dependency is a library, named for the host check (the first of
 * its alternatives).
 */
export async function chooseQemuPackages(reg: QemuRegistryView, codename: string): Promise<QemuPackages> {
  const qemu = (await reg.versions(QEMU_PACKAGE)).find((v) => forRelease(v, codename));
  if (!qemu) return { ok: false, why: `the registry has no ${QEMU_PACKAGE} built for ${codename}` };
  const depends = (await reg.control(qemu))['depends'];
  if (depends === undefined) return { ok: false, why: `the registry gave no Depends for ${QEMU_PACKAGE} ${qemu.version}` };
  const packages: RegistryVersion[] = [qemu];
  const libraries: string[] = [];
  for (const group of parseDepends(depends)) {
    const own = group.find((d) => QEMU_OWN_PACKAGES.includes(d.name));
    if (!own) {
      libraries.push(group[0]!.name);
      continue;
    }
    if (packages.some((p) => p.pkg === own.name)) continue;
    let pick: RegistryVersion | undefined;
    for (const v of (await reg.versions(own.name)).filter((x) => forRelease(x, codename))) {
      if (await satisfies(v.version, own)) {
        pick = v;
        break;
      }
    }
    if (!pick) return { ok: false, why: `${QEMU_PACKAGE} ${qemu.version} needs ${own.name}${own.op ? ` (${own.op} ${own.version})` : ''}, which the registry does not have for ${codename}` };
    packages.push(pick);
  }
  return { ok: true, packages, libraries, version: debianQemuVersion(qemu.version) };
}

/* ---- the registry's QEMU: extracted into the work directory ------------------- */

/** `<work-dir>/tools/qemu-<version>/qemu.json`: what was extracted there. */
export interface QemuInstall {
  /** The release the packages were built for (bookworm). */
  readonly release: string;
  readonly packages: readonly { name: string; version: string; suite: string; sha256: string }[];
  /** Debian packages of the libraries the binary needs (the host installs them). */
  readonly libraries: readonly string[];
  /** Absolute paths, filled in when read. */
  readonly root: string;
  readonly binary: string;
  readonly firmware: readonly string[];
}

const INSTALL_RECORD = 'qemu.json';
/** The install record as written: binary and firmware relative to the install's root. */
const InstallRecord = z.object({
  release: z.string(),
  packages: z.array(z.object({ name: z.string(), version: z.string(), suite: z.string(), sha256: z.string() })).readonly(),
  libraries: z.array(z.string()).readonly(),
  binary: z.string(),
  firmware: z.array(z.string()),
});

/** The qemu-system-x86 package version an extracted QEMU came from. */
function installVersion(i: Pick<QemuInstall, 'packages'>): string | undefined {
  return i.packages.find((p) => p.name === QEMU_PACKAGE)?.version;
}

export function toolsDir(workDir: string): string {
  return join(workDir, 'tools');
}

/** `1:10.0.2+ds-2+deb13u1~bpo12+1` → `<tools>/qemu-10.0.2+ds-2+deb13u1_bpo12+1` (no character a shell would want quoted in a reproducer). */
export function installDir(workDir: string, version: string): string {
  return join(toolsDir(workDir), `qemu-${version.replace(/^\d+:/, '').replace(/[^\w.+-]/g, '_')}`);
}

async function readInstall(root: string): Promise<QemuInstall | undefined> {
  const r = await readJson(join(root, INSTALL_RECORD), InstallRecord, { what: 'record of an extracted QEMU' });
  if (!r || !(await exists(join(root, r.binary)))) return undefined;
  return { ...r, root, binary: join(root, r.binary), firmware: r.firmware.map((d) => join(root, d)) };
}

/** The registry QEMUs extracted in this work directory for `release`, newest first: what a run uses without a network lookup. */
export async function installedQemus(workDir: string, release: string): Promise<QemuInstall[]> {
  const dirs = (await readdir(toolsDir(workDir), { withFileTypes: true }).catch(() => [])).filter((d) => d.isDirectory() && /^qemu-\d/.test(d.name) && !d.name.endsWith('.tmp'));
  const found = (await Promise.all(dirs.map((d) => readInstall(join(toolsDir(workDir), d.name))))).filter((x): x is QemuInstall => x !== undefined && x.release === release);
  const order = await newestFirst(found.map((i) => ({ pkg: QEMU_PACKAGE, version: installVersion(i) ?? '0', uri: i.root, suite: '' })));
  return order.map((o) => found.find((i) => i.root === o.uri)!);
}

/** Extract the fetched packages into one tree (as dpkg would install them, without installing), once. */
export async function extractQemu(workDir: string, fetched: readonly FetchedPackage[], o: { release: string; libraries: readonly string[]; logFile: string; log: Logger }): Promise<QemuInstall> {
  const main = fetched.find((f) => f.pkg === QEMU_PACKAGE);
  if (!main) throw new QkError('infra-error', `internal: no ${QEMU_PACKAGE} among the packages to extract`);
  const root = installDir(workDir, main.version);
  const release = await acquireLock(join(toolsDir(workDir), 'qemu-install'), { what: `the QEMU in ${toolsDir(workDir)}`, owner: `pid ${process.pid}`, log: o.log, waitMs: 30 * 60_000 });
  try {
    const done = await readInstall(root);
    if (done && done.packages.every((p) => fetched.some((f) => f.pkg === p.name && f.sha256 === p.sha256)) && done.packages.length === fetched.length) return done;
    const tmp = `${root}.tmp`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    for (const f of fetched) {
      await spawn('dpkg-deb', ['-x', f.deb, tmp], { what: `dpkg-deb -x ${f.pkg}`, logFile: o.logFile, failClass: 'infra-error', timeoutMs: 10 * 60_000 });
    }
    const binary = join('usr', 'bin', QEMU_BINARY);
    if (!(await exists(join(tmp, binary)))) throw new QkError('infra-error', `${QEMU_PACKAGE} ${main.version} has no ${binary}`, { logFile: o.logFile });
    const firmware: string[] = [];
    for (const d of FIRMWARE_DIRS) if (await exists(join(tmp, d))) firmware.push(d);
    await writeJsonAtomic(join(tmp, INSTALL_RECORD), {
      release: o.release,
      packages: fetched.map((f) => ({ name: f.pkg, version: f.version, suite: f.suite, sha256: f.sha256 })),
      libraries: o.libraries,
      binary,
      firmware,
    });
    await rm(root, { recursive: true, force: true });
    await rename(tmp, root);
    const out = await readInstall(root);
    if (!out) throw new QkError('infra-error', `internal: the QEMU extracted into ${root} cannot be read back`);
    return out;
  } finally {
    await release();
  }
}

/* ---- ldd: does the binary find its libraries? ----------------------------------- */

export interface LddProblem {
  /** The library (a soname: libslirp.so.0). */
  readonly library: string;
  /** `not found`, or the version ldd says is missing. */
  readonly what: string;
}

/** The libraries `ldd` could not resolve (`=> not found`), and symbol versions it found missing. */
export function lddProblems(output: string): LddProblem[] {
  const out: LddProblem[] = [];
  for (const line of output.split('\n')) {
    const nf = /^\s*(\S+)\s+=>\s+not found/.exec(line);
    if (nf) {
      out.push({ library: nf[1]!, what: 'not found' });
      continue;
    }
    const ver = /:\s+(?:\S*\/)?(\S+?):\s+version [`'](\S+)' not found/.exec(line);
    if (ver) out.push({ library: ver[1]!, what: `version ${ver[2]} not found` });
  }
  return out;
}

/**
 * The Debian package of a library, guessed from its soname among the
 * packages the binary depends on: libslirp.so.0 → libslirp0,
 * libglib-2.0.so.0 → libglib2.0-0, libjpeg.so.62 → libjpeg62-turbo.
 */
export function packageOfLibrary(soname: string, packages: readonly string[]): string | undefined {
  const m = /^(.+?)\.so\.?([\d.]*)$/.exec(soname);
  if (!m) return undefined;
  const key = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');
  const want = key(`${m[1]}${(m[2] ?? '').split('.')[0]}`);
  return packages.find((p) => key(p) === want) ?? packages.find((p) => key(p).startsWith(want));
}

/** The error for a binary whose libraries ldd could not resolve: each library, the package it is likely in, and the command. */
export function librariesError(binary: string, bad: readonly LddProblem[], libraries: readonly string[], details: string): QkError {
  const named = bad.map((b) => ({ ...b, pkg: packageOfLibrary(b.library, libraries) }));
  const pkgs = [...new Set(named.flatMap((b) => (b.pkg ? [b.pkg] : [])))];
  return new QkError('infra-error', `the registry's QEMU cannot run: ${named.map((b) => `${b.library} ${b.what}${b.pkg ? ` (package ${b.pkg})` : ''}`).join(', ')}`, {
    details: `ldd ${binary}:\n${details}`,
    hint:
      pkgs.length > 0
        ? `install or upgrade them from this Debian release: ${installCommand(pkgs, true)}; or run with --qemu host`
        : `its libraries come from these packages: ${libraries.join(' ')}; or run with --qemu host`,
  });
}

/** Check that the extracted binary finds every library; else an infra error naming them and their packages. */
export async function checkLibraries(install: Pick<QemuInstall, 'binary' | 'libraries'>, o: { logFile: string }): Promise<void> {
  const r = await spawn('ldd', [install.binary], { what: `ldd ${install.binary}`, logFile: o.logFile, allowFailure: true, failClass: 'infra-error' });
  const bad = lddProblems(r.output);
  if (bad.length > 0) throw librariesError(install.binary, bad, install.libraries, r.tail.join('\n'));
  // A static binary has no library to miss.
  if (r.exitCode !== 0 && !/not a dynamic executable/.test(r.output)) {
    throw new QkError('infra-error', `ldd ${install.binary} failed (exit ${r.exitCode})`, { details: r.tail.join('\n'), logFile: o.logFile });
  }
}

/* ---- putting it together: before the host check, and after it ------------------ */

/** What the run will use, decided before the host check (which installs the registry QEMU's libraries, or the host's QEMU). */
export type QemuPlan =
  | { readonly kind: 'host'; readonly note?: string }
  | { readonly kind: 'registry'; readonly install: QemuInstall; readonly cached: boolean };

export interface PrepareOptions {
  readonly choice: QemuChoice;
  readonly workDir: string;
  readonly allowInstall: boolean;
  readonly log: Logger;
  readonly logFile: string;
  /** Test seams: the release, the registry, the host's packages and QEMU. */
  readonly codename?: () => Promise<string>;
  readonly registry?: () => QemuRegistryView & { fetch(v: RegistryVersion): Promise<FetchedPackage> };
  readonly installed?: () => Promise<Map<string, string>>;
  readonly hostQemu?: () => Promise<string | undefined>;
  readonly installRefusal?: () => Promise<string | undefined>;
}

/**
 * Decide and fetch: `host` → the host's QEMU; `registry` → the newest
 * QEMU built for this release (fetched and extracted once, then reused
 * without a lookup); `auto` → the registry's when it is >= 10 and can run
 * here, else the host's with a note saying why. Failures of the registry
 * fail a `registry` run and turn an `auto` run to the host's QEMU.
 */
export async function prepareQemu(o: PrepareOptions): Promise<QemuPlan> {
  if (o.choice === 'host') return { kind: 'host', note: 'chosen with --qemu host' };
  const codename = await (o.codename ?? hostCodename)().catch((e: unknown) => {
    if (o.choice === 'registry') {
      throw new QkError('missing-dependency', `--qemu registry: ${e instanceof Error ? e.message : String(e)}`, { hint: "a registry QEMU is built for a Debian release; use the host's with --qemu host" });
    }
    return undefined;
  });
  if (codename === undefined) return { kind: 'host', note: 'this host is not Debian, so there is no registry QEMU built for it' };
  const auto = o.choice === 'auto';
  const good = (i: QemuInstall) => !auto || (debianQemuVersion(installVersion(i) ?? '')?.major ?? 0) >= MULTI_TCG_MIN_MAJOR;
  let install = (await installedQemus(o.workDir, codename)).find(good);
  const cached = install !== undefined;
  if (install) {
    o.log.info(`qemu: ${QEMU_PACKAGE} ${installVersion(install)} from the registry, extracted in ${install.root} (remove it to look for a newer one)`);
  } else {
    const reg = (o.registry ?? (() => new DebianRegistry(registryDir(o.workDir), { log: o.log, logFile: o.logFile })))();
    let chosen: QemuPackages;
    try {
      chosen = await chooseQemuPackages(reg, codename);
    } catch (e) {
      if (!auto || (e instanceof QkError && e.runClass === 'interrupted')) throw e;
      return { kind: 'host', note: `the registry's QEMU could not be looked up (${e instanceof Error ? e.message : String(e)})` };
    }
    if (!chosen.ok) {
      if (!auto) throw new QkError('infra-error', `--qemu registry: ${chosen.why}`, { hint: 'run with --qemu host (or auto)' });
      return { kind: 'host', note: chosen.why };
    }
    const v = chosen.version;
    if (auto && (!v || v.major < MULTI_TCG_MIN_MAJOR)) {
      return { kind: 'host', note: `the registry has no QEMU >= ${MULTI_TCG_MIN_MAJOR} built for ${codename} (newest: ${QEMU_PACKAGE} ${chosen.packages[0]!.version})` };
    }
    o.log.info(`qemu: ${chosen.packages.map((p) => `${p.pkg} ${p.version}`).join(', ')} (${chosen.packages[0]!.suite})`);
    try {
      const fetched: FetchedPackage[] = [];
      for (const p of chosen.packages) fetched.push(await reg.fetch(p));
      install = await extractQemu(o.workDir, fetched, { release: codename, libraries: chosen.libraries, logFile: o.logFile, log: o.log });
    } catch (e) {
      if (!auto || (e instanceof QkError && e.runClass === 'interrupted')) throw e;
      return { kind: 'host', note: `the registry's QEMU could not be fetched (${e instanceof Error ? e.message : String(e)})` };
    }
  }
  if (auto) {
    // Libraries the host check could not install: the host's QEMU, when there is one, rather than no run.
    const have = await (o.installed ?? hostPackages)();
    const missing = install.libraries.filter((l) => !have.has(l));
    const refusal = missing.length > 0 ? await (o.installRefusal ?? (() => hostInstallRefusal(o.allowInstall)))() : undefined;
    if (refusal && (await (o.hostQemu ?? (() => which(QEMU_BINARY)))()) !== undefined) {
      return { kind: 'host', note: `the registry's QEMU needs ${missing.join(' ')}, not installed (${refusal}; ${installCommand(missing, process.getuid?.() === 0)})` };
    }
  }
  return { kind: 'registry', install, cached };
}

/** The first line of a QEMU binary's `--version`. */
async function versionLine(binary: string, logFile: string): Promise<string> {
  return (await capture(binary, ['--version'], { what: `${binary} --version`, logFile, failClass: 'infra-error' })).split('\n')[0] ?? '';
}

/** After the host check: the binary runs (ldd, --version), and what the manifest records of it. */
export async function finishQemu(plan: QemuPlan, o: { logFile: string }): Promise<Qemu> {
  if (plan.kind === 'registry') {
    const i = plan.install;
    await checkLibraries(i, o);
    const version = await versionLine(i.binary, o.logFile);
    return { source: 'registry', binary: i.binary, firmware: i.firmware, version, parsed: parseQemuVersion(version), packages: i.packages };
  }
  const binary = await which(QEMU_BINARY);
  if (!binary) throw new QkError('missing-dependency', `${QEMU_BINARY} is not installed`, { hint: `apt-get install ${QEMU_PACKAGE}` });
  const version = await versionLine(binary, o.logFile);
  const installed = (await hostPackages()).get(QEMU_PACKAGE);
  return {
    source: 'host',
    binary,
    firmware: [],
    version,
    parsed: parseQemuVersion(version),
    packages: installed ? [{ name: QEMU_PACKAGE, version: installed }] : [],
    ...(plan.note ? { note: plan.note } : {}),
  };
}

/** The `-L` arguments and binary of a QEMU: the part of a boot's command line that depends on which QEMU. */
export function qemuRun(q: Qemu | undefined): QemuRun | undefined {
  return q ? { binary: q.binary, firmware: q.firmware } : undefined;
}
