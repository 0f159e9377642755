/**
 * Debian packages from the registry this machine already uses, through a
 * private apt configuration kept in the work directory: its own sources
 * list, package lists, cache and (empty) dpkg status. The host's apt state
 * is never read for packages nor written; only its sources are read, for
 * the mirror and the keyring. apt checks the archive's signature on every
 * update (InRelease against the keyring) and each download's hash against
 * the signed index; `dpkg-deb -x` extracts without installing.
 *
 * Suites are not hard-coded by codename: besides the host's own, the
 * mirror's aliases (stable, stable-backports, testing, unstable) and the
 * host codename's backports are listed, and a lookup takes the newest
 * version any of them has.
 */
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { QkError } from '../plumbing/errors.ts';
import { z } from 'zod';
import { exists, readJson, sha256File, writeJsonAtomic } from '../plumbing/fsutil.ts';
import { spawn } from '../plumbing/proc.ts';
import { acquireLock } from '../plumbing/lock.ts';
import type { Logger } from '../plumbing/log.ts';

/** One apt source: a mirror URI with its suites, components and keyring. */
export interface AptSource {
  readonly uri: string;
  readonly suites: readonly string[];
  readonly components: readonly string[];
  readonly signedBy?: string;
}

/** A version of a package on the registry, as `apt-cache madison` lists it. */
export interface RegistryVersion {
  readonly pkg: string;
  readonly version: string;
  readonly uri: string;
  readonly suite: string;
}

/** A downloaded and extracted package: what a run records. */
export const FetchedPackage = z.object({
  pkg: z.string(),
  version: z.string(),
  suite: z.string(),
  sha256: z.string(),
  /** The .deb file. */
  deb: z.string(),
  /** Where `dpkg-deb -x` put its files. */
  root: z.string(),
}).readonly();
export type FetchedPackage = z.infer<typeof FetchedPackage>;
const FETCHED = { what: 'record of a fetched package' };

export const HOST_SOURCES = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'] as const;
const DEFAULT_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
/** The mirror's own names for its suites; which release each is today is the mirror's business. */
const ALIAS_SUITES = ['stable', 'stable-backports', 'testing', 'unstable'] as const;

/** Parse deb822 (`.sources`) text: the stanzas of type deb. */
export function parseDeb822Sources(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#')) continue;
      const m = /^([\w-]+):\s*(.*)$/.exec(line);
      if (m) {
        last = m[1]!.toLowerCase();
        fields.set(last, m[2]!.trim());
      } else if (/^\s/.test(line) && last) fields.set(last, `${fields.get(last)} ${line.trim()}`.trim());
    }
    const words = (k: string) => (fields.get(k) ?? '').split(/\s+/).filter(Boolean);
    if (!words('types').includes('deb') || (fields.get('enabled') ?? 'yes') === 'no') continue;
    const signedBy = fields.get('signed-by');
    for (const uri of words('uris')) {
      out.push({ uri, suites: words('suites'), components: words('components'), ...(signedBy && signedBy.startsWith('/') ? { signedBy } : {}) });
    }
  }
  return out;
}

/** Parse one-line `sources.list` text: `deb [options] URI SUITE COMPONENT...`. */
export function parseOneLineSources(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const signedBy = /signed-by=(\S+)/.exec(m[1] ?? '')?.[1];
    out.push({ uri: m[2]!, suites: [m[3]!], components: m[4]!.split(/\s+/).filter(Boolean), ...(signedBy ? { signedBy } : {}) });
  }
  return out;
}

/**
 * The sources of the private configuration: the host's own, plus the
 * aliases and `<codename>-backports` on the mirror that carries the host's
 * release (a mirror of the main archive, not of debian-security).
 */
