/**
 * Config and build stages. Each (variant, arch) has its own O= build
 * directory beside the variant's source tree; a stamp of the inputs lets a
 * re-run skip make entirely when nothing changed.
 */
import { appendFile, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { basename, join, relative, dirname } from 'node:path';
import { QkError } from '../plumbing/errors.ts';
import { REPO_ROOT } from '../plumbing/paths.ts';
import { z } from 'zod';
import { exists, readJson, sha256, sha256File, shortHash, syncFile, writeJsonAtomic } from '../plumbing/fsutil.ts';
import { FragmentSyntaxError, checkConfig, describeMismatch, mergeRequests, parseKconfig, resolveFragment } from './kconfig.ts';
import { parseKernelVersion } from './source.ts';
import { BUILD_STAMP, BuildStamp, readSeedMarker, verifySeededBuild, type SeedMarker } from './seed.ts';
import { capture, spawn } from '../plumbing/proc.ts';
import type { Logger } from '../plumbing/log.ts';
import type { VariantTree } from './variants.ts';
import { SERIES_OPTIONS, describeChange, seriesOptions, distroChanges, withoutModules, type DebianConfig, type DebianFlavour } from './distro.ts';

export const CONFIG_DIR = join(REPO_ROOT, 'qemu', 'config');
export const MODULE_DIR = join(REPO_ROOT, 'module');

export const ARCHES = ['x86_64', 'um'] as const;
export type Arch = (typeof ARCHES)[number];
/**
 * Benchmark kernel profiles. small (the default): tinyconfig for x86_64 and
 * defconfig without the block layer for UML, plus everything defconfig
 * sets that the series' paths feel (qemu/config/x86_64-small.config says
 * what and why); trimmed: defconfig minus drivers a guest never uses;
 * full: defconfig as is; distro: Debian's own config of the base (its
 * cloud kernel, distro.ts) without its modules, for UML defconfig plus the
 * distribution options UML can take (qemu/config/um-distro.config says which
 * it cannot); rt: Debian's PREEMPT_RT config (QEMU backends only). The
 * checker flavors have one base of their own.
 */
export const CONFIG_PROFILES = ['small', 'trimmed', 'full', 'distro', 'rt'] as const;
export type ConfigProfile = (typeof CONFIG_PROFILES)[number];
export const DEFAULT_PROFILE: ConfigProfile = 'small';

/**
 * Kernel flavors: the normal (benchmark) kernel, and debug kernels that
 * exist to make the series' KUnit suites meet the kernel's checkers.
 */
export const FLAVORS = ['normal', 'debug', 'kcsan'] as const;
export type Flavor = (typeof FLAVORS)[number];
export const FLAVOR_FRAGMENTS = {
  normal: [],
  debug: ['debug.config'],
  kcsan: ['kcsan.config'],
} as const satisfies Record<Flavor, readonly string[]>;

/** What one build produces: an arch and a flavor ("x86_64", "x86_64-debug"). */
export interface Target {
  readonly arch: Arch;
  readonly flavor: Flavor;
}
export function targetName(t: Target): string {
  return t.flavor === 'normal' ? t.arch : `${t.arch}-${t.flavor}`;
}

/** How one kernel's .config is made: make targets, then our fragments in order. */
interface ConfigBase {
  /** make targets producing the starting .config, in order. */
  readonly defconfig: readonly string[];
  readonly fragments: readonly string[];
  /** Rough number of compile steps in a cold build, for the progress bar. */
  readonly estimatedSteps: number;
  /** Start from Debian's config of this flavour (distro.ts) instead of the defconfig targets. */
  readonly debian?: DebianFlavour;
  /** This arch cannot build the profile: why (a usage error before anything is built). */
  readonly unsupported?: string;
  /** Options of our fragments this profile cannot have, and why: left out of the config check, and said. */
  readonly cannotHave?: { readonly options: readonly string[]; readonly why: string };
}

interface ArchSpec {
  readonly makeArch: string;
  /** The benchmark (normal flavor) kernel, per profile. */
  readonly profiles: Readonly<Record<ConfigProfile, ConfigBase>>;
  readonly targets: readonly string[];
  /** Kernel image, relative to the build directory. */
  readonly image: string;
  /** Base of the checker flavors (debug, kcsan): small, since sanitizers are slow to build. */
  readonly checker: ConfigBase;
}

const X86_DEFCONFIG = ['x86_64_defconfig', 'kvm_guest.config'];

/**
 * PREEMPT_RT kernels have no legacy iptables from 7.0 on
 * (NETFILTER_XTABLES_LEGACY depends on !PREEMPT_RT): the RT kernel runs no
 * iptables packet scenarios.
 */
const RT_CANNOT_HAVE = {
  options: ['CONFIG_NETFILTER_XTABLES_LEGACY', 'CONFIG_IP_NF_IPTABLES_LEGACY', 'CONFIG_IP_NF_FILTER', 'CONFIG_IP_NF_RAW'],
  why: 'legacy iptables depends on !PREEMPT_RT from 7.0 on: the packet scenarios that drop with a raw-table rule (drop, virtio_drop) are skipped on this kernel',
} as const;

export const ARCH_SPECS = {
  x86_64: {
    makeArch: 'x86_64',
    profiles: {
      small: { defconfig: ['tinyconfig'], fragments: ['common.config', 'x86_64-small.config', 'x86_64.config'], estimatedSteps: 1300 },
      trimmed: { defconfig: X86_DEFCONFIG, fragments: ['common.config', 'x86_64.config', 'x86_64-trim.config'], estimatedSteps: 2600 },
      full: { defconfig: X86_DEFCONFIG, fragments: ['common.config', 'x86_64.config'], estimatedSteps: 3500 },
      distro: { defconfig: [], debian: 'cloud-amd64', fragments: ['common.config', 'x86_64-distro.config'], estimatedSteps: 4000 },
      rt: { defconfig: [], debian: 'rt-amd64', fragments: ['common.config', 'x86_64-distro.config'], estimatedSteps: 4000, cannotHave: RT_CANNOT_HAVE },
    },
    targets: ['bzImage', 'modules'],
    image: 'arch/x86/boot/bzImage',
    checker: { defconfig: ['tinyconfig'], fragments: ['common.config', 'x86_64-tiny.config'], estimatedSteps: 1200 },
  },
  um: {
    makeArch: 'um',
    profiles: {
      small: { defconfig: ['defconfig'], fragments: ['common.config', 'um.config', 'um-small.config'], estimatedSteps: 1250 },
      trimmed: { defconfig: ['defconfig'], fragments: ['common.config', 'um.config'], estimatedSteps: 1500 },
      full: { defconfig: ['defconfig'], fragments: ['common.config', 'um.config'], estimatedSteps: 1500 },
      distro: { defconfig: ['defconfig'], fragments: ['common.config', 'um.config', 'um-small.config', 'um-distro.config'], estimatedSteps: 1300 },
      rt: { defconfig: ['defconfig'], fragments: [], estimatedSteps: 0, unsupported: 'UML cannot build PREEMPT_RT (it does not select ARCH_SUPPORTS_RT): use a QEMU backend (--backend tcg)' },
    },
    targets: ['linux', 'modules'],
    image: 'linux',
    checker: { defconfig: ['defconfig'], fragments: ['common.config', 'um.config'], estimatedSteps: 1500 },
  },
} as const satisfies Record<Arch, ArchSpec>;

/** The config base of one kernel: its profile's for the normal flavor, the checker base otherwise. */
export function configBase(t: Target, profile: ConfigProfile): ConfigBase {
  const spec = ARCH_SPECS[t.arch];
  return t.flavor === 'normal' ? spec.profiles[profile] : spec.checker;
}

/**
 * A normal kernel of a profile other than the default builds in a
 * directory of its own, so switching profiles never turns one build
 * directory over (and its ccache) to the other's .config.
 */
export function buildDir(tree: VariantTree, t: Target, profile: ConfigProfile): string {
  const suffix = t.flavor === 'normal' && profile !== DEFAULT_PROFILE ? `-${profile}` : '';
  return join(tree.root, `build-${targetName(t)}${suffix}`);
}

/**
 * Fragment files in merge order: the profile's (common, arch, trimming) or
 * the checker base's, the flavor's, the series' own fragment (patched and
 * other: the tree's series), then the user's extra fragments.
 */
export function fragmentPaths(t: Target, profile: ConfigProfile, o: { series?: readonly string[]; extra?: readonly string[] } = {}): string[] {
  return [...configBase(t, profile).fragments, ...FLAVOR_FRAGMENTS[t.flavor]]
    .map((f) => join(CONFIG_DIR, f))
    .concat(o.series ?? [], o.extra ?? []);
}

/** make targets that produce the starting .config. */
export function defconfigTargets(t: Target, profile: ConfigProfile): readonly string[] {
  return configBase(t, profile).defconfig;
}

export interface ConfigResult {
  readonly arch: Arch;
  readonly target: Target;
  readonly profile: ConfigProfile;
  readonly buildDir: string;
  readonly configHash: string;
  readonly optionsSet: number;
  readonly cached: boolean;
  /** distro and rt profiles: Debian's config it started from, and its built-in options this .config does not have as Debian has them. */
  readonly distro?: DistroRecord;
  /** Options of our fragments the profile cannot have (ConfigBase.cannotHave) that Kconfig dropped, and why. */
  readonly cannotHave?: { readonly options: readonly string[]; readonly why: string };
  /** The options the series' fast paths feel (distro.ts SERIES_OPTIONS), as this .config has them. */
  readonly seriesOptions: Readonly<Record<string, string>>;
}

const DistroRecord = z.object({
  file: z.string(),
  package: z.object({ name: z.string(), version: z.string(), suite: z.string(), sha256: z.string() }),
  note: z.string().optional(),
  /** describeChange() lines. */
  changes: z.array(z.string()),
});
export type DistroRecord = z.infer<typeof DistroRecord>;

const ConfigStamp = z.object({
  /** Hash of what Kconfig reads in the tree (kconfigInputs), not the whole tree. */
  kconfigHash: z.string(),
  inputs: z.string(),
  configHash: z.string(),
  distro: DistroRecord.optional(),
  cannotHave: z.object({ options: z.array(z.string()), why: z.string() }).optional(),
});
type ConfigStamp = z.infer<typeof ConfigStamp>;
/** The modules' stamp: the key of the sources and kernel build they were built from. */
const ModuleStamp = z.object({ key: z.string() });
/** How many make steps the last full build of a directory took (the progress bar's estimate). */
const StepCount = z.object({ steps: z.number().int().nonnegative() });

/** `compiler`: hugepages.ts's environment for the compiles (builds, not Kconfig's few probes). */
function makeEnv(tree: VariantTree, compiler: Readonly<Record<string, string>> = {}): Record<string, string> {
  return {
    ...compiler,
    // Paths relative to the common parent: the two variants share ccache objects.
    CCACHE_BASEDIR: dirname(tree.root),
    CCACHE_NOHASHDIR: '1',
    // Depend mode: on a miss ccache runs only the compiler and reads the
    // dependencies from Kbuild's own -Wp,-MMD file, instead of running the
    // preprocessor first to hash its output. A cold build of net/ipv4,
    // kernel/sched and mm (x86_64, 159 objects, 2 cores) took 119.0 s with
    // the default mode, 88.6 s in depend mode and 87.3 s without ccache; a
    // second build hit all 159 in both modes (hits were already 90% direct).
    // What it gives up: -MMD leaves system headers out of the dependency
    // list, and the kernel includes none besides the compiler's own, whose
    // version ccache hashes anyway.
    CCACHE_DEPEND: '1',
    KBUILD_BUILD_USER: 'qmempool-kit',
    KBUILD_BUILD_HOST: 'qk',
  };
}

export async function configure(
  tree: VariantTree,
  target: Target,
  o: {
    profile: ConfigProfile;
    seriesFragments: readonly string[];
    extraFragments: readonly string[];
    log: Logger;
    logFile: string;
    /** Bisection builds: accept options no Kconfig file of this tree defines yet. */
    allowUndefined?: boolean;
    /** distro and rt profiles: Debian's config (fetchDebianConfig) the .config starts from. */
    debianConfig?: DebianConfig;
  },
): Promise<ConfigResult> {
  const arch = target.arch;
  const spec = ARCH_SPECS[arch];
  const base = configBase(target, o.profile);
  if (base.unsupported) throw new QkError('usage-error', `--config-profile ${o.profile}: ${base.unsupported}`);
  if (base.debian && o.debianConfig === undefined) throw new QkError('infra-error', `internal: the ${o.profile} profile needs Debian's config, and none was fetched`);
  const debian = base.debian ? o.debianConfig : undefined;
  const out = buildDir(tree, target, o.profile);
  const frags = fragmentPaths(target, o.profile, { series: o.seriesFragments, extra: o.extraFragments });
  const label = (p: string) => (p.startsWith(REPO_ROOT) ? relative(REPO_ROOT, p) : p);
  // Fragments as this kernel version reads them (their qk-if blocks resolved).
  const version = parseKernelVersion(await readFile(join(tree.src, 'Makefile'), 'utf8'));
  const fragText = await Promise.all(frags.map(async (f) => {
    const text = await readFile(f, 'utf8').catch(() => {
      throw new QkError('usage-error', `config fragment ${f} does not exist`);
    });
    try {
      return resolveFragment(text, version, label(f));
    } catch (e) {
      if (e instanceof FragmentSyntaxError) throw new QkError('usage-error', `config fragment ${e.message}`);
      throw e;
    }
  }));
  const defconfig = defconfigTargets(target, o.profile);
  // The profile is in the inputs through its defconfig targets and fragments: a checker
  // kernel (one base whatever the profile) is not configured again when --config-profile changes.
  const inputs = sha256(arch, ...defconfig, ...frags.flatMap((f, i) => [basename(f), fragText[i]!]), ...(debian ? ['debian-config-v2', debian.file, debian.text] : []));
  const stampFile = join(out, '.qk-config.json');
  const stamp = await readJson(stampFile, ConfigStamp, { what: 'config stamp' });
  const kconfigHash = await kconfigInputs(tree.src);
  if (stamp && stamp.kconfigHash === kconfigHash && stamp.inputs === inputs && (await exists(join(out, '.config')))) {
    const cfg = await readFile(join(out, '.config'), 'utf8');
    if (sha256(cfg) === stamp.configHash) {
      await noteCached(o.logFile, `config ${tree.name}/${targetName(target)}: same Kconfig files and fragments as ${stampFile}; .config kept`);
      return { arch, target, profile: o.profile, buildDir: out, configHash: stamp.configHash, optionsSet: countSet(cfg), cached: true, seriesOptions: seriesOptions(cfg), ...(stamp.distro ? { distro: stamp.distro } : {}), ...(stamp.cannotHave ? { cannotHave: stamp.cannotHave } : {}) };
    }
  }
  const make = (targets: string[], what: string) =>
    spawn('make', ['-C', tree.src, `O=${out}`, `ARCH=${spec.makeArch}`, ...targets], {
      what,
      logFile: o.logFile,
      env: makeEnv(tree),
      timeoutMs: 10 * 60_000,
      failClass: 'config-failure',
    });
  const where = `${tree.name}/${targetName(target)}`;
  let stages: { asIs: string; noModules: string } | undefined;
  if (debian) {
    // Debian's config brought to this tree and toolchain, as it is (to tell what
    // the toolchain changes), then without its modules; our fragments follow.
    await mkdir(out, { recursive: true });
    const olddefconfig = async (text: string, what: string) => {
      await writeFile(join(out, '.config'), text);
      await make(['olddefconfig'], `${where}: make olddefconfig on Debian's ${debian.file} (${debian.package.name} ${debian.package.version})${what}`);
      return readFile(join(out, '.config'), 'utf8');
    };
    const asIs = await olddefconfig(debian.text, '');
    stages = { asIs, noModules: await olddefconfig(withoutModules(debian.text), ', modules left out') };
  } else {
    await make([...defconfig], `${where}: make ${defconfig.join(' ')}`);
  }
  const resolvedDir = join(out, 'qk-fragments');
  await rm(resolvedDir, { recursive: true, force: true });
  await mkdir(resolvedDir, { recursive: true });
  const resolved = frags.map((f, i) => join(resolvedDir, `${String(i).padStart(2, '0')}-${basename(f)}`));
  await Promise.all(resolved.map((f, i) => writeFile(f, fragText[i]!)));
  await spawn('bash', [join(tree.src, 'scripts/kconfig/merge_config.sh'), '-m', '-O', out, join(out, '.config'), ...resolved], {
    what: `${where}: merging config fragments`,
    cwd: out,
    logFile: o.logFile,
    failClass: 'config-failure',
  });
  await make(['olddefconfig'], `${where}: make olddefconfig`);

  // Every line of our fragments must have survived olddefconfig. (The
  // kernel's kvm_guest.config is not checked: it is shared by all
  // architectures and asks for options like S390_GUEST that x86 never has.)
  const requested = mergeRequests(frags.map((f, i) => parseKconfig(fragText[i]!, label(f))));
  const cfg = await readFile(join(out, '.config'), 'utf8');
  let bad = checkConfig(requested, cfg);
  if (bad.length > 0) {
    // An option this tree's Kconfig does not define was not dropped: it is
    // gone upstream (e.g. X86_5LEVEL, which 7.3 no longer has: 5-level paging is
    // always built in) or, for a per-patch build, added by a later patch.
    const defined = await definedSymbols(tree.src, bad.map((b) => b.option));
    const absent = bad.filter((b) => !defined.has(b.option)).map((b) => b.option);
    if (absent.length > 0 && !o.allowUndefined) o.log.warn(`  ${where}: not in this tree's Kconfig, so not checked: ${absent.join(', ')}`);
    bad = bad.filter((b) => defined.has(b.option));
  }
  const cannot = base.cannotHave;
  const lost = cannot ? bad.filter((b) => cannot.options.includes(b.option)).map((b) => b.option) : [];
  const cannotHave = cannot && lost.length > 0 ? { options: lost, why: cannot.why } : undefined;
  if (cannotHave) {
    o.log.warn(`  ${where}: without ${lost.join(', ')}: ${cannotHave.why}`);
    bad = bad.filter((b) => !lost.includes(b.option));
  }
  if (bad.length > 0) {
    throw new QkError('config-failure', `${where}: ${bad.length} requested config option(s) were dropped by Kconfig`, {
      details: bad.map((b) => `  ${describeMismatch(b)}`).join('\n'),
      hint: `an option is dropped when its dependencies are not met: look it up with 'make O=${out} ARCH=${spec.makeArch} menuconfig' (press /) and add what it depends on to the fragment`,
      logFile: o.logFile,
    });
  }
  const configHash = sha256(cfg);
  let distro: DistroRecord | undefined;
  if (debian && stages) {
    const changes = distroChanges({ debian: debian.text, ...stages, final: cfg });
    distro = { file: debian.file, package: debian.package, ...(debian.note ? { note: debian.note } : {}), changes: changes.map(describeChange) };
    await writeFile(join(out, 'qk-distro-changes.txt'), distro.changes.map((l) => `${l}\n`).join(''));
    const count = (by: string) => changes.filter((c) => c.by === by).length;
    o.log.info(`  ${where}: Debian's ${debian.file} (${debian.package.name} ${debian.package.version}): ${changes.length} built-in option(s) not as Debian has them: ${count('toolchain')} this tree and toolchain do not take, ${count('modules')} only modules select, ${count('fragment')} from our fragments (${join(out, 'qk-distro-changes.txt')})`);
    // The options the series feels must be Debian's, or the profile measures something else.
    const feel = new Set(SERIES_OPTIONS.map((x) => `CONFIG_${x}`));
    const felt = changes.filter((c) => feel.has(c.option));
    if (felt.length > 0) o.log.warn(`  ${where}: not as Debian has them, and the series' paths feel them: ${felt.map(describeChange).join('; ')}`);
  }
  await writeJsonAtomic(stampFile, { kconfigHash, inputs, configHash, ...(distro ? { distro } : {}), ...(cannotHave ? { cannotHave } : {}) } satisfies ConfigStamp);
  return { arch, target, profile: o.profile, buildDir: out, configHash, optionsSet: countSet(cfg), cached: false, seriesOptions: seriesOptions(cfg), ...(distro ? { distro } : {}), ...(cannotHave ? { cannotHave } : {}) };
}

/**
 * What the .config of a tree depends on besides our fragments: every Kconfig
 * file, the defconfigs and config fragments, the kconfig tool and the
 * Makefiles that set the version and arch. Editing a .c file of the series
 * leaves it unchanged, so a re-run does not redo config (about 10 s per
 * build). Read from git's index, which matches HEAD in our clean trees.
 */
export async function kconfigInputs(src: string): Promise<string> {
  const listed = await capture('git', ['ls-files', '-s', '--', ':(glob)**/Kconfig*', ':(glob)arch/*/configs/**', ':(glob)kernel/configs/**', ':(glob)scripts/kconfig/**', 'Makefile', ':(glob)arch/*/Makefile'], {
    what: 'listing the Kconfig inputs',
    cwd: src,
  });
  return sha256('kconfig-inputs-v1', listed);
}

function countSet(cfg: string): number {
  return cfg.split('\n').filter((l) => /^CONFIG_\w+=/.test(l)).length;
}

export interface BuildResult {
  readonly arch: Arch;
  readonly target: Target;
  readonly buildDir: string;
  readonly image: string;
  readonly key: string;
  readonly cached: boolean;
  /** Compile steps make reported (0 when cached). */
  readonly steps: number;
  /** The build directory started as a copy of another tree's build (seed.ts), and its first build passed the rebuild check. */
  readonly seed?: BuildSeed;
}

/** How a seeded build directory came to be, and what its first build rebuilt. */
export interface BuildSeed {
  /** The build it was copied from: `baseline/x86_64`. */
  readonly from: string;
  /** Files of the series touched after the copy. */
  readonly touched: number;
  /** Objects the first build after the seed wrote. */
  readonly rebuilt: number;
  /** Objects that had to be rebuilt (of files the series touched), all of which were. */
  readonly checked: number;
}

function buildSeed(m: SeedMarker | undefined): BuildSeed | undefined {
  return m?.check ? { from: m.label, touched: m.touched.length, rebuilt: m.check.rebuilt, checked: m.check.checked } : undefined;
}


const STEP_RE = /^\s{2}(CC|AS|LD|AR|HOSTCC|HOSTLD|CC \[M\]|LD \[M\]|GEN|OBJCOPY|RUSTC)\s/;
/** A compiler or linker diagnostic that stops the build: "file.c:12:5: error: ..." or "ld: ... undefined reference". */
const BUILD_ERROR_RE = /^[^\s:][^:]*:(\d+:(\d+:)?)? (fatal )?error: |undefined reference to /;

/** The compiler's own words from a failed build's output: the first errors, with their context lines. */
export function compilerErrors(lines: readonly string[], max = 5): string[] {
  const out: string[] = [];
  for (const l of lines) {
    if (!BUILD_ERROR_RE.test(l)) continue;
    out.push(l.trim());
    if (out.length >= max) break;
  }
  return out;
}

export async function buildKernel(
  tree: VariantTree,
  cfg: ConfigResult,
  o: { jobs: number; toolchain: string; log: Logger; logFile: string; compilerEnv?: Readonly<Record<string, string>> },
): Promise<BuildResult> {
  const spec = ARCH_SPECS[cfg.arch];
  const out = cfg.buildDir;
  const image = join(out, spec.image);
  const key = shortHash(sha256('kbuild-v1', tree.treeHash, cfg.configHash, cfg.arch, o.toolchain));
  const stampFile = join(out, BUILD_STAMP);
  const stamp = await readJson(stampFile, BuildStamp, { what: 'build stamp' });
  if (stamp?.key === key && (await exists(image))) {
    await noteCached(o.logFile, `kernel ${tree.name}/${targetName(cfg.target)}: build key ${key} matches ${stampFile}; make not run`);
    const seed = buildSeed(await readSeedMarker(out));
    return { arch: cfg.arch, target: cfg.target, buildDir: out, image, key, cached: true, steps: 0, ...(seed ? { seed } : {}) };
  }
  const last = await readJson(join(out, '.qk-steps.json'), StepCount, { what: 'step count' });
  const estimate = Math.max(last?.steps ?? configBase(cfg.target, cfg.profile).estimatedSteps, 1);
  const label = `build ${tree.name}/${targetName(cfg.target)}`;
  const bar = o.log.progress(label);
  let steps = 0;
  const errors: string[] = [];
  try {
    await spawn(
      'make',
      ['-C', tree.src, `O=${out}`, `ARCH=${spec.makeArch}`, `-j${o.jobs}`, 'CC=ccache gcc', ...spec.targets],
      {
        what: `${label}`,
        logFile: o.logFile,
        env: makeEnv(tree, o.compilerEnv),
        timeoutMs: 120 * 60_000,
        failClass: 'build-failure',
        tailLines: 60,
        onLine: (line) => {
          if (errors.length < 5) errors.push(...compilerErrors([line]));
          const m = STEP_RE.exec(line);
          if (m) {
            steps++;
            bar.update(Math.min(0.99, steps / estimate), line.trim().split(/\s+/).pop());
          }
        },
        hint: `the full make output is in the log; rebuild by hand with: make -C ${tree.src} O=${out} ARCH=${spec.makeArch}`,
      },
    );
  } catch (e) {
    // Lead with what the compiler said: the make tail that follows is mostly "Error 2".
    if (e instanceof QkError && e.runClass === 'build-failure' && errors.length > 0) {
      throw new QkError('build-failure', `${label} failed: ${errors[0]}`, {
        details: [...errors, '', '(end of the make output:)', ...(e.details ?? '').split('\n').slice(-12)].join('\n'),
        ...(e.hint ? { hint: e.hint } : {}),
        logFile: o.logFile,
        cause: e,
      });
    }
    throw e;
  } finally {
    bar.update(1);
    bar.stop();
  }
  if (!(await exists(image))) throw new QkError('build-failure', `${label}: make succeeded but ${image} is missing`, { logFile: o.logFile });
  // A directory seeded from another build: make must have rebuilt every
  // object of what the series changed, or the kernel carries the other's
  // code. Checked before the stamp is written, so a failure is never cached.
  const verified = await verifySeededBuild(out, tree.src, `${tree.name}/${targetName(cfg.target)}`, o.logFile);
  if (verified?.result) {
    const r = verified.result;
    // Most of the kernel rebuilt means its sources were newer than the copy (a tree made after baseline's build): correct, only slower.
    o.log.info(`  ${tree.name}/${targetName(cfg.target)}: seeded from ${verified.marker.label}'s build; make rebuilt ${r.rebuilt} of ${r.objects} object(s), and all ${r.checked.length} object(s) of the ${verified.marker.touched.length} file(s) the series touched were among them`);
  }
  // A cold build's step count is the next cold build's estimate.
  if (steps > (last?.steps ?? 0) / 2) await writeJsonAtomic(join(out, '.qk-steps.json'), { steps });
  await writeJsonAtomic(stampFile, { key, steps } satisfies BuildStamp);
  const seed = buildSeed(verified?.marker);
  return { arch: cfg.arch, target: cfg.target, buildDir: out, image, key, cached: false, steps, ...(seed ? { seed } : {}) };
}

export interface ModuleResult {
  readonly arch: Arch;
  /** Absolute paths of the built .ko files. */
  readonly modules: readonly string[];
  readonly dir: string;
  readonly cached: boolean;
}

/** Build the out-of-tree module(s) in module/ against one variant's build. */
/** The modules (`obj-m += x.o` lines) a Kbuild file builds; `x-y := a.o b.o` lines list objects, not modules. */
export function kbuildModules(kbuild: string): string[] {
  return [...kbuild.matchAll(/^obj-m\s*[+:]?=\s*(.*)$/gm)].flatMap((m) => m[1]!.match(/[\w-]+\.o/g) ?? []);
}

export async function buildModules(
  tree: VariantTree,
  kb: BuildResult,
  o: { log: Logger; logFile: string; moduleDir?: string; compilerEnv?: Readonly<Record<string, string>> },
): Promise<ModuleResult> {
  const srcDir = o.moduleDir ?? MODULE_DIR;
  // Per build directory: two profiles of one tree each have their own modules.
  const dir = join(tree.root, basename(kb.buildDir).replace(/^build-/, 'module-'));
  const files = (await readdir(srcDir)).filter((f) => /\.(c|h)$|^Kbuild$|^Makefile$/.test(f)).sort();
  const hashes = await Promise.all(files.map((f) => sha256File(join(srcDir, f))));
  for (const f of files) await syncFile(join(srcDir, f), join(dir, f));
  const key = sha256('mod-v1', kb.key, ...files.flatMap((f, i) => [f, hashes[i]!]));
  const stampFile = join(dir, '.qk-module.json');
  const objs = kbuildModules(await readFile(join(srcDir, 'Kbuild'), 'utf8'));
  const kos = objs.map((o2) => join(dir, o2.replace(/\.o$/, '.ko')));
  const stamp = await readJson(stampFile, ModuleStamp, { what: 'module stamp' });
  if (stamp?.key === key && (await Promise.all(kos.map(exists))).every(Boolean)) {
    await noteCached(o.logFile, `modules ${tree.name}/${targetName(kb.target)}: key matches ${stampFile}; make not run`);
    return { arch: kb.arch, modules: kos, dir, cached: true };
  }
  await spawn('make', ['-C', kb.buildDir, `ARCH=${ARCH_SPECS[kb.arch].makeArch}`, `M=${dir}`, 'CC=ccache gcc', 'W=1', 'modules'], {
    what: `building module/ for ${tree.name}/${targetName(kb.target)}`,
    logFile: o.logFile,
    env: makeEnv(tree, o.compilerEnv),
    timeoutMs: 10 * 60_000,
    failClass: 'build-failure',
  });
  for (const ko of kos) if (!(await exists(ko))) throw new QkError('build-failure', `module build produced no ${ko}`, { logFile: o.logFile });
  await writeJsonAtomic(stampFile, { key });
  return { arch: kb.arch, modules: kos, dir, cached: false };
}

/** A cached stage still says so in its log: the log explains every run. */
async function noteCached(logFile: string, msg: string): Promise<void> {
  await mkdir(dirname(logFile), { recursive: true });
  await appendFile(logFile, `cached: ${msg}\n`);
}

/** Which of these CONFIG_ symbols some Kconfig file of the tree defines. */
async function definedSymbols(src: string, options: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (const opt of options) {
    const sym = opt.replace(/^CONFIG_/, '');
    const r = await spawn('git', ['grep', '-q', '-E', `^(menu)?config ${sym}$`, '--', '*Kconfig*'], { what: `looking for ${sym}`, cwd: src, allowFailure: true });
    if (r.exitCode === 0) found.add(opt);
  }
  return found;
}
