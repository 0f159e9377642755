/**
 * The typed plan of a run, made and checked before anything is built: the
 * sides to compare (a kernel tree plus its command line), the kernels each
 * needs, and the boots in order. A flag combination that cannot work is
 * refused here, not after twenty minutes of compiling.
 */
import { QkError } from '../plumbing/errors.ts';
import { CONFIG_PROFILES, DEFAULT_PROFILE, configBase, targetName, type Arch, type ConfigProfile, type Flavor, type Target } from './kbuild.ts';
import { VARIANTS, type Backend, type Side, type VariantName } from '../analysis/results.ts';
import type { AaControl, BackendChoice, StopAfter } from './options.ts';
import { parseSourceSpec, sourceLabel } from './source.ts';

export interface KernelPlan {
  readonly variant: VariantName;
  /** The base's spelling (`debian:7.3`); absent: the run's source. */
  readonly base?: string;
  readonly target: Target;
  /** A config profile other than the run's (a side's `/distro`); absent: the run's. */
  readonly profile?: ConfigProfile;
}

/** A kernel tree: a variant of a base. */
export interface TreePlan {
  readonly variant: VariantName;
  readonly base?: string;
}

export interface BootStep {
  /** 0-based index of the boot in the run. */
  readonly seq: number;
  readonly round: number;
  /** 0-based place within the round for its flavor and backend. */
  readonly position: number;
  readonly flavor: Flavor;
  readonly backend: Backend;
  readonly side: Side;
  /**
   * kunit: the tree's KUnit suites (and nothing else); bench: only the
   * modules asked for. A guest that has just run the KUnit stress (a
   * million elements, a CPU offlined, static keys flipped) is not
   * comparable with one that has not, so benchmarks get boots of their own.
   */
  readonly purpose: BootPurpose;
}

export const BOOT_PURPOSES = ['kunit', 'bench'] as const;
export type BootPurpose = (typeof BOOT_PURPOSES)[number];

/** KUnit boots of normal kernels run once, before the rounds; every other boot belongs to a round. */
export function inRounds(step: Pick<BootStep, 'purpose' | 'flavor'>): boolean {
  return !(step.purpose === 'kunit' && step.flavor === 'normal');
}

export interface RunPlan {
  readonly sides: readonly Side[];
  /** Variants the sides need, in a fixed order. */
  readonly variants: readonly VariantName[];
  /** Kernel trees the sides need: the run's base first, then each other base (also the lock order). */
  readonly trees: readonly TreePlan[];
  /** Bases other than the run's source, as spelled (`debian:7.3`). */
  readonly bases: readonly string[];
  readonly arches: readonly Arch[];
  readonly kernels: readonly KernelPlan[];
  /** Boots that were asked for and cannot happen, with why. */
  readonly notRun: readonly { side: string; variant: string; backend: string; reason: string }[];
}

const QEMU_BACKENDS: ReadonlySet<BackendChoice> = new Set(['auto', 'kvm', 'tcg', 'icount']);

export function archesFor(backends: readonly BackendChoice[]): Arch[] {
  const a: Arch[] = [];
  if (backends.some((b) => QEMU_BACKENDS.has(b))) a.push('x86_64');
  if (backends.includes('uml')) a.push('um');
  return a;
}

/** Builds needed: every flavor on x86_64, only the normal flavor on UML. */
export function targetsFor(arches: readonly Arch[], flavors: readonly Flavor[]): Target[] {
  const out: Target[] = [];
  for (const flavor of flavors) {
    for (const arch of arches) {
      if (flavor !== 'normal' && arch !== 'x86_64') continue;
      out.push({ arch, flavor });
    }
  }
  return out;
}

/** Backends by what a benchmark boot costs, cheapest first; icount repeats to the digit, so `cheap` never picks it. */
const BY_COST: readonly Backend[] = ['uml', 'kvm', 'tcg'];

/** The twin of `of`: the same kernel (so the same build) and command line, under another name. */
export function aaTwin(of: Side, taken: readonly string[]): Side {
  const name = `${of.name}-aa`;
  if (taken.includes(name)) {
    throw new QkError('usage-error', `the A/A control would add a side '${name}' (a second ${of.name}), and a side of that name is given`, { hint: `rename that side, or leave the control out with --aa-control none` });
  }
  return { ...of, name, twinOf: of.name };
}

