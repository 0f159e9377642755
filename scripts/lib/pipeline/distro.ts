/**
 * Debian's own kernel configs, for the `distro` and `rt` profiles: the
 * config Debian builds its cloud (virtual machine) kernel and its
 * PREEMPT_RT kernel from, out of `linux-config-X.Y` on the Debian registry
 * (fetched once through the work directory's private apt configuration,
 * like registry kernel sources and QEMU).
 *
 * What we change, and how we say so: Debian's modules (`=m`) are left out,
 * since our guests load none of them but the few our fragments ask for;
 * every built-in option is kept unless a fragment of ours sets it
 * (distroChanges() lists every one that did not survive, and why).
 */
import { join } from 'node:path';
import { QkError } from '../plumbing/errors.ts';
import { capture } from '../plumbing/proc.ts';
import type { Logger } from '../plumbing/log.ts';
import { exists } from '../plumbing/fsutil.ts';
import type { RegistryVersion } from './debian.ts';
import { debianRegistry } from './source.ts';
import { parseKconfig } from './kconfig.ts';

/** Debian's kernel flavours we build from: the cloud kernel (virtual machines) and the realtime kernel. */
export const DEBIAN_FLAVOURS = ['cloud-amd64', 'rt-amd64'] as const;
export type DebianFlavour = (typeof DEBIAN_FLAVOURS)[number];

/** The file of each flavour in linux-config-X.Y: 7.x names the RT kernel a flavour of its own, 6.x a featureset. */
const CONFIG_FILES: Readonly<Record<DebianFlavour, readonly string[]>> = {
  'cloud-amd64': ['config.amd64_none_cloud-amd64'],
  'rt-amd64': ['config.amd64_none_rt-amd64', 'config.amd64_rt_amd64'],
};

export interface DebianConfig {
  /** config.amd64_none_cloud-amd64 */
  readonly file: string;
  readonly package: { readonly name: string; readonly version: string; readonly suite: string; readonly sha256: string };
  /** The config as Debian ships it. */
  readonly text: string;
  /** Set when no linux-config of the tree's exact version exists and a neighbour's was taken. */
  readonly note?: string;
}

/** 1:7.3.4-1~bpo13+1 → 7.3.4: the upstream part of a Debian version. */
export function upstreamVersion(debianVersion: string): string {
  const noEpoch = debianVersion.replace(/^\d+:/, '');
  const dash = noEpoch.lastIndexOf('-');
  return dash > 0 ? noEpoch.slice(0, dash) : noEpoch;
}

/** The config package's version for a kernel of `kernelVersion`: the same upstream version (newest Debian revision), else the newest. */
export function chooseConfigVersion(versions: readonly RegistryVersion[], kernelVersion: string): { version: RegistryVersion; note?: string } | undefined {
  const same = versions.find((v) => upstreamVersion(v.version) === kernelVersion);
  if (same) return { version: same };
  const newest = versions[0];
  if (!newest) return undefined;
  return { version: newest, note: `the registry has no ${newest.pkg} for ${kernelVersion}: Debian's config of ${upstreamVersion(newest.version)} (${newest.version}) is used, and Kconfig fills in what differs` };
}

/** Debian's config of `flavour` for a kernel tree of `kernelVersion` ("7.3.4"). */
export async function fetchDebianConfig(kernelVersion: string, flavour: DebianFlavour, o: { workDir: string; log: Logger; logFile: string }): Promise<DebianConfig> {
  const release = /^(\d+\.\d+)/.exec(kernelVersion)?.[1];
  if (!release) throw new QkError('infra-error', `internal: kernel version '${kernelVersion}' has no major.minor`);
  const pkg = `linux-config-${release}`;
  const reg = debianRegistry(o.workDir, o.log, o.logFile);
  // One fetched before for this very version needs no lookup (and works offline).
  const before = await reg.fetched(pkg);
  const chosen = before && upstreamVersion(before.version) === kernelVersion
    ? { version: { pkg, version: before.version, uri: '', suite: before.suite } }
    : chooseConfigVersion(await reg.versions(pkg), kernelVersion);
  if (!chosen) {
    throw new QkError('missing-dependency', `the Debian registry has no ${pkg}: the distro and rt profiles build from Debian's own config of the base`, {
      hint: `use a base Debian packages (e.g. --source debian:7.3), or another --config-profile`,
      logFile: o.logFile,
    });
  }
  if (chosen.note) o.log.warn(`distro: ${chosen.note}`);
  const fetched = await reg.fetch(chosen.version);
  const dir = join(fetched.root, 'usr', 'src', pkg);
  let file: string | undefined;
  for (const name of CONFIG_FILES[flavour]) {
    if (await exists(join(dir, `${name}.xz`))) {
      file = name;
      break;
    }
  }
  if (file === undefined) {
    throw new QkError('infra-error', `${pkg} ${fetched.version} has none of ${CONFIG_FILES[flavour].map((f) => `${f}.xz`).join(', ')}`, { hint: `the package layout changed: look in ${dir}`, logFile: o.logFile });
  }
  const path = join(dir, `${file}.xz`);
  const text = await capture('xz', ['-dc', path], { what: `xz -dc ${file}.xz`, logFile: o.logFile });
  return {
    file,
    package: { name: fetched.pkg, version: fetched.version, suite: fetched.suite, sha256: fetched.sha256 },
    text: text.endsWith('\n') ? text : `${text}\n`,
    ...(chosen.note ? { note: chosen.note } : {}),
  };
}

