/**
 * Guest image stage. QEMU guests boot an initramfs made with the kernel's own
 * usr/gen_init_cpio (device nodes without root, reproducible): busybox-static,
 * the guest init, the modules, and host tools (ip, iptables) with their
 * shared libraries. UML guests use the host's root filesystem instead, so
 * their "image" is just the init and the modules in a directory.
 */
import { chmod, readdir, readFile, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { QkError } from '../plumbing/errors.ts';
import { z } from 'zod';
import { exists, readJson, sha256, sha256File, syncFile, writeFileAtomic, writeJsonAtomic, shortHash } from '../plumbing/fsutil.ts';
import { spawn } from '../plumbing/proc.ts';
import { REPO_ROOT } from '../plumbing/paths.ts';
import { which } from './hostcheck.ts';

/** The initramfs stamp: the key of its file list and contents. */
const ImageStamp = z.object({ key: z.string() });

export const GUEST_INIT = join(REPO_ROOT, 'qemu', 'init.sh');
/** Where the modules live inside the initramfs. */
export const GUEST_MODULE_DIR = '/qk/modules';
/** Host programs copied into the initramfs, with their libraries. */
export const HOST_TOOLS = ['ip', 'xtables-legacy-multi'] as const;
const XTABLES_EXT_DIR = '/usr/lib/x86_64-linux-gnu/xtables';

export interface ImageResult {
  readonly kind: 'initramfs' | 'hostfs';
  /** initramfs: the cpio file; hostfs: the directory with init and modules. */
  readonly path: string;
  /** The init path as the guest sees it. */
  readonly init: string;
  readonly moduleDir: string;
  readonly key: string;
  readonly cached: boolean;
}

/** Parse `ldd` output into the absolute library paths it names. */
export function parseLdd(out: string): string[] {
  const libs = new Set<string>();
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)\s*\(/.exec(line) ?? /^\s*(\/\S+)\s*\(/.exec(line);
    if (m) libs.add(m[1]!);
  }
  return [...libs];
}

export interface CpioEntry {
  readonly type: 'dir' | 'file' | 'slink' | 'nod';
  readonly path: string;
  readonly source?: string;
  readonly mode: string;
  readonly extra?: string;
}

/** The text list gen_init_cpio reads (usr/gen_init_cpio.c). */
export function cpioList(entries: readonly CpioEntry[]): string {
  const lines: string[] = [];
  for (const e of entries) {
    switch (e.type) {
      case 'dir':
        lines.push(`dir ${e.path} ${e.mode} 0 0`);
        break;
      case 'file':
        lines.push(`file ${e.path} ${e.source} ${e.mode} 0 0`);
        break;
      case 'slink':
        lines.push(`slink ${e.path} ${e.source} ${e.mode} 0 0`);
        break;
      case 'nod':
        lines.push(`nod ${e.path} ${e.mode} 0 0 ${e.extra}`);
        break;
    }
  }
  return lines.join('\n') + '\n';
}

/** All parent directories of the given absolute paths, shallowest first. */
export function parentDirs(paths: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const p of paths) {
    let d = dirname(p);
    while (d !== '/' && d !== '.') {
      dirs.add(d);
      d = dirname(d);
    }
  }
  return [...dirs].sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
}

/** Host binaries and libraries for the guest image: once per process (they do not change during a run). */
let hostFilesOnce: Promise<{ path: string; source: string; link?: string }[]> | undefined;
function hostFiles(): Promise<{ path: string; source: string; link?: string }[]> {
  hostFilesOnce ??= findHostFiles().catch((e: unknown) => {
    hostFilesOnce = undefined;
    throw e;
  });
  return hostFilesOnce;
}

async function findHostFiles(): Promise<{ path: string; source: string; link?: string }[]> {
  const files: { path: string; source: string; link?: string }[] = [];
  const bins: string[] = [];
  for (const t of HOST_TOOLS) {
    const p = await which(t);
    if (!p) throw new QkError('missing-dependency', `${t} is not installed on the host (needed in the guest image)`, { hint: 'apt-get install iproute2 iptables' });
    bins.push(await realpath(p));
  }
  const exts = (await exists(XTABLES_EXT_DIR)) ? (await readdir(XTABLES_EXT_DIR)).filter((f) => f.endsWith('.so')).map((f) => join(XTABLES_EXT_DIR, f)) : [];
  // One ldd for all of them (it was 120 calls, 6 s, at every run).
  // A file ldd cannot read makes it exit 1 but still list the others' libraries.
  const ldd = await spawn('ldd', [...bins, ...exts], { what: 'ldd of the guest tools', allowFailure: true, timeoutMs: 60_000 });
  const libs = new Set(parseLdd(ldd.output));
  for (const b of bins) files.push({ path: `/usr/sbin/${basename(b)}`, source: b });
  for (const e of exts) files.push({ path: e, source: e });
  for (const l of libs) {
    // Keep the path the loader asks for; the content is the link's target.
    files.push({ path: l, source: await realpath(l) });
  }
  return files;
}

