import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { toJunit } from '../../scripts/lib/ci/junit.ts';
import { Night } from '../../scripts/lib/ci/night.ts';
import { XMLLINT } from '../../scripts/lib/commands/testdeps.ts';
import { useTempDir } from './tempdir.ts';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'night-debian-6.12.json');
const fixture = (): Night => Night.parse(JSON.parse(readFileSync(FIXTURE, 'utf8')));

/** The attributes of the first element with this tag, or of the element whose name attribute is `name`. */
function attrs(xml: string, tag: string, name?: string): Record<string, string> {
  const re = new RegExp(`<${tag}\\b([^>]*)>`, 'g');
  for (const m of xml.matchAll(re)) {
    const a = Object.fromEntries([...m[1]!.matchAll(/([\w:-]+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    if (name === undefined || a['name'] === name) return a;
  }
  throw new Error(`no <${tag}${name === undefined ? '' : ` name="${name}"`}> in the report`);
}
const count = (xml: string, tag: string): number => xml.match(new RegExp(`<${tag}[\\s/>]`, 'g'))?.length ?? 0;
/** The XML of one test case, from its opening tag to its end. */
function testcase(xml: string, name: string): string {
  const start = xml.indexOf(`name="${name}"`);
  if (start < 0) throw new Error(`no test case ${name}`);
  const open = xml.lastIndexOf('<testcase', start);
  const tagEnd = xml.indexOf('>', start);
  const selfClosed = xml[tagEnd - 1] === '/';
  return selfClosed ? xml.slice(open, tagEnd + 1) : xml.slice(open, xml.indexOf('</testcase>', start) + '</testcase>'.length);
}

describe('toJunit', () => {
  it('counts every case, failure and skip of the night', () => {
    const xml = toJunit(fixture());
    // trees 2×4, tests 7, metrics 4, crashes 2
    expect(count(xml, 'testcase')).toBe(21);
    // patched.kunit, the stress KUnit case, the regressed metric, the new crash
    expect(count(xml, 'failure')).toBe(4);
    // baseline.apply, baseline.kunit, the UML softirq case
    expect(count(xml, 'skipped')).toBe(3);
    expect(attrs(xml, 'testsuites')).toEqual({ name: 'qmempool-kit.debian-6.12.2026-12-02', tests: '21', failures: '4', errors: '0', time: '5400' });
  });

  it('has one suite for each kind of result', () => {
    const xml = toJunit(fixture());
    expect(attrs(xml, 'testsuite', 'qmempool-kit.debian-6.12.trees')).toMatchObject({ tests: '8', failures: '1', skipped: '2' });
    expect(attrs(xml, 'testsuite', 'qmempool-kit.debian-6.12.tests')).toMatchObject({ tests: '7', failures: '1', skipped: '1' });
    expect(attrs(xml, 'testsuite', 'qmempool-kit.debian-6.12.metrics')).toMatchObject({ tests: '4', failures: '1', skipped: '0' });
    expect(attrs(xml, 'testsuite', 'qmempool-kit.debian-6.12.crashes')).toMatchObject({ tests: '2', failures: '1', skipped: '0' });
  });

  it('turns a regression finding into a failure of that metric, with its message', () => {
    const xml = toJunit(fixture());
    const c = testcase(xml, 'qmempool/reuse@patched/icount');
    expect(attrs(c, 'failure')).toEqual({ message: 'qmempool/reuse@patched/icount regressed: 48.25 ns, was 44.1 ns (+9.4%)', type: 'regression' });
    // GitLab shows the body of <failure>, not its message.
    expect(c).toContain('>qmempool/reuse@patched/icount regressed: 48.25 ns, was 44.1 ns (+9.4%)</failure>');
    expect(c).toContain('<system-out>48.25 ns [47.9, 48.6] (absolute, icount); figures: 47.9 48.2 48.3 48.6</system-out>');
    expect(c).not.toContain('<properties');
    expect(testcase(xml, 'slab/reuse@baseline/icount')).not.toContain('<failure');
  });

  it('fails no metric when the night found no regression', () => {
    const n = fixture();
    n.findings = n.findings.filter((f) => f.kind !== 'regression');
    expect(attrs(toJunit(n), 'testsuite', 'qmempool-kit.debian-6.12.metrics')).toMatchObject({ tests: '4', failures: '0' });
  });

  it('names tree steps <variant>.<step> and gives failures the tree reason', () => {
    const xml = toJunit(fixture());
    expect(attrs(testcase(xml, 'patched.kunit'), 'failure')['message']).toBe('qmempool.qmempool_test_stress failed on tcg');
    expect(testcase(xml, 'patched.kunit')).toContain('>qmempool.qmempool_test_stress failed on tcg</failure>');
    // The reason of a skip in the body too: GitLab shows the text of <skipped>.
    expect(testcase(xml, 'baseline.apply')).toContain('<skipped message="the baseline carries no series">the baseline carries no series</skipped>');
    expect(testcase(xml, 'patched.build')).not.toMatch(/<failure|<skipped/);
  });

  it('fails a new crash with its frames, and passes one seen on an earlier night', () => {
    const xml = toJunit(fixture());
    const fresh = testcase(xml, 'patched.tcg.warning.9c1e4f0a2b7d');
    expect(attrs(fresh, 'failure')).toMatchObject({ type: 'warning', message: 'new crash: warning on patched/tcg' });
    expect(fresh).toContain('>new crash: warning on patched/tcg\nqmempool_free_bulk+0x8e/0x120\nskb_release_data');
    const known = testcase(xml, 'baseline.tcg.oops.41d07be3f5a8');
    expect(known).not.toContain('<failure');
    expect(known).toContain('first seen on night 2026-11-28');
  });

  it('keeps the KUnit failure message and the case time', () => {
    const xml = toJunit(fixture());
    expect(attrs(testcase(xml, 'kunit.patched.tcg.qmempool.qmempool_test_stress'), 'failure')['message']).toBe('Expected qmempool_alloc_bulk(pool, objs, 64) == 64, but was 61');
    expect(attrs(xml, 'testcase', 'boot.baseline.tcg.boot.r0')['time']).toBe('41.2');
  });

  it('builds each report afresh and escapes what XML cannot hold as it is', () => {
    const n = fixture();
    n.crashes[0]!.frames = ['weird]]>frame <&>'];
    n.tests[5]!.message = 'a "quoted"\nreason\u0007 with a bell';
    const first = toJunit(n);
    expect(toJunit(n)).toBe(first);
    expect(first).toContain('weird]]&gt;frame &lt;&amp;&gt;');
    expect(first).toContain('message="a &quot;quoted&quot;&#10;reason with a bell"');
  });

  it('reports a failure the base expects as an expected skip, not a failure', () => {
    const n = fixture();
    n.trees[1] = { variant: 'patched', apply: 'fail', build: 'skip', boot: 'skip', kunit: 'skip', reason: 'patch 1/3 x does not apply to 6.1.0: conflicts in MAINTAINERS' };
    n.findings = [{ kind: 'expected', key: 'patched.apply', message: 'patched apply fails on debian-6.1 as expected (not ported): patch 1/3 x does not apply to 6.1.0: conflicts in MAINTAINERS' }];
    const c = testcase(toJunit(n), 'patched.apply');
    expect(c).not.toContain('<failure');
    expect(c).toMatch(/<skipped message="expected failure: patched apply fails on debian-6\.1 as expected \(not ported\): [^"]*">expected failure: /);
  });
});

describe('junit.xml against Jenkins xunit junit-10.xsd (xmllint)', () => {
  const tmp = useTempDir('qk-junit-');
  const XSD = join(import.meta.dirname, '..', '..', 'scripts', 'schemas', 'junit-xunit-10.xsd');
  async function xmllint(xml: string): Promise<{ ok: boolean; errors: string }> {
    const file = join(tmp(), 'junit.xml');
    await writeFile(file, xml);
    const r = await execa(XMLLINT, ['--noout', '--schema', XSD, file], { reject: false });
    if (r.exitCode !== 0 && r.exitCode !== 3) throw new Error(`xmllint could not run (exit ${r.exitCode}): ${r.stderr}`);
    return { ok: r.exitCode === 0, errors: r.stderr };
  }

  it('validates the report of a night with failures, skips, metrics and crashes', async () => {
    expect(await xmllint(toJunit(fixture()))).toEqual({ ok: true, errors: expect.stringContaining('validates') });
    const n = fixture();
    n.findings = [{ kind: 'expected', key: 'patched.kunit', message: 'x' }];
    expect((await xmllint(toJunit(n))).ok).toBe(true);
  });

  it.each([
    ['a skipped count on <testsuites>', (x: string) => x.replace('<testsuites ', '<testsuites skipped="3" '), /testsuites', attribute 'skipped'/],
    ['properties inside a testcase', (x: string) => x.replace('<system-out>', '<properties><property name="v" value="1"/></properties><system-out>'), /properties.*not expected/],
    ['a suite without its failure count', (x: string) => x.replace(/(<testsuite [^>]*?) failures="\d+"/, '$1'), /failures.*required/],
  ])('rejects %s', async (_what, breakIt, message) => {
    const xml = toJunit(fixture());
    const broken = breakIt(xml);
    expect(broken).not.toBe(xml);
    const r = await xmllint(broken);
    expect(r.ok).toBe(false);
    expect(r.errors).toMatch(message);
  });
});
