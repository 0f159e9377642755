/**
 * One night's record as KCIDB I/O data (schema 5.3), so a nightly run can be
 * submitted to KernelCI's common results database next to other CI systems'
 * results (kcidb-submit reads this JSON), and checked against a schema kept
 * in the repository (scripts/schemas/kcidb-io-v5.schema.json) before it goes.
 *
 * The mapping:
 *   checkout  the base kernel with the series on top, one a night and leg
 *             (the backends it ran: a CI's uml and kvm legs of one base
 *             are separate checkouts, never one id with two meanings). Its
 *             git_commit_hash only where the commit is upstream's (--git,
 *             --tree): a Debian package or tarball base is a local commit
 *             of ours, so the package's name and version go to tree_name
 *             and misc instead. patchset_hash as KCIDB defines it (see
 *             patchsetHash);
 *   builds    one a tree (baseline, patched ...) and architecture; the
 *             architecture comes from the backends the night booted (uml:
 *             um, QEMU: x86_64), x86_64 when it booted nothing;
 *   tests     one a NightTest (its dotted name is the KCIDB path), and one
 *             a NightMetric ("bench.<key>"): the single number in
 *             `number` and misc.value, the distribution beside it in misc
 *             (interval, figures, samples), DONE (a measurement, as the
 *             schema says of a number), or FAIL when the night found a
 *             regression of that key. A result goes to the build of
 *             the side and backend its name or key carries ("boot.<side>.
 *             <backend>...", "kunit.<side>.<backend>...", "<name>@<side>/
 *             <backend>", "<name>: <side> vs <ref> (<backend>)").
 * Every id is the origin, a colon, then the base and night: deterministic,
 * so submitting the same night again replaces rather than duplicates.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { QkError } from '../plumbing/errors.ts';
import { ARCH_SPECS, DEFAULT_PROFILE, type Arch } from '../pipeline/kbuild.ts';
import { REPO_ROOT } from '../plumbing/paths.ts';
import type { Finding, Night, NightMetric, NightTest, TreeStatus } from './night.ts';
import { BACKENDS } from '../analysis/results.ts';

export const KCIDB_VERSION = { major: 5, minor: 3 } as const;
export const KCIDB_SCHEMA_PATH = join(REPO_ROOT, 'scripts', 'schemas', 'kcidb-io-v5.schema.json');

type Json = string | number | boolean | null | readonly Json[] | { readonly [key: string]: Json };
export type KcidbMisc = { readonly [key: string]: Json };
export type KcidbStatus = 'FAIL' | 'ERROR' | 'MISS' | 'PASS' | 'DONE' | 'SKIP';
export interface KcidbResource {
  readonly name: string;
  readonly url: string;
}

export interface KcidbCheckout {
  readonly id: string;
  readonly origin: string;
  readonly tree_name?: string;
  readonly git_repository_url?: string;
  readonly git_commit_hash?: string;
  readonly patchset_hash?: string;
  readonly patchset_files?: readonly KcidbResource[];
  readonly comment?: string;
  readonly start_time?: string;
  readonly origin_builds_finish_time?: string;
  readonly origin_tests_finish_time?: string;
  readonly log_excerpt?: string;
  readonly valid?: boolean;
  readonly misc?: KcidbMisc;
}

export interface KcidbBuild {
  readonly id: string;
  readonly checkout_id: string;
  readonly origin: string;
  readonly architecture?: string;
  readonly config_name?: string;
  readonly compiler?: string;
  readonly start_time?: string;
  readonly duration?: number;
  readonly log_excerpt?: string;
  readonly status?: KcidbStatus;
  readonly misc?: KcidbMisc;
}

export interface KcidbTest {
  readonly id: string;
  readonly build_id: string;
  readonly origin: string;
  readonly path?: string;
  readonly status?: KcidbStatus;
  readonly number?: { readonly value: number; readonly unit?: string; readonly prefix?: 'metric' | 'binary' };
  readonly environment?: { readonly comment?: string; readonly misc?: KcidbMisc };
  readonly start_time?: string;
  readonly duration?: number;
  readonly log_excerpt?: string;
  readonly output_files?: readonly KcidbResource[];
  readonly misc?: KcidbMisc;
}

export interface KcidbData {
  readonly version: { readonly major: 5; readonly minor: number };
  readonly checkouts?: readonly KcidbCheckout[];
  readonly builds?: readonly KcidbBuild[];
  readonly tests?: readonly KcidbTest[];
}

export interface KcidbOptions {
  /** The submitter's origin name as agreed with KCIDB: lower-case letters, digits, '_'. */
  readonly origin: string;
  /** The https:// URL of the git repository holding the base kernel commit. */
  readonly repoUrl?: string;
  /** A URL the series' patch files can be downloaded under (e.g. a raw kernel-patches/ directory): gives the checkout its patchset_files. */
  readonly patchBaseUrl?: string;
}

