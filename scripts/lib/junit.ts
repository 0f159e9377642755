/**
 * One night's record as JUnit XML, the report format every CI system shows
 * (GitLab, Jenkins, GitHub test-report actions): a failed nightly run then
 * reads as named failed test cases, not just a red exit code.
 *
 * Four suites, each named qmempool-kit.<base>.<what>:
 *   trees    <variant>.apply/.build/.boot/.kunit, failed or skipped with the
 *            tree's reason;
 *   tests    one case a NightTest (KUnit cases, boots);
 *   metrics  one case a NightMetric, failed when the night found a regression
 *            of its key (the finding's message), its figures as properties;
 *   crashes  one case a crash, failed when the crash is new this night.
 * Built with junit-report-builder's newBuilder(), so no state is shared
 * between calls.
 */
import { createRequire } from 'node:module';
import type { Builder, TestCase } from 'junit-report-builder';
import type { Night, TreeStatus } from './night.ts';

// The package is CommonJS whose module.exports is a builder; its typings
// describe an ES default export instead, so take module.exports as it is.
const rootBuilder = createRequire(import.meta.url)('junit-report-builder') as Builder;

const STEPS = ['apply', 'build', 'boot', 'kunit'] as const;

export function toJunit(night: Night): string {
  const report = rootBuilder.newBuilder().name(`qmempool-kit.${night.base}.${night.night}`);
  const suite = (what: string) => {
    const name = `qmempool-kit.${night.base}.${what}`;
    const s = report.testSuite().name(name).timestamp(night.startedAt);
    return (caseName: string): TestCase => s.testCase().className(name).name(caseName);
  };

  const trees = suite('trees');
  for (const tree of night.trees) {
    for (const step of STEPS) outcome(trees(`${tree.variant}.${step}`), tree[step], reasonOf(tree, step));
  }

  const tests = suite('tests');
  for (const t of night.tests) {
    const c = tests(t.name);
    if (t.durationS !== undefined) c.time(t.durationS);
    outcome(c, t.status, t.message ?? `${t.name} failed`);
  }

  const metrics = suite('metrics');
  for (const m of night.metrics) {
    const c = metrics(m.key)
      .property('value', String(m.value))
      .property('unit', m.unit)
      .property('lo', String(m.lo))
      .property('hi', String(m.hi))
      .property('backend', m.backend)
      .property('kind', m.kind)
      .standardOutput(cdata(`${m.value} ${m.unit} [${m.lo}, ${m.hi}]; figures: ${m.figures.join(' ')}`));
    const regression = night.findings.find((f) => f.kind === 'regression' && f.key === m.key);
    if (regression !== undefined) c.failure(regression.message, 'regression');
  }

  const crashes = suite('crashes');
  for (const x of night.crashes) {
    const c = crashes(`${x.side}.${x.backend}.${x.class}.${x.fingerprint}`).property('log', x.log);
    if (x.seen === 'new') c.failure(`new crash: ${x.class} on ${x.side}/${x.backend}`, x.class).stacktrace(cdata(x.frames.join('\n')));
    else c.standardOutput(cdata(`known crash, first seen on night ${x.seen}: ${x.class} (${x.frames.join(' < ')})`));
  }

  return report.build();
}

function outcome(c: TestCase, status: 'pass' | 'fail' | 'skip', reason: string): void {
  if (status === 'fail') c.failure(reason);
  else if (status === 'skip') c.skipped().standardOutput(cdata(reason));
}

/** Text for a CDATA section (stack traces, system-out), which cannot hold "]]>". */
function cdata(text: string): string {
  return text.replaceAll(']]>', ']] >');
}

function reasonOf(tree: TreeStatus, step: (typeof STEPS)[number]): string {
  return tree.reason ?? (tree[step] === 'skip' ? `${step} skipped` : `${step} failed`);
}
