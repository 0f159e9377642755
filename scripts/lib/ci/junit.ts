/**
 * One night's record as JUnit XML, the report format every CI system shows
 * (GitLab, Jenkins, GitHub test-report actions): a failed nightly run then
 * reads as named failed test cases, not just a red exit code.
 *
 * Four suites, each named qmempool-kit.<base>.<what>:
 *   trees    <variant>.apply/.build/.boot/.kunit, failed or skipped with the
 *            tree's reason; a failure the base's expectations declare
 *            (nightly's --expected file) is skipped as "expected failure";
 *   tests    one case a NightTest (KUnit cases, boots);
 *   metrics  one case a NightMetric, failed when the night found a regression
 *            of its key (the finding's message), its figures in system-out;
 *   crashes  one case a crash, failed when the crash is new this night.
 *
 * The XML is what the strictest common reader takes: Jenkins xunit's
 * junit-10.xsd (kept as scripts/schemas/junit-xunit-10.xsd and checked in
 * the unit tests): counts of skipped cases on each <testsuite> only, no
 * <properties> inside a <testcase>. A reason goes in the element's body as
 * well as its message attribute, because GitLab shows only the body of
 * <failure> and <skipped>.
 */
import type { Finding, Night, TreeStatus } from './night.ts';

const STEPS = ['apply', 'build', 'boot', 'kunit'] as const;

interface Case {
  readonly name: string;
  readonly time?: number;
  readonly failure?: { readonly message: string; readonly type?: string; readonly body: string };
  readonly skipped?: string;
  readonly out?: string;
}

export function toJunit(night: Night): string {
  const trees: Case[] = night.trees.flatMap((tree) => STEPS.map((step) => treeCase(tree, step, night.findings)));

  const tests: Case[] = night.tests.map((t) => ({
    name: t.name,
    ...(t.durationS !== undefined ? { time: t.durationS } : {}),
    ...outcome(t.status, t.message ?? `${t.name} ${t.status === 'skip' ? 'skipped' : 'failed'}`),
  }));

  const metrics: Case[] = night.metrics.map((m) => {
    const regression = night.findings.find((f) => f.kind === 'regression' && f.key === m.key);
    return {
      name: m.key,
      out: `${m.value} ${m.unit} [${m.lo}, ${m.hi}] (${m.kind}, ${m.backend}); figures: ${m.figures.join(' ')}`,
      ...(regression ? { failure: { message: regression.message, type: 'regression', body: regression.message } } : {}),
    };
  });

  const crashes: Case[] = night.crashes.map((x) => {
    const name = `${x.side}.${x.backend}.${x.class}.${x.fingerprint}`;
    if (x.seen !== 'new') return { name, out: `known crash, first seen on night ${x.seen}: ${x.class} (${x.frames.join(' < ')}); log: ${x.log}` };
    const message = `new crash: ${x.class} on ${x.side}/${x.backend}`;
    return { name, out: `log: ${x.log}`, failure: { message, type: x.class, body: `${message}\n${x.frames.join('\n')}` } };
  });

  const suites = [['trees', trees], ['tests', tests], ['metrics', metrics], ['crashes', crashes]] as const;
  const count = (cs: readonly Case[], what: 'failure' | 'skipped') => cs.filter((c) => c[what] !== undefined).length;
  const all = suites.flatMap(([, cs]) => cs);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({ name: `qmempool-kit.${night.base}.${night.night}`, tests: all.length, failures: count(all, 'failure'), errors: 0, time: seconds(night.wallMs / 1000) })}>`,
  ];
  for (const [what, cs] of suites) {
    const name = `qmempool-kit.${night.base}.${what}`;
    lines.push(`  <testsuite${attrs({ name, tests: cs.length, failures: count(cs, 'failure'), errors: 0, skipped: count(cs, 'skipped'), timestamp: night.startedAt })}>`);
    for (const c of cs) lines.push(...caseXml(c, name));
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}

function treeCase(tree: TreeStatus, step: (typeof STEPS)[number], findings: readonly Finding[]): Case {
  const name = `${tree.variant}.${step}`;
  const expected = findings.find((f) => f.kind === 'expected' && f.key === name);
  if (tree[step] === 'fail' && expected) return { name, skipped: `expected failure: ${expected.message}` };
  return { name, ...outcome(tree[step], tree.reason ?? `${step} ${tree[step] === 'skip' ? 'skipped' : 'failed'}`) };
}

function outcome(status: 'pass' | 'fail' | 'skip', reason: string): Pick<Case, 'failure' | 'skipped'> {
  if (status === 'fail') return { failure: { message: reason, body: reason } };
  if (status === 'skip') return { skipped: reason };
  return {};
}

function caseXml(c: Case, classname: string): string[] {
  const open = `    <testcase${attrs({ classname, name: c.name, ...(c.time !== undefined ? { time: seconds(c.time) } : {}) })}`;
  const body = [
    ...(c.failure ? [`      <failure${attrs({ message: c.failure.message, ...(c.failure.type ? { type: c.failure.type } : {}) })}>${text(c.failure.body)}</failure>`] : []),
    ...(c.skipped !== undefined ? [`      <skipped${attrs({ message: c.skipped })}>${text(c.skipped)}</skipped>`] : []),
    ...(c.out !== undefined ? [`      <system-out>${text(c.out)}</system-out>`] : []),
  ];
  return body.length === 0 ? [`${open}/>`] : [`${open}>`, ...body, '    </testcase>'];
}

/** Seconds with at most three decimals (the schema's time pattern on suites). */
function seconds(s: number): string {
  return String(Math.round(s * 1000) / 1000);
}

/** Characters XML 1.0 cannot carry at all (console output can hold them), dropped. */
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

function text(s: string): string {
  return s.replace(NOT_XML, '').replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function attrs(a: Readonly<Record<string, string | number>>): string {
  return Object.entries(a)
    .map(([k, v]) => ` ${k}="${text(String(v)).replaceAll('"', '&quot;').replaceAll('\n', '&#10;').replaceAll('\r', '&#13;').replaceAll('\t', '&#9;')}"`)
    .join('');
}