/** A file for the guest beside the modules' directory (the packet scenarios' script and helper). */
export interface GuestFile {
  readonly name: string;
  readonly source: string;
}

export async function buildInitramfs(o: {
  dir: string;
  modules: readonly string[];
  files?: readonly GuestFile[];
  genInitCpio: string;
  logFile: string;
}): Promise<ImageResult> {
  const host = await hostFiles();
  const entries: CpioEntry[] = [];
  const files: CpioEntry[] = [
    { type: 'file', path: '/init', source: GUEST_INIT, mode: '0755' },
    { type: 'file', path: '/bin/busybox', source: '/bin/busybox', mode: '0755' },
    ...o.modules.map((m): CpioEntry => ({ type: 'file', path: `${GUEST_MODULE_DIR}/${basename(m)}`, source: m, mode: '0644' })),
    ...(o.files ?? []).map((f): CpioEntry => ({ type: 'file', path: `${dirname(GUEST_MODULE_DIR)}/${f.name}`, source: f.source, mode: '0755' })),
    ...host.map((h): CpioEntry => ({ type: 'file', path: h.path, source: h.source, mode: '0755' })),
  ];
  const links: CpioEntry[] = [
    { type: 'slink', path: '/bin/sh', source: 'busybox', mode: '0777' },
    { type: 'slink', path: '/usr/sbin/iptables', source: 'xtables-legacy-multi', mode: '0777' },
    { type: 'slink', path: '/usr/sbin/iptables-legacy', source: 'xtables-legacy-multi', mode: '0777' },
    { type: 'slink', path: '/sbin/ip', source: '/usr/sbin/ip', mode: '0777' },
  ];
  const fixedDirs = ['/bin', '/sbin', '/usr', '/usr/bin', '/usr/sbin', '/dev', '/proc', '/sys', '/tmp', '/run', '/etc', '/root', '/lib64'];
  const dirs = [...new Set([...fixedDirs, ...parentDirs([...files, ...links].map((f) => f.path))])].sort(
    (a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b),
  );
  entries.push(...dirs.map((d): CpioEntry => ({ type: 'dir', path: d, mode: '0755' })));
  entries.push({ type: 'nod', path: '/dev/console', mode: '0600', extra: 'c 5 1' });
  entries.push({ type: 'nod', path: '/dev/null', mode: '0666', extra: 'c 1 3' });
  entries.push(...files, ...links);
  const list = cpioList(entries);
  const contentHashes = await Promise.all(files.map((f) => sha256File(f.source!)));
  const key = shortHash(sha256('initramfs-v1', list, ...contentHashes, await sha256File(o.genInitCpio)));
  const out = join(o.dir, 'initramfs.cpio');
  const stampFile = join(o.dir, '.qk-image.json');
  const stamp = await readJson(stampFile, ImageStamp, { what: 'image stamp' });
  if (stamp?.key === key && (await exists(out))) {
    return { kind: 'initramfs', path: out, init: '/init', moduleDir: GUEST_MODULE_DIR, key, cached: true };
  }
  const listFile = join(o.dir, 'initramfs.list');
  await writeFileAtomic(listFile, list);
  const tmp = `${out}.tmp`;
  await spawn('sh', ['-c', 'exec "$0" "$1" > "$2"', o.genInitCpio, listFile, tmp], {
    what: 'building the initramfs (gen_init_cpio)',
    logFile: o.logFile,
  });
  await spawn('mv', ['-f', tmp, out], { what: 'moving the initramfs in place', logFile: o.logFile });
  await writeJsonAtomic(stampFile, { key });
  return { kind: 'initramfs', path: out, init: '/init', moduleDir: GUEST_MODULE_DIR, key, cached: false };
}

/**
 * Where UML guests see the image directory: init mounts it there with hostfs
 * (qk_hostdir=...), since the host path itself may sit under /tmp or /run,
 * which the guest covers with tmpfs.
 */
export const UML_IMAGE_MOUNT = '/run/qk';

/** UML: the init and the modules in a host directory; the root is the host's. */
export async function prepareHostfsImage(o: { dir: string; modules: readonly string[]; files?: readonly GuestFile[] }): Promise<ImageResult> {
  const init = join(o.dir, 'init');
  let changed = await syncFile(GUEST_INIT, init);
  await chmod(init, 0o755);
  const modDir = join(o.dir, 'modules');
  for (const m of o.modules) changed = (await syncFile(m, join(modDir, basename(m)))) || changed;
  for (const f of o.files ?? []) {
    changed = (await syncFile(f.source, join(o.dir, f.name))) || changed;
    await chmod(join(o.dir, f.name), 0o755);
  }
  const extra = o.files ?? [];
  const parts = [await readFile(GUEST_INIT), ...(await Promise.all([...o.modules, ...extra.map((f) => f.source)].map((m) => readFile(m)))), ...extra.map((f) => f.name)];
  const key = shortHash(sha256('hostfs-v1', ...parts));
  return { kind: 'hostfs', path: o.dir, init, moduleDir: `${UML_IMAGE_MOUNT}/modules`, key, cached: !changed };
}