const STATUS = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP' } as const satisfies Record<TreeStatus['build'], KcidbStatus>;
const EXCERPT_MAX = 16_384;

export function toKcidb(night: Night, o: KcidbOptions): KcidbData {
  if (!/^[a-z0-9_]+$/.test(o.origin)) {
    throw new QkError('usage-error', `KCIDB origin '${o.origin}' is not lower-case letters, digits and '_'`, { hint: 'use the origin name KCIDB gave this submitter, e.g. qmempool_kit' });
  }
  const checkoutId = `${o.origin}:${night.base}${legOf(night)}-${night.night}`;
  const startTime = timeOf(night.startedAt, 'startedAt');
  const endTime = new Date(Date.parse(startTime) + night.wallMs).toISOString();
  const arches = archesOf(night);
  const builds = night.trees.flatMap((tree) => arches.map((arch) => buildOf(tree, arch, checkoutId, startTime, o.origin)));
  const buildId = (side: string | undefined, backend: string | undefined): string => {
    const tree = treeFor(night, side);
    return `${checkoutId}-${tree.variant}-${backend === undefined ? arches[0]! : archOf(backend)}`;
  };

  const tests: KcidbTest[] = [];
  const ids = new Set<string>();
  const add = (t: KcidbTest): void => {
    if (ids.has(t.id)) {
      throw new QkError('infra-error', `two results of night ${night.night} (${night.base}) map to the same KCIDB test id ${t.id}`, { hint: 'test names and metric keys must stay distinct once reduced to KCIDB path characters [A-Za-z0-9_-]' });
    }
    ids.add(t.id);
    tests.push(t);
  };
  for (const t of night.tests) add(testOf(t, night.findings, buildId, startTime, o.origin));
  for (const m of night.metrics) add(metricOf(m, night.findings, buildId, startTime, o.origin));

  return {
    version: { ...KCIDB_VERSION },
    checkouts: [checkoutOf(night, checkoutId, startTime, endTime, o)],
    builds,
    tests,
  };
}

/** "-uml" for a night of the uml backend (a CI leg); nothing for older records, which do not say. */
function legOf(night: Night): string {
  return night.backends !== undefined && night.backends.length > 0 ? `-${night.backends.join('+')}` : '';
}