/** The backends the twin boots on, from the run's resolved backends. */
export function controlBackends(mode: Exclude<AaControl, 'auto'>, backends: readonly Backend[]): Backend[] {
  if (mode === 'none') return [];
  if (mode === 'all') return [...backends];
  const cheapest = BY_COST.find((b) => backends.includes(b));
  return cheapest ? [cheapest] : [];
}

export { sidesFromVariants } from './options.ts';

/**
 * Parse `--side 'NAME=TREE[@BASE][/PROFILE] [KERNEL ARGS...]'`: a side is a
 * kernel (a tree of a base, built with a config profile) plus a command
 * line. The kernel is one word; the kernel arguments follow it after white
 * space, as on a kernel command line. BASE is a base's spelling
 * (`debian:7.3`, `debian`); without it the side is built from the run's
 * source. PROFILE is a --config-profile (`distro`); without it, the run's.
 * Examples: `off=patched skb_qmempool=off`, `new=baseline@debian:7.3`,
 * `on73=patched@debian:7.3 skb_qmempool=on init_on_alloc=1`,
 * `don=patched@debian:7.3/distro skb_qmempool=on`.
 */
export function parseSide(spec: string): Side {
  const text = spec.trim();
  const m = /^([\w.-]+)=([^\s@:/]*)(@[^\s/]*)?(\/\S*)?(?:\s+(.*))?$/s.exec(text);
  const old = /^([\w.-]+)=(\w+):(.*)$/s.exec(text);
  if (old && !text.includes('@') && (VARIANTS as readonly string[]).includes(old[2]!)) {
    // The spelling before bases existed: a ':' after the tree started the arguments.
    throw new QkError('usage-error', `--side '${spec}': kernel arguments now follow the kernel after a space`, {
      hint: `write --side '${old[1]}=${old[2]} ${old[3]!.trim()}' (a ':' belongs to a base, as in ${old[1]}=${old[2]}@debian:7.3)`,
    });
  }
  if (!m || m[2] === '') throw new QkError('usage-error', `--side '${spec}': expected 'NAME=TREE[@BASE][/PROFILE] [KERNEL ARGS]', e.g. 'off=patched skb_qmempool=off', 'new=baseline@debian:7.3' or 'd=patched/distro'`);
  const variant = m[2]!;
  if (!(VARIANTS as readonly string[]).includes(variant)) throw new QkError('usage-error', `--side '${spec}': unknown kernel tree '${variant}' (choose from ${VARIANTS.join(', ')})`);
  const base = m[3] === undefined ? undefined : sourceLabel(parseSourceSpec(m[3].slice(1), `--side ${m[1]}: base`));
  const profile = m[4]?.slice(1);
  if (profile !== undefined && !(CONFIG_PROFILES as readonly string[]).includes(profile)) {
    throw new QkError('usage-error', `--side '${spec}': unknown config profile '${profile}' (choose from ${CONFIG_PROFILES.join(', ')})`);
  }
  return { name: m[1]!, variant: variant as VariantName, cmdline: (m[5] ?? '').split(/\s+/).filter(Boolean), ...(base ? { base } : {}), ...(profile ? { profile } : {}) };
}

/** How a side's kernel is written: `patched`, `baseline@debian:7.3`. */
export function treeId(t: { readonly variant: VariantName; readonly base?: string | undefined }): string {
  return t.base ? `${t.variant}@${t.base}` : t.variant;
}

/** How a kernel is written: its tree, then its profile where it is not the run's (`patched@debian:7.3/distro`). */
export function kernelId(k: { readonly variant: VariantName; readonly base?: string | undefined; readonly profile?: string | undefined }): string {
  return k.profile ? `${treeId(k)}/${k.profile}` : treeId(k);
}

/**
 * Boot order. Normal kernels: first one KUnit boot per side whose tree has
 * KUnit suites (`kunitVariants`) and backend, then the benchmark rounds:
 * rounds outermost, then backends, then sides, so the sides of a round sit
 * side by side in time; which side goes first alternates from round to
 * round. Checker flavors (QEMU only) run the KUnit suites in every round:
 * a benchmark on a checker kernel would measure the checker.
 */
