import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { QkError } from '../../scripts/lib/plumbing/errors.ts';
import { patchFileHashes, toKcidb, validateKcidb, type KcidbData, type KcidbTest } from '../../scripts/lib/ci/kcidb.ts';
import { Night } from '../../scripts/lib/ci/night.ts';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'night-debian-6.12.json');
const fixture = (): Night => Night.parse(JSON.parse(readFileSync(FIXTURE, 'utf8')));
const ORIGIN = 'qmempool_kit';
/** The fixture's night ran tcg, uml and icount: its leg is in the checkout id. */
const PREFIX = `${ORIGIN}:debian-6.12-tcg+uml+icount-2026-12-02`;
/** KCIDB's recipe, computed by coreutils from the patch files' own hashes: each sha256 in hex and a newline, hashed again. */
async function recipe(hexes: readonly string[]): Promise<string> {
  const r = await execa('sha256sum', [], { input: hexes.map((h) => `${h}\n`).join('') });
  return r.stdout.slice(0, 64);
}

const testAt = (data: KcidbData, path: string): KcidbTest => {
  const t = data.tests?.find((x) => x.path === path);
  if (t === undefined) throw new Error(`no KCIDB test at path ${path}`);
  return t;
};
/** A JSON copy of valid data, for breaking one field at a time. */
const copy = (): Record<string, unknown> & { checkouts: Record<string, unknown>[]; builds: Record<string, unknown>[]; tests: Record<string, unknown>[] } =>
  JSON.parse(JSON.stringify(toKcidb(fixture(), { origin: ORIGIN })));