export function registrySources(host: readonly AptSource[], codename: string): AptSource[] {
  const main = host.find((s) => s.suites.includes(codename)) ?? host.find((s) => !s.suites.some((x) => x.endsWith('-security')));
  if (!main) {
    throw new QkError('missing-dependency', "the host's apt sources name no Debian mirror", {
      hint: `add a deb entry for ${codename} to ${HOST_SOURCES.join(' or ')}`,
    });
  }
  const extra: AptSource = { ...main, suites: [...ALIAS_SUITES, `${codename}-backports`].filter((s) => !main.suites.includes(s)), components: ['main'] };
  return [...host, extra].filter((s) => s.suites.length > 0);
}

/** One-line sources of the private configuration; every entry names its keyring. */
export function formatSources(sources: readonly AptSource[]): string {
  const lines: string[] = [];
  for (const s of sources) {
    for (const suite of s.suites) {
      lines.push(`deb [signed-by=${s.signedBy ?? DEFAULT_KEYRING}] ${s.uri} ${suite} ${(s.components.length > 0 ? s.components : ['main']).join(' ')}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** `apt-cache madison` lines: `pkg | version | uri suite/component arch Packages`. */
export function parseMadison(text: string): RegistryVersion[] {
  const out: RegistryVersion[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\S+)\s*\|\s*(\S+)\s*\|\s*(\S+)\s+([^/\s]+)\/\S+\s+\S+\s+Packages\s*$/.exec(line);
    if (m) out.push({ pkg: m[1]!, version: m[2]!, uri: m[3]!, suite: m[4]! });
  }
  return out;
}

/**
 * The fields of the first stanza of control text (`apt-cache show`,
 * `dpkg-deb -f`, /var/lib/dpkg/status), keys lower-cased, continuation
 * lines joined with a space.
 */
export function parseControl(text: string): Record<string, string> {
  return parseControlStanzas(text)[0] ?? {};
}

/** Every stanza of control text, as parseControl reads one. */
export function parseControlStanzas(text: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields: Record<string, string> = {};
    let last: string | undefined;
    for (const line of stanza.split('\n')) {
      const m = /^([\w-]+):\s*(.*)$/.exec(line);
      if (m) {
        last = m[1]!.toLowerCase();
        fields[last] = m[2]!.trim();
      } else if (/^\s/.test(line) && last) fields[last] = `${fields[last]} ${line.trim()}`.trim();
    }
    if (Object.keys(fields).length > 0) out.push(fields);
  }
  return out;
}

/** Suites whose signature apt could not verify, from `apt-get update` output. */
export function signatureFailures(output: string): { suite: string; line: string }[] {
  const out: { suite: string; line: string }[] = [];
  for (const line of output.split('\n')) {
    if (!/GPG error|NO_PUBKEY|is not signed|signatures were invalid|BADSIG|EXPKEYSIG|signature could not be verified|couldn't be verified/.test(line)) continue;
    // Lines that name the repository; apt repeats the reason on an indented line without it.
    const suite = /https?:\/\/\S+\s+(\S+?)(?:\/\S*)?\s+(?:InRelease|Release)\b/.exec(line)?.[1];
    if (!suite) continue;
    if (!out.some((o) => o.suite === suite)) out.push({ suite, line: line.trim() });
  }
  return out;
}

/** A family of packages named by version: linux-source-6.1, linux-source-7.3, ... */
export interface PackageFamily {
  readonly prefix: string;
  /** "kernel sources" */
  readonly what: string;
  /** How the user spells a member: linux-source-7.3 → debian:7.3. */
  readonly flag: (name: string) => string;
}

/** The error for a package the registry does not have, naming the family members it has. */
export function missingPackage(pkg: string, names: readonly string[], family: PackageFamily): QkError {
  const have = names.filter((n) => n.startsWith(family.prefix) && /^\d+(\.\d+)+$/.test(n.slice(family.prefix.length))).sort(compareNames);
  return new QkError('usage-error', `the Debian registry has no ${pkg}`, {
    hint: have.length > 0 ? `${family.what} it has: ${have.map(family.flag).join(', ')}` : `it has no ${family.prefix}X.Y package at all`,
  });
}

/**
 * Whether `file` is the .deb apt-get download wrote for `pkg` at `version`:
 * `<pkg>_<version>_<arch>.deb`, an epoch spelled `%3a` (qemu-system-x86_1%3a10.0.2+ds-2_amd64.deb).
 */
export function isDebOf(file: string, pkg: string, version: string): boolean {
  if (!file.startsWith(`${pkg}_`) || !file.endsWith('.deb')) return false;
  const name = decodeURIComponent(file);
  return [version, version.replace(/^\d+:/, '')].some((v) => name.startsWith(`${pkg}_${v}_`));
}

/** `dpkg --compare-versions a rel b`: whether Debian version `a` stands in relation `rel` to `b`, by dpkg's own ordering. */
export async function dpkgVersionIs(a: string, rel: 'lt' | 'le' | 'eq' | 'ge' | 'gt', b: string): Promise<boolean> {
  return (await spawn('dpkg', ['--compare-versions', a, rel, b], { what: 'dpkg --compare-versions', allowFailure: true })).exitCode === 0;
}

/** Sort Debian versions, newest first, with dpkg's own ordering. */
export async function newestFirst(versions: readonly RegistryVersion[]): Promise<RegistryVersion[]> {
  const sorted = [...versions];
  // Insertion sort with `dpkg --compare-versions`: a handful of versions at most.
  for (let i = 1; i < sorted.length; i++) {
    for (let j = i; j > 0; j--) {
      if (!(await dpkgVersionIs(sorted[j]!.version, 'gt', sorted[j - 1]!.version))) break;
      [sorted[j - 1], sorted[j]] = [sorted[j]!, sorted[j - 1]!];
    }
  }
  return sorted;
}

/** The host's Debian codename (bookworm), from /etc/os-release. */
export async function hostCodename(): Promise<string> {
  const t = await readFile('/etc/os-release', 'utf8').catch(() => '');
  const c = /^VERSION_CODENAME=("?)(\w+)\1$/m.exec(t)?.[2];
  if (!c) throw new QkError('missing-dependency', 'this host is not Debian (no VERSION_CODENAME in /etc/os-release): Debian packages cannot be looked up', { hint: 'give the kernel source with --tarball, --tree or --git' });
  return c;
}

export async function hostSources(): Promise<AptSource[]> {
  const out: AptSource[] = [];
  for (const f of HOST_SOURCES) {
    const text = await readFile(f, 'utf8').catch(() => undefined);
    if (text !== undefined) out.push(...(f.endsWith('.sources') ? parseDeb822Sources(text) : parseOneLineSources(text)));
  }
  return out;
}

/**
 * The registry, through the private configuration under `<dir>`. `update`
 * refreshes its package lists (network), once per process; lookups read
 * them; `fetch` downloads and extracts one package, reused when done.
 */
export class DebianRegistry {
  private updated: Promise<void> | undefined;
  private readonly conf: string;

  constructor(
    readonly dir: string,
    private readonly o: { log: Logger; logFile: string; sources?: () => Promise<{ sources: AptSource[]; codename: string }> },
  ) {
    this.conf = join(dir, 'apt.conf');
  }

  private async writeConfig(): Promise<void> {
    const { sources, codename } = this.o.sources ? await this.o.sources() : { sources: await hostSources(), codename: await hostCodename() };
    for (const d of ['lists/partial', 'cache/archives/partial', 'downloads']) await mkdir(join(this.dir, d), { recursive: true });
    await writeFile(join(this.dir, 'status'), '', { flag: 'a' });
    await writeFile(join(this.dir, 'sources.list'), formatSources(registrySources(sources, codename)));
    const arch = (await spawn('dpkg', ['--print-architecture'], { what: 'dpkg --print-architecture', allowFailure: true })).output.trim() || 'amd64';
    await writeFile(
      this.conf,
      [
        `Dir::Etc::sourcelist "${join(this.dir, 'sources.list')}";`,
        'Dir::Etc::sourceparts "-";',
        'Dir::Etc::preferences "/dev/null";',
        'Dir::Etc::preferencesparts "-";',
        `Dir::State::Lists "${join(this.dir, 'lists')}";`,
        `Dir::State::status "${join(this.dir, 'status')}";`,
        `Dir::Cache "${join(this.dir, 'cache')}";`,
        'Acquire::Languages "none";',
        `APT::Architectures { "${arch}"; };`,
        // Our own directory, read and written by root only: apt's _apt sandbox user cannot enter it.
        'APT::Sandbox::User "root";',
        '',
      ].join('\n'),
    );
  }

  private apt(cmd: string, args: string[], what: string, extra: { cwd?: string; allowFailure?: boolean } = {}) {
    return spawn(cmd, args, {
      what,
      env: { APT_CONFIG: this.conf, LC_ALL: 'C' },
      logFile: this.o.logFile,
      timeoutMs: 20 * 60_000,
      failClass: 'infra-error',
      ...extra,
    });
  }

  /** Run `fn` holding the registry's lock: two runs sharing a work directory never run apt on the same lists at once. */
  private async locked<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const release = await acquireLock(join(this.dir, 'registry'), { what: `the Debian registry cache ${this.dir}`, owner: `${what} (pid ${process.pid})`, log: this.o.log, waitMs: 30 * 60_000 });
    try {
      return await fn();
    } finally {
      await release();
    }
  }

  /** Refresh the package lists (a network lookup). Offline with lists from before, it goes on with those and says so. */
  update(): Promise<void> {
    this.updated ??= this.locked('apt-get update', async () => {
      await this.writeConfig();
      this.o.log.info('debian: looking up the registry (private apt configuration, signatures checked)');
      const r = await this.apt('apt-get', ['update', '-q'], 'apt-get update (private configuration)', { allowFailure: true });
      const bad = signatureFailures(r.output);
      if (bad.length > 0) {
        throw new QkError('infra-error', `the Debian archive's signature could not be verified for ${bad.map((b) => b.suite).join(', ')}: its packages are not trusted`, {
          details: bad.map((b) => `  ${b.line}`).join('\n'),
          hint: "the host's archive keyring (debian-archive-keyring) may be too old for that suite: apt-get install debian-archive-keyring, then run again",
          logFile: this.o.logFile,
        });
      }
      const failed = r.exitCode !== 0 || /^(E:|W: Failed to fetch)/m.test(r.output);
      if (failed) {
        const haveLists = (await readdir(join(this.dir, 'lists')).catch(() => [] as string[])).some((f) => f.endsWith('_Packages') || f.endsWith('_Packages.lz4'));
        if (!haveLists) {
          throw new QkError('infra-error', 'the Debian registry could not be reached, and no package lists from an earlier lookup are kept', {
            details: r.tail.join('\n'),
            hint: "check the network and the mirror in the host's apt sources; once a lookup has worked, later runs can go on offline",
            logFile: this.o.logFile,
          });
        }
        this.o.log.warn('debian: the registry could not be reached; going on with the package lists of an earlier lookup');
      }
    });
    return this.updated;
  }

  /** Every version of `pkg` the registry has, newest first. */
  async versions(pkg: string): Promise<RegistryVersion[]> {
    await this.update();
    const r = await this.apt('apt-cache', ['madison', pkg], `apt-cache madison ${pkg}`, { allowFailure: true });
    return newestFirst(parseMadison(r.output).filter((v) => v.pkg === pkg));
  }

  /** The control fields of one version (`apt-cache show pkg=version`): its Depends, Size, ... */
  async control(v: Pick<RegistryVersion, 'pkg' | 'version'>): Promise<Record<string, string>> {
    await this.update();
    const r = await this.apt('apt-cache', ['show', `${v.pkg}=${v.version}`], `apt-cache show ${v.pkg}=${v.version}`, { allowFailure: true });
    return parseControl(r.output);
  }

  /** Package names that start with `prefix` (e.g. "linux-source-"). */
  async names(prefix: string): Promise<string[]> {
    await this.update();
    const r = await this.apt('apt-cache', ['pkgnames', prefix], `apt-cache pkgnames ${prefix}`, { allowFailure: true });
    return r.output.split('\n').map((s) => s.trim()).filter((s) => s.startsWith(prefix));
  }

  /** The newest version of `pkg`; a package the registry lacks is a usage error listing the relatives it has. */
  async lookup(pkg: string, family: PackageFamily): Promise<RegistryVersion> {
    const [newest] = await this.versions(pkg);
    if (newest) return newest;
    throw missingPackage(pkg, await this.names(family.prefix), family);
  }

  /** Download (signature and hash checked by apt) and extract one version, once. */
  async fetch(v: RegistryVersion): Promise<FetchedPackage> {
    const root = join(this.dir, 'packages', `${v.pkg}_${v.version.replace(/[^\w.+~-]/g, '_')}`);
    const record = join(root, 'package.json');
    const done = await readJson(record, FetchedPackage, FETCHED);
    if (done && (await exists(done.deb))) return done;
    await this.update();
    return this.locked(`fetching ${v.pkg}`, async () => {
      const again = await readJson(record, FetchedPackage, FETCHED);
      return again && (await exists(again.deb)) ? again : this.download(v, root, record);
    });
  }

  private async download(v: RegistryVersion, root: string, record: string): Promise<FetchedPackage> {
    await rm(root, { recursive: true, force: true });
    const dl = join(this.dir, 'downloads');
    this.o.log.info(`debian: downloading ${v.pkg} ${v.version} (${v.suite})`);
    await this.apt('apt-get', ['download', '-q', `${v.pkg}=${v.version}`], `apt-get download ${v.pkg}=${v.version}`, { cwd: dl });
    const deb = (await readdir(dl)).find((f) => isDebOf(f, v.pkg, v.version));
    if (!deb) throw new QkError('infra-error', `apt-get download ${v.pkg}=${v.version} left no .deb in ${dl}`, { logFile: this.o.logFile });
    const tmp = `${root}.tmp`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(join(tmp, 'files'), { recursive: true });
    const kept = join(tmp, deb);
    await rename(join(dl, deb), kept);
    this.o.log.info(`debian: extracting ${deb}`);
    await spawn('dpkg-deb', ['-x', kept, join(tmp, 'files')], { what: `dpkg-deb -x ${deb}`, logFile: this.o.logFile, failClass: 'infra-error', timeoutMs: 20 * 60_000 });
    await rename(tmp, root);
    const out: FetchedPackage = { pkg: v.pkg, version: v.version, suite: v.suite, sha256: await sha256File(join(root, deb)), deb: join(root, deb), root: join(root, 'files') };
    await writeJsonAtomic(record, out);
    return out;
  }

  /** A package fetched before, newest first: what an offline run can still use. */
  async fetched(pkg: string): Promise<FetchedPackage | undefined> {
    const dirs = (await readdir(join(this.dir, 'packages')).catch(() => [] as string[])).filter((d) => d.startsWith(`${pkg}_`) && !d.endsWith('.tmp'));
    const recs = (await Promise.all(dirs.map((d) => readJson(join(this.dir, 'packages', d, 'package.json'), FetchedPackage, FETCHED)))).filter((r): r is FetchedPackage => r !== undefined);
    const sorted = await newestFirst(recs.map((r) => ({ pkg: r.pkg, version: r.version, uri: '', suite: r.suite })));
    return recs.find((r) => r.version === sorted[0]?.version);
  }
}

/** linux-source-6.1 < linux-source-6.12 < linux-source-7.3: by version number, not by string. */
function compareNames(a: string, b: string): number {
  const num = (s: string) => (/(\d+(?:\.\d+)*)$/.exec(s)?.[1] ?? '').split('.').map(Number);
  const x = num(a);
  const y = num(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d !== 0) return d;
  }
  return a.localeCompare(b);
}

/** The registry of a work directory (one per work directory: lists and packages are shared by runs). */
export function registryDir(workDir: string): string {
  return join(workDir, 'debian');
}