function checkoutOf(night: Night, id: string, startTime: string, endTime: string, o: KcidbOptions): KcidbCheckout {
  const applied = night.trees.map((t) => t.apply);
  const applyErrors = night.trees.filter((t) => t.apply === 'fail').map((t) => `${t.variant}: ${t.reason ?? 'the series does not apply'}`);
  const commit = night.kernel.commit;
  const source = night.kernel.source;
  // Only upstream's commit is "the base commit": a Debian package or tarball base is a commit we made of its files.
  const upstream = source === undefined || source.kind === 'git' || source.kind === 'tree';
  // KCIDB takes only https:// repository URLs: a git:// or ssh base keeps its URL in misc alone.
  const repoUrl = o.repoUrl ?? (source?.kind === 'git' && source.url !== undefined && /^https:\/\/\S+$/.test(source.url) ? source.url : undefined);
  const patchset = patchsetHash(night);
  return {
    id,
    origin: o.origin,
    tree_name: source?.package !== undefined ? `${source.package.name} ${source.package.version}` : night.base,
    ...(repoUrl !== undefined ? { git_repository_url: httpsUrl(repoUrl, 'the git repository URL') } : {}),
    ...(upstream && commit !== undefined && /^[0-9a-f]{40}$/.test(commit) ? { git_commit_hash: commit } : {}),
    ...(patchset !== undefined ? { patchset_hash: patchset } : {}),
    ...(o.patchBaseUrl !== undefined ? { patchset_files: patchFiles(night.series.patches, o.patchBaseUrl) } : {}),
    comment: night.kernel.description,
    start_time: startTime,
    origin_builds_finish_time: endTime,
    origin_tests_finish_time: endTime,
    ...(applyErrors.length > 0 ? { log_excerpt: excerpt(applyErrors.join('\n')) } : {}),
    ...(applied.includes('fail') ? { valid: false } : applied.includes('pass') ? { valid: true } : {}),
    misc: {
      base: night.base,
      night: night.night,
      kernel_version: night.kernel.version,
      ...(commit !== undefined ? { kernel_commit: commit } : {}),
      ...(source !== undefined ? { source: { kind: source.kind, ...(source.package ? { package: source.package } : {}), ...(source.url ? { url: source.url } : {}), ...(source.ref ? { ref: source.ref } : {}) } } : {}),
      ...(night.backends !== undefined ? { backends: night.backends } : {}),
      ...(night.tool.commit !== undefined ? { tool_commit: night.tool.commit } : {}),
      series_hash: night.series.hash,
      series_patches: night.series.patches,
      run_dir: night.runDir,
      report: night.report,
      result: night.result,
      exit_code: night.exitCode,
      wall_ms: night.wallMs,
      findings: night.findings,
      crashes: night.crashes,
    },
  };
}

function buildOf(tree: TreeStatus, arch: Arch, checkoutId: string, startTime: string, origin: string): KcidbBuild {
  const spec = ARCH_SPECS[arch];
  return {
    id: `${checkoutId}-${tree.variant}-${arch}`,
    checkout_id: checkoutId,
    origin,
    architecture: arch,
    config_name: [...spec.profiles[DEFAULT_PROFILE].defconfig, ...spec.profiles[DEFAULT_PROFILE].fragments].join('+'),
    compiler: 'gcc',
    start_time: startTime,
    status: STATUS[tree.build],
    ...(tree.build === 'fail' && tree.reason !== undefined ? { log_excerpt: excerpt(tree.reason) } : {}),
    misc: { variant: tree.variant, apply: tree.apply, build: tree.build, boot: tree.boot, kunit: tree.kunit, ...(tree.reason !== undefined ? { reason: tree.reason } : {}) },
  };
}

type BuildIdOf = (side: string | undefined, backend: string | undefined) => string;

function testOf(t: NightTest, findings: readonly Finding[], buildId: BuildIdOf, startTime: string, origin: string): KcidbTest {
  const ran = ranOn(t.name);
  const build = buildId(ran?.side, ran?.backend);
  const path = kcidbPath(t.name.split('.'));
  const found = findingsOf(findings, t.name);
  return {
    id: `${build}-${path}`,
    build_id: build,
    origin,
    path,
    status: STATUS[t.status],
    ...(ran !== undefined ? { environment: environmentOf(ran.backend) } : {}),
    start_time: startTime,
    ...(t.durationS !== undefined ? { duration: t.durationS } : {}),
    ...(t.message !== undefined ? { log_excerpt: excerpt(t.message) } : {}),
    misc: { name: t.name, ...(found.length > 0 ? { findings: found } : {}) },
  };
}