export function bootPlan(
  rounds: number,
  backends: readonly Backend[],
  sides: readonly Side[],
  flavors: readonly Flavor[] = ['normal'],
  kunitVariants: readonly VariantName[] = [],
  /** Where an A/A twin (a side with twinOf) boots; it only ever runs benchmark rounds. */
  controlOn: readonly Backend[] = backends,
): BootStep[] {
  const plan: BootStep[] = [];
  const push = (s: Omit<BootStep, 'seq'>) => plan.push({ seq: plan.length, ...s });
  if (flavors.includes('normal')) {
    const withKunit = sides.filter((s) => !s.twinOf && kunitVariants.includes(s.variant));
    for (const backend of backends) withKunit.forEach((side, position) => push({ round: 0, position, flavor: 'normal', backend, side, purpose: 'kunit' }));
  }
  for (let round = 0; round < rounds; round++) {
    for (const flavor of flavors) {
      for (const backend of backends) {
        if (flavor !== 'normal' && backend === 'uml') continue;
        const here = sides.filter((s) => !s.twinOf || (flavor === 'normal' && controlOn.includes(backend)));
        const order = round % 2 === 0 ? here : [...here].reverse();
        order.forEach((side, position) => push({ round, position, flavor, backend, side, purpose: flavor === 'normal' ? 'bench' : 'kunit' }));
      }
    }
  }
  return plan;
}

/**
 * The `other` tree carries the series named by --other-series: a side on it
 * needs that flag, and the flag needs a side on it (else it would be read,
 * extracted and ignored).
 */
export function checkOtherSeries(sides: readonly Side[], otherSeries: string | undefined): void {
  const onOther = sides.filter((s) => s.variant === 'other').map((s) => s.name);
  if (onOther.length > 0 && otherSeries === undefined) {
    throw new QkError('usage-error', `${onOther.length > 1 ? 'sides' : 'side'} ${onOther.join(', ')} ${onOther.length > 1 ? 'boot' : 'boots'} the 'other' kernel tree, which carries the series given by --other-series, and there is none`, {
      hint: 'add --other-series DIR|REV (a series directory, or a revision of this repository), e.g. --other-series 9a40062 --side old=other --side new=patched',
    });
  }
  if (onOther.length === 0 && otherSeries !== undefined) {
    throw new QkError('usage-error', `--other-series ${otherSeries} is given, but no side boots the 'other' kernel tree`, {
      hint: 'add a side on it, e.g. --side old=other --side new=patched (or leave out --side and --variants: then baseline, patched and other are compared)',
    });
  }
}

/** What a plan is made from: the sides, where and how they run, and where the run writes. */
export interface PlanRequest {
  readonly sides: readonly Side[];
  readonly otherSeries?: string | undefined;
  readonly backends: readonly BackendChoice[];
  readonly flavors: readonly Flavor[];
  readonly workDir: string;
  readonly outputDir: string;
  readonly stopAfter?: StopAfter | undefined;
  /** Resolved (options.ts resolveAaControl); absent: none. */
  readonly aaControl?: Exclude<AaControl, 'auto'> | undefined;
  /** The run's --config-profile; a side's own profile that equals it is the run's. */
  readonly profile?: ConfigProfile | undefined;
}

/**
 * Make and check the plan. Throws a usage error for what cannot work. With
 * an A/A control the plan's sides end with the twin of the first side: on
 * the same tree, so it needs no tree or build of its own (the kernels are
 * made per tree, and every side of a tree boots that tree's build).
 */