describe('toKcidb', () => {
  it('turns the night into data the kept KCIDB 5.3 schema accepts', () => {
    const data = toKcidb(fixture(), { origin: ORIGIN, repoUrl: 'https://salsa.debian.org/kernel-team/linux.git', patchBaseUrl: 'https://example.org/qmempool-kit/kernel-patches' });
    expect(validateKcidb(data)).toEqual({ ok: true, errors: [] });
    expect(data.version).toEqual({ major: 5, minor: 3 });
  });

  it('makes one checkout: the base kernel with the series, its patches as files', () => {
    const [checkout, ...rest] = toKcidb(fixture(), { origin: ORIGIN, patchBaseUrl: 'https://example.org/kp/' }).checkouts ?? [];
    expect(rest).toEqual([]);
    expect(checkout).toMatchObject({
      id: PREFIX,
      origin: ORIGIN,
      start_time: '2026-12-02T02:00:00.000Z',
      origin_tests_finish_time: '2026-12-02T03:30:00.000Z',
      valid: true,
    });
    expect(checkout?.patchset_files?.map((f) => f.url)).toEqual([
      'https://example.org/kp/0001-mm-add-qmempool.patch',
      'https://example.org/kp/0002-lib-alf_queue-add-KUnit-tests.patch',
      'https://example.org/kp/0003-net-skb-use-qmempool-for-skb-heads.patch',
    ]);
    expect(checkout?.misc).toMatchObject({ base: 'debian-6.12', series_patches: fixture().series.patches, result: 'regression' });
  });

  it('hashes the patchset as KCIDB defines it: the sha256 of each patch file sha256 and a newline, in order', async () => {
    const [checkout] = toKcidb(fixture(), { origin: ORIGIN }).checkouts ?? [];
    expect(checkout?.patchset_hash).toBe(await recipe(fixture().series.files!.map((f) => f.sha256)));
    expect(checkout?.patchset_hash).not.toBe(fixture().series.hash);
    // The real series, its files hashed by sha256sum in the order of its series file, as another CI system would.
    const dir = join(import.meta.dirname, '..', '..', 'kernel-patches');
    const names = readFileSync(join(dir, 'series'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const bySha256sum = await execa('sha256sum', names, { cwd: dir });
    const expected = await recipe(bySha256sum.stdout.split('\n').map((l) => l.slice(0, 64)));
    const n = fixture();
    n.series = { hash: 'ours', patches: names, files: await patchFileHashes(dir, names) };
    expect(toKcidb(n, { origin: ORIGIN }).checkouts?.[0]?.patchset_hash).toBe(expected);
    // Order matters: the same patches applied in another order are another patchset.
    n.series = { hash: 'ours', patches: [...names].reverse(), files: (await patchFileHashes(dir, names)).reverse() };
    expect(toKcidb(n, { origin: ORIGIN }).checkouts?.[0]?.patchset_hash).not.toBe(expected);
  });

  it('leaves out a patchset hash it cannot compute, and the empty string without patches', () => {
    const n = fixture();
    delete n.series.files;
    expect(toKcidb(n, { origin: ORIGIN }).checkouts?.[0]).not.toHaveProperty('patchset_hash');
    n.series = { hash: '', patches: [] };
    expect(toKcidb(n, { origin: ORIGIN }).checkouts?.[0]?.patchset_hash).toBe('');
  });

  it('names a Debian base by its package, never by the local commit made of its files', () => {
    const [deb] = toKcidb(fixture(), { origin: ORIGIN }).checkouts ?? [];
    expect(deb).not.toHaveProperty('git_commit_hash');
    expect(deb?.tree_name).toBe('linux-source-6.12 6.12.57-1');
    expect(deb?.misc).toMatchObject({ source: { kind: 'debian', package: { name: 'linux-source-6.12', version: '6.12.57-1' } }, kernel_commit: fixture().kernel.commit });
    const tarball = fixture();
    tarball.kernel.source = { kind: 'tarball' };
    expect(toKcidb(tarball, { origin: ORIGIN }).checkouts?.[0]).not.toHaveProperty('git_commit_hash');
  });

  it('gives a --git base its repository URL and upstream commit', () => {
    const n = fixture();
    n.base = 'v6.18';
    n.kernel.source = { kind: 'git', url: 'https://git.example.org/linux.git', ref: 'v6.18' };
    const data = toKcidb(n, { origin: ORIGIN });
    expect(data.checkouts?.[0]).toMatchObject({ tree_name: 'v6.18', git_repository_url: 'https://git.example.org/linux.git', git_commit_hash: n.kernel.commit, misc: { source: { ref: 'v6.18' } } });
    expect(validateKcidb(data)).toEqual({ ok: true, errors: [] });
    // KCIDB takes https only: another scheme stays in misc.
    n.kernel.source = { kind: 'git', url: 'git://git.example.org/linux.git', ref: 'v6.18' };
    expect(toKcidb(n, { origin: ORIGIN }).checkouts?.[0]).not.toHaveProperty('git_repository_url');
  });

  it('gives each leg of one base and night its own checkout, builds and tests', () => {
    const leg = (backend: string) => {
      const n = fixture();
      n.backends = [backend];
      return toKcidb(n, { origin: ORIGIN });
    };
    const uml = leg('uml');
    const kvm = leg('kvm');
    expect(uml.checkouts?.[0]?.id).toBe(`${ORIGIN}:debian-6.12-uml-2026-12-02`);
    expect(kvm.checkouts?.[0]?.id).toBe(`${ORIGIN}:debian-6.12-kvm-2026-12-02`);
    const ids = (d: KcidbData) => [...(d.checkouts ?? []), ...(d.builds ?? []), ...(d.tests ?? [])].map((x) => x.id);
    const shared = ids(uml).filter((id) => ids(kvm).includes(id));
    expect(shared).toEqual([]);
  });

  it('makes a build per tree and per architecture booted, with the tree build status', () => {
    const n = fixture();
    n.trees[1]!.build = 'fail';
    n.trees[1]!.reason = 'mm/qmempool.c:12:5: error: unknown type name';
    const builds = toKcidb(n, { origin: ORIGIN }).builds ?? [];
    expect(builds.map((b) => [b.id, b.architecture, b.status])).toEqual([
      [`${PREFIX}-baseline-x86_64`, 'x86_64', 'PASS'],
      [`${PREFIX}-baseline-um`, 'um', 'PASS'],
      [`${PREFIX}-patched-x86_64`, 'x86_64', 'FAIL'],
      [`${PREFIX}-patched-um`, 'um', 'FAIL'],
    ]);
    expect(builds[2]?.log_excerpt).toContain('unknown type name');
  });

  it('builds x86_64 only when the night booted no UML guest', () => {
    const n = fixture();
    n.tests = n.tests.filter((t) => !t.name.includes('.uml.'));
    n.metrics = n.metrics.filter((m) => m.backend !== 'uml');
    expect(toKcidb(n, { origin: ORIGIN }).builds?.map((b) => b.architecture)).toEqual(['x86_64', 'x86_64']);
  });

  it('puts each test on the build of its side and backend, under its dotted name', () => {
    const data = toKcidb(fixture(), { origin: ORIGIN });
    expect(data.tests).toHaveLength(fixture().tests.length + fixture().metrics.length);
    expect(testAt(data, 'kunit.patched.tcg.alf_queue.alf_test_wrap')).toMatchObject({ build_id: `${PREFIX}-patched-x86_64`, status: 'PASS' });
    expect(testAt(data, 'kunit.patched.uml.qmempool.qmempool_test_softirq')).toMatchObject({ build_id: `${PREFIX}-patched-um`, status: 'SKIP' });
    expect(testAt(data, 'boot.baseline.uml.boot.r0')).toMatchObject({ build_id: `${PREFIX}-baseline-um`, duration: 3.1 });
    const stress = testAt(data, 'kunit.patched.tcg.qmempool.qmempool_test_stress');
    expect(stress).toMatchObject({ status: 'FAIL', log_excerpt: expect.stringContaining('but was 61') });
    expect(stress.misc?.['findings']).toEqual([{ kind: 'new-failure', message: expect.stringContaining('new failure') }]);
  });

  it('carries a metric as a bench test: the number, and the distribution in misc', () => {
    const data = toKcidb(fixture(), { origin: ORIGIN });
    const slab = testAt(data, 'bench.slab.reuse.baseline.icount');
    // A measurement is DONE, as the schema says a number normally goes.
    expect(slab).toMatchObject({ build_id: `${PREFIX}-baseline-x86_64`, status: 'DONE', number: { value: 101.5, unit: 'ns' } });
    expect(slab.misc).toMatchObject({
      value: 101.5,
      unit: 'ns',
      backend: 'icount',
      kind: 'absolute',
      interval: { lo: 99.8, hi: 104.2 },
      figures: [99.8, 101.2, 101.8, 104.2],
      samples: fixture().metrics[0]!.samples,
    });
    const ratio = testAt(data, 'bench.skb.alloc_free.patched_vs_baseline_tcg');
    expect(ratio).toMatchObject({ build_id: `${PREFIX}-patched-x86_64`, number: { value: 0.82, unit: '×' } });
    expect(ratio.misc).toMatchObject({ kind: 'ratio', interval: { lo: 0.79, hi: 0.85 } });
    expect(ratio.misc).not.toHaveProperty('samples');
    expect(testAt(data, 'bench.qmempool.reuse.patched_vs_baseline_uml').build_id).toBe(`${PREFIX}-patched-um`);
  });

  it('fails the bench test of a metric the night found regressed, with the finding', () => {
    const data = toKcidb(fixture(), { origin: ORIGIN });
    const regressed = testAt(data, 'bench.qmempool.reuse.patched.icount');
    expect(regressed.status).toBe('FAIL');
    expect(regressed.log_excerpt).toBe('qmempool/reuse@patched/icount regressed: 48.25 ns, was 44.1 ns (+9.4%)');
    expect(data.tests?.filter((t) => t.path?.startsWith('bench.') && t.status === 'FAIL')).toHaveLength(1);
  });

  it('gives every object a deterministic id under the origin', () => {
    const a = toKcidb(fixture(), { origin: ORIGIN });
    expect(toKcidb(fixture(), { origin: ORIGIN })).toEqual(a);
    const ids = [...(a.checkouts ?? []), ...(a.builds ?? []), ...(a.tests ?? [])].map((x) => x.id);
    expect(ids.every((id) => id.startsWith(`${PREFIX}`))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('takes the commit hash only when it is a full sha1, and an empty patchset without patches', () => {
    const n = fixture();
    n.kernel.source = { kind: 'tree' };
    n.kernel.commit = 'a'.repeat(40);
    n.series = { hash: '', patches: [] };
    const [withCommit] = toKcidb(n, { origin: ORIGIN }).checkouts ?? [];
    expect(withCommit).toMatchObject({ git_commit_hash: 'a'.repeat(40), patchset_hash: '' });
    n.kernel.commit = 'v6.12.57';
    const [tagged] = toKcidb(n, { origin: ORIGIN }).checkouts ?? [];
    expect(tagged).not.toHaveProperty('git_commit_hash');
    expect(tagged?.misc?.['kernel_commit']).toBe('v6.12.57');
  });

  it('marks the checkout invalid when the series does not apply, with why', () => {
    const n = fixture();
    n.trees[1] = { variant: 'patched', apply: 'fail', build: 'skip', boot: 'skip', kunit: 'skip', reason: 'patch 0002 does not apply: lib/Makefile' };
    const data = toKcidb(n, { origin: ORIGIN });
    expect(data.checkouts?.[0]).toMatchObject({ valid: false, log_excerpt: 'patched: patch 0002 does not apply: lib/Makefile' });
    expect(data.builds?.find((b) => b.id === `${PREFIX}-patched-x86_64`)?.status).toBe('SKIP');
    expect(validateKcidb(data).ok).toBe(true);
  });

  it('reduces test names to KCIDB path characters', () => {
    const n = fixture();
    n.tests = [{ name: 'kunit.qmempool.bulk (n=64)', status: 'pass' }];
    const data = toKcidb(n, { origin: ORIGIN });
    expect(data.tests?.[0]).toMatchObject({ path: 'kunit.qmempool.bulk_n_64', build_id: `${PREFIX}-patched-x86_64` });
    expect(validateKcidb(data).ok).toBe(true);
  });

  it('refuses what KCIDB would refuse, with an error for people', () => {
    expect(() => toKcidb(fixture(), { origin: 'qmempool-kit' })).toThrow(QkError);
    expect(() => toKcidb(fixture(), { origin: ORIGIN, repoUrl: 'git://git.kernel.org/linux.git' })).toThrow(/https/);
    const n = fixture();
    n.series.files = n.series.files!.slice(1);
    expect(() => toKcidb(n, { origin: ORIGIN })).toThrow(/are not its series/);
    const clash = fixture();
    clash.tests.push({ name: 'kunit.patched.tcg.alf_queue.alf test wrap', status: 'pass' });
    expect(() => toKcidb(clash, { origin: ORIGIN })).toThrow(/same KCIDB test id/);
    const treeless = fixture();
    treeless.trees = [];
    expect(() => toKcidb(treeless, { origin: ORIGIN })).toThrow(/no kernel tree/);
  });
});

describe('validateKcidb', () => {
  it('accepts the smallest data: a version', () => {
    expect(validateKcidb({ version: { major: 5 } }).ok).toBe(true);
  });

  it.each<[string, (d: ReturnType<typeof copy>) => void, RegExp]>([
    ['a missing version', (d) => delete d['version'], /version/],
    ['a v4 major version', (d) => (d['version'] = { major: 4, minor: 5 }), /\/version\/major/],
    ['a minor version this schema does not know', (d) => (d['version'] = { major: 5, minor: 4 }), /\/version\/minor/],
    ['a test status outside the six', (d) => (d.tests[0]!['status'] = 'PASSED'), /\/tests\/0\/status.*allowedValues/],
    ['a build status outside the six', (d) => (d.builds[0]!['status'] = 'pass'), /\/builds\/0\/status/],
    ['a v4 build "valid" flag', (d) => (d.builds[0]!['valid'] = true), /\/builds\/0.*additionalProperty.*valid/],
    ['an id without the origin prefix', (d) => (d.tests[0]!['id'] = 'debian-6.12-2026-12-02-boot'), /\/tests\/0\/id.*pattern/],
    ['a build id with an upper-case origin', (d) => (d.builds[0]!['id'] = 'QK:debian-6.12'), /\/builds\/0\/id/],
    ['a checkout without its id', (d) => delete d.checkouts[0]!['id'], /\/checkouts\/0.*missingProperty.*id/],
    ['a test without build_id', (d) => delete d.tests[0]!['build_id'], /missingProperty.*build_id/],
    ['a git:// repository URL', (d) => (d.checkouts[0]!['git_repository_url'] = 'git://git.kernel.org/linux.git'), /git_repository_url/],
    ['a short commit hash', (d) => (d.checkouts[0]!['git_commit_hash'] = 'abc1234'), /git_commit_hash/],
    ['a patchset hash that is not sha256', (d) => (d.checkouts[0]!['patchset_hash'] = 'f00d'), /patchset_hash/],
    ['a start time that is not a date-time', (d) => (d.checkouts[0]!['start_time'] = 'last night'), /start_time.*date-time/],
    ['a test path with a space', (d) => (d.tests[0]!['path'] = 'kunit.a b'), /\/tests\/0\/path/],
    ['a null property', (d) => (d.tests[0]!['duration'] = null), /\/tests\/0\/duration/],
    ['a number without a value', (d) => (d.tests.find((t) => t['number'] !== undefined)!['number'] = { unit: 'ns' }), /number.*value/],
    ['misc that is not an object', (d) => (d.tests[0]!['misc'] = [1, 2]), /misc/],
    ['a log excerpt over 16 KiB', (d) => (d.tests[0]!['log_excerpt'] = 'x'.repeat(16_385)), /log_excerpt/],
    ['an unknown top-level list', (d) => (d['revisions'] = []), /additionalProperty.*revisions/],
  ])('rejects %s', (_what, breakIt, message) => {
    const d = copy();
    expect(validateKcidb(d).ok).toBe(true);
    breakIt(d);
    const r = validateKcidb(d);
    expect(r.ok).toBe(false);
    expect(r.errors.join('\n')).toMatch(message);
  });
});