function metricOf(m: NightMetric, findings: readonly Finding[], buildId: BuildIdOf, startTime: string, origin: string): KcidbTest {
  const build = buildId(metricSide(m.key), m.backend);
  const path = kcidbPath(['bench', ...m.key.split(/[/@:.]/)]);
  const found = findingsOf(findings, m.key);
  const regression = findings.find((f) => f.kind === 'regression' && f.key === m.key);
  return {
    id: `${build}-${m.backend}-${path}`,
    build_id: build,
    origin,
    path,
    status: regression === undefined ? 'DONE' : 'FAIL',
    number: { value: m.value, unit: m.unit },
    environment: environmentOf(m.backend),
    start_time: startTime,
    ...(regression !== undefined ? { log_excerpt: excerpt(regression.message) } : {}),
    misc: {
      key: m.key,
      name: m.name,
      value: m.value,
      unit: m.unit,
      backend: m.backend,
      kind: m.kind,
      interval: { lo: m.lo, hi: m.hi },
      figures: m.figures,
      ...(m.samples !== undefined ? { samples: m.samples } : {}),
      ...(found.length > 0 ? { findings: found } : {}),
    },
  };
}

/** Architectures the night's boots ran on, x86_64 first; x86_64 alone when nothing booted. */
function archesOf(night: Night): Arch[] {
  const backends = [
    ...night.tests.flatMap((t) => ranOn(t.name)?.backend ?? []),
    ...night.metrics.map((m) => m.backend),
    ...night.crashes.map((c) => c.backend),
  ];
  const seen = new Set(backends.map(archOf));
  const arches = (['x86_64', 'um'] as const).filter((a) => seen.has(a));
  return arches.length > 0 ? arches : ['x86_64'];
}

function archOf(backend: string): Arch {
  return backend === 'uml' ? 'um' : 'x86_64';
}

/** The tree a side ran: the tree of that name, else the patched tree (sides like "on"/"off" are patched with a switch), else the last. */
function treeFor(night: Night, side: string | undefined): TreeStatus {
  const tree = night.trees.find((t) => t.variant === side) ?? night.trees.find((t) => t.variant === 'patched') ?? night.trees.at(-1);
  if (tree === undefined) {
    throw new QkError('infra-error', `night ${night.night} (${night.base}) has test results but no kernel tree to attach them to`, { hint: 'a night record with tests or metrics must list its trees' });
  }
  return tree;
}

/** Side and backend of "boot.<side>.<backend>..." and "kunit.<side>.<backend>..."; none for "kunit.<suite>.<case>". */
function ranOn(name: string): { side: string; backend: string } | undefined {
  const m = /^(?:boot|kunit)\.([^.]+)\.([^.]+)(?:\.|$)/.exec(name);
  return m !== null && (BACKENDS as readonly string[]).includes(m[2]!) ? { side: m[1]!, backend: m[2]! } : undefined;
}

/** "slab/reuse@baseline/icount" → baseline; "skb/alloc_free: patched vs baseline (tcg)" → patched. */
function metricSide(key: string): string | undefined {
  return /@([^@/\s]+)(?:\/[^@/\s]+)?$/.exec(key)?.[1] ?? /:\s*(\S+)\s+vs\s+\S+(?:\s+\([^)]*\))?\s*$/.exec(key)?.[1];
}

function environmentOf(backend: string): NonNullable<KcidbTest['environment']> {
  return { comment: `qmempool-kit ${backend} guest`, misc: { backend } };
}

function findingsOf(findings: readonly Finding[], key: string): KcidbMisc[] {
  return findings.filter((f) => f.key === key).map((f) => ({ kind: f.kind, message: f.message }));
}

/** A dotted KCIDB path from name parts: characters outside [A-Za-z0-9_-] become '_', empty parts drop out. */
function kcidbPath(parts: readonly string[]): string {
  const clean = parts.map((p) => p.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '')).filter((p) => p.length > 0);
  if (clean.length === 0) throw new QkError('infra-error', `'${parts.join('.')}' leaves no KCIDB test path`);
  return clean.join('.');
}