/**
 * Debian's config with its modules left out: `CONFIG_X=m` becomes
 * `# CONFIG_X is not set`. Our fragments, merged after, turn back on the
 * few modules and drivers our guests need (built in or as modules).
 */
export function withoutModules(text: string): string {
  return text.replace(/^(CONFIG_\w+)=m$/gm, '# $1 is not set');
}

/** A built-in option of Debian's that the final .config does not have as Debian has it. */
export interface DistroChange {
  readonly option: string;
  /** Debian's value: y, a number, a string. */
  readonly debian: string;
  /** The final value, or undefined when the option is off or gone. */
  readonly final: string | undefined;
  /**
   * Why: Kconfig on this tree and toolchain does not take Debian's value
   * even with Debian's modules (`toolchain`: no rustc, an older compiler);
   * it went with the modules left out (`modules`: a symbol only modules
   * select); or our fragments set it or something it follows from
   * (`fragment`).
   */
  readonly by: 'toolchain' | 'modules' | 'fragment';
}

/** The options of a config that change what the series' fast paths cost, recorded for every kernel. */
export const SERIES_OPTIONS = [
  'SLAB_FREELIST_HARDENED', 'SLAB_FREELIST_RANDOM', 'SLAB_BUCKETS', 'RANDOM_KMALLOC_CACHES', 'INIT_ON_ALLOC_DEFAULT_ON', 'INIT_ON_FREE_DEFAULT_ON',
  'KFENCE', 'KFENCE_SAMPLE_INTERVAL', 'MEMCG', 'HARDENED_USERCOPY', 'SLUB_DEBUG', 'SLUB_DEBUG_ON', 'SLUB_CPU_PARTIAL', 'MEM_ALLOC_PROFILING',
  'NUMA', 'PREEMPT_RT', 'PREEMPT_DYNAMIC', 'PREEMPT_LAZY', 'PREEMPT_VOLUNTARY', 'PREEMPT', 'HZ', 'KASAN', 'KCSAN', 'LOCKDEP',
] as const;

/** A config's options without their CONFIG_ prefix, as kconfig.ts reads them (`n` for `is not set`). */
function configValues(text: string): Map<string, string> {
  return new Map(parseKconfig(text, 'config').map((e) => [e.option.replace(/^CONFIG_/, ''), e.value]));
}

/** SERIES_OPTIONS as a config has them: `y`, a value, or `n` when off or absent. */
export function seriesOptions(config: string): Record<string, string> {
  const set = configValues(config);
  return Object.fromEntries(SERIES_OPTIONS.map((o) => [o, set.get(o) ?? 'n']));
}

/** The options a config builds in: neither modules nor off. */
function builtIn(text: string): Map<string, string> {
  return new Map([...configValues(text)].filter(([, v]) => v !== 'm' && v !== 'n'));
}

/**
 * Every option Debian builds in (`=y` or a value) whose final value is not
 * Debian's. Values that only name the compiler or the toolchain's
 * capabilities (CC_VERSION_TEXT, GCC_VERSION, CC_HAS_*, ...) are left out:
 * they describe the machine that built Debian's kernel, not the kernel.
 */
export function distroChanges(c: { debian: string; asIs: string; noModules: string; final: string }): DistroChange[] {
  const [asIs, noModules, mine] = [builtIn(c.asIs), builtIn(c.noModules), builtIn(c.final)];
  const out: DistroChange[] = [];
  for (const [option, value] of builtIn(c.debian)) {
    if (TOOLCHAIN_RE.test(option)) continue;
    const now = mine.get(option);
    if (now === value) continue;
    const by = asIs.get(option) !== value ? 'toolchain' : noModules.get(option) !== value ? 'modules' : 'fragment';
    out.push({ option: `CONFIG_${option}`, debian: value, final: now, by });
  }
  return out;
}

const TOOLCHAIN_RE = /^(CC_VERSION_TEXT|CC_IS_\w+|GCC_VERSION|CLANG_VERSION|LD_VERSION|LLD_VERSION|AS_IS_\w+|AS_VERSION|LD_IS_\w+|RUSTC_\w+|BINDGEN_VERSION_TEXT|PAHOLE_VERSION|CC_HAS_\w+|CC_CAN_\w+|CC_NO_\w+|CC_IMPLICIT_\w+|AS_HAS_\w+|LD_CAN_\w+|GCC_ASM_\w+|TOOLS_SUPPORT_\w+|ARCH_HAS_CC_\w+|GCC\d+_NO_\w+|CC_ASM_\w+|CC_HAVE_\w+)$/;

/** One line per change, for the build log and the report. */
export function describeChange(c: DistroChange): string {
  const now = c.final === undefined ? 'not set' : c.final;
  const why = { toolchain: 'this tree and toolchain do not take it', modules: 'only modules select it', fragment: 'our fragments set it, or what it follows from' }[c.by];
  return `${c.option}: Debian ${c.debian}, here ${now} (${why})`;
}