export function planRun(o: PlanRequest): RunPlan {
  if (o.sides.length === 0) throw new QkError('usage-error', 'nothing to run: no side (--variants or --side) given');
  checkOtherSeries(o.sides, o.otherSeries);
  // Last in the order, so the sides compared for real keep their places (and neighbours) in each round.
  const wantTwin = (o.aaControl ?? 'none') !== 'none' && !o.stopAfter && o.flavors.includes('normal') && (o.aaControl === 'all' || o.backends.some((b) => b !== 'icount'));
  // A side's profile that is the run's is no profile of its own.
  const given: Side[] = o.sides.map(({ profile, ...s }) => (profile === undefined || profile === (o.profile ?? DEFAULT_PROFILE) ? s : { ...s, profile }));
  const sides = wantTwin ? [...given, aaTwin(given[0]!, given.map((s) => s.name))] : given;
  const names = new Set<string>();
  for (const s of o.sides) {
    if (names.has(s.name)) throw new QkError('usage-error', `side '${s.name}' is given twice`);
    names.add(s.name);
  }
  if (o.backends.includes('auto') && !o.flavors.includes('normal')) {
    throw new QkError('usage-error', '--backend auto needs the normal flavor: the KVM probe boots the normal kernel', { hint: 'add normal to --flavors, or name the backend (tcg, kvm)' });
  }
  // Kbuild cannot build in a path with white space, and UML's init path goes on its command line.
  for (const [flag, dir] of [['--work-dir', o.workDir], ['-o/--output', o.outputDir]] as const) {
    if (/\s/.test(dir)) throw new QkError('usage-error', `${flag} '${dir}' contains white space: the kernel's build system and command line cannot take such paths`, { hint: `choose a ${flag} without spaces` });
  }
  const arches = archesFor(o.backends);
  const variants = VARIANTS.filter((v) => o.sides.some((s) => s.variant === v));
  const bases = [...new Set(o.sides.flatMap((s) => (s.base ? [s.base] : [])))];
  const trees: TreePlan[] = [undefined, ...bases].flatMap((base) =>
    VARIANTS.filter((v) => o.sides.some((s) => s.variant === v && s.base === base)).map((variant) => ({ variant, ...(base ? { base } : {}) })),
  );
  // One kernel per tree, target and profile its sides ask for (checker flavors have one
  // config whatever the profile).
  const ownProfile = (s: Side): ConfigProfile | undefined => s.profile as ConfigProfile | undefined;
  const kernels = targetsFor(arches, o.flavors).flatMap((target) =>
    trees.flatMap((t) => {
      const onTree = given.filter((s) => s.variant === t.variant && s.base === t.base);
      const profiles = target.flavor === 'normal' ? [...new Set(onTree.map(ownProfile))] : [undefined];
      return profiles.map((profile) => ({ ...t, target, ...(profile ? { profile } : {}) }));
    }),
  );
  for (const k of kernels) {
    if (!k.profile) continue;
    const why = configBase(k.target, k.profile).unsupported;
    const side = given.find((s) => s.variant === k.variant && s.base === k.base && s.profile === k.profile)!;
    if (why) throw new QkError('usage-error', `--side ${side.name}: the ${k.profile} profile cannot be built for ${targetName(k.target)}: ${why}`, { hint: 'leave that backend out of --backend, or the profile out of the side' });
  }
  const notRun: RunPlan['notRun'][number][] = [];
  for (const f of o.flavors) {
    if (f === 'normal' || !o.backends.includes('uml')) continue;
    for (const s of o.sides) notRun.push({ side: s.name, variant: s.variant, backend: 'uml', reason: `the ${f} flavor is built for x86_64 only (QEMU backends)` });
  }
  if (o.stopAfter) {
    const what = { apply: 'the series was applied; nothing was built or booted', config: 'the kernels were configured; nothing was compiled or booted', build: 'the kernels were built; nothing was booted' }[o.stopAfter];
    for (const s of o.sides) for (const b of o.backends) notRun.push({ side: s.name, variant: s.variant, backend: b, reason: `--stop-after ${o.stopAfter}: ${what}` });
  }
  if (kernels.length === 0) throw new QkError('usage-error', 'nothing to build: the flavors asked for do not run on the backends asked for', { hint: 'checker flavors (debug, kcsan) need a QEMU backend' });
  return { sides, variants, trees, bases, arches, kernels, notRun };
}

export function kernelName(k: KernelPlan): string {
  return k.profile ? `${treeId(k)}/${targetName(k.target)}/${k.profile}` : `${treeId(k)}/${targetName(k.target)}`;
}