/**
 * The checkout's patchset_hash as KCIDB defines it, so that another CI
 * system's checkout of the same series has the same one: the sha256 of
 * each patch file's sha256 in hex followed by a newline, in the order the
 * patches apply (`sha256sum $(cat series) | cut -c-64 | sha256sum`); the
 * empty string without patches. A record without the patch files' hashes
 * (older nights) gets none: the series hash is this tool's own and would
 * never match anyone else's.
 */
export function patchsetHash(night: Pick<Night, 'series'>): string | undefined {
  if (night.series.patches.length === 0) return '';
  const files = night.series.files;
  if (files === undefined) return undefined;
  if (files.map((f) => f.name).join('\n') !== night.series.patches.join('\n')) {
    throw new QkError('infra-error', `the night record's patch hashes (${files.map((f) => f.name).join(', ')}) are not its series (${night.series.patches.join(', ')})`, { hint: 'the record was edited by hand or written by a broken tool: write the night again' });
  }
  return createHash('sha256').update(files.map((f) => `${f.sha256}\n`).join('')).digest('hex');
}

/** Each patch file's sha256 (of its bytes alone), in order: what patchsetHash is made from. */
export async function patchFileHashes(dir: string, names: readonly string[]): Promise<{ name: string; sha256: string }[]> {
  const out = [];
  for (const name of names) {
    let bytes: Buffer;
    try {
      bytes = await readFile(join(dir, name));
    } catch (cause) {
      throw new QkError('infra-error', `cannot read patch ${name} of the series in ${dir} to hash it for KCIDB`, { cause, hint: 'the series directory changed while the night ran; run the night again' });
    }
    out.push({ name, sha256: createHash('sha256').update(bytes).digest('hex') });
  }
  return out;
}

function patchFiles(patches: readonly string[], baseUrl: string): KcidbResource[] {
  const base = httpsUrl(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`, 'patchBaseUrl');
  return patches.map((p) => ({ name: basename(p), url: new URL(encodeURIComponent(basename(p)), base).href }));
}

function httpsUrl(url: string, what: string): string {
  if (!/^https:\/\/\S+$/.test(url) || !URL.canParse(url)) {
    throw new QkError('usage-error', `${what} '${url}' is not an https:// URL`, { hint: 'KCIDB takes only https:// repository and file URLs' });
  }
  return url;
}

function timeOf(text: string, what: string): string {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new QkError('infra-error', `${what} '${text}' of the night record is not a date and time`);
  return new Date(ms).toISOString();
}

function excerpt(text: string): string {
  return text.length <= EXCERPT_MAX ? text : `${text.slice(0, EXCERPT_MAX - 1)}…`;
}

let validator: ValidateFunction | undefined;

function kcidbValidator(): ValidateFunction {
  if (validator === undefined) {
    let schema: unknown;
    try {
      schema = JSON.parse(readFileSync(KCIDB_SCHEMA_PATH, 'utf8'));
    } catch (cause) {
      throw new QkError('infra-error', `cannot read the KCIDB schema ${KCIDB_SCHEMA_PATH}`, { cause, hint: 'the file is part of the repository; restore it with git checkout' });
    }
    const ajv = new Ajv({ allErrors: true, strict: true });
    addFormatsModule.default(ajv);
    validator = ajv.compile(schema as object);
  }
  return validator;
}

/** Check data against the kept KCIDB I/O 5.3 schema; errors read "<JSON pointer>: <what is wrong>". */
export function validateKcidb(data: unknown): { ok: boolean; errors: string[] } {
  const validate = kcidbValidator();
  if (validate(data)) return { ok: true, errors: [] };
  return { ok: false, errors: (validate.errors ?? []).map(describeError) };
}

function describeError(e: ErrorObject): string {
  return `${e.instancePath === '' ? '/' : e.instancePath}: ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`;
}
