/**
 * A KTAP parser for KUnit output found anywhere in a console log.
 *
 * Grammar (Documentation/dev-tools/ktap.rst): a "KTAP version N" header, a
 * plan "1..N", test lines "(not )?ok N name [# SKIP reason]", and subtests
 * nested by four spaces of indentation and introduced by "# Subtest: name".
 * Other console lines in between are ignored. A test whose result line never
 * appears is "crashed"; a plan promising more tests than seen counts the
 * missing ones as crashed too. Nothing here throws on bad input.
 */
import { embeddedRecord, stripPrintkPrefix } from './console.ts';

export type KtapStatus = 'pass' | 'fail' | 'skip' | 'crashed';

export interface KtapTest {
  readonly name: string;
  readonly status: KtapStatus;
  readonly reason?: string;
  readonly children: readonly KtapTest[];
  /** Diagnostic ("# ...") lines printed at the test's own level. */
  readonly diagnostics: readonly string[];
  /** 1-based console line of the result line (or of the header when crashed). */
  readonly line: number;
}

export interface KtapCase {
  /** Suite path, outermost first ("example" or "suite/param-group"). */
  readonly suite: string;
  readonly name: string;
  readonly status: KtapStatus;
  readonly reason?: string;
}

export interface KtapResult {
  readonly tests: readonly KtapTest[];
  readonly cases: readonly KtapCase[];
  readonly counts: Readonly<Record<KtapStatus, number>>;
  /** Plan lines promised this many top-level tests but fewer appeared. */
  readonly missing: number;
}

const VERSION_RE = /^(\s*)(K?TAP) version (\d+)\s*$/;
const PLAN_RE = /^(\s*)1\.\.(\d+)\s*$/;
const RESULT_RE = /^(\s*)(not ok|ok) (\d+)(?: -)?(?: ([^#]*?))?\s*(?:#\s*(SKIP|TODO)\b\s*(.*))?$/i;
const SUBTEST_RE = /^(\s*)# Subtest: (.+?)\s*$/;
const DIAG_RE = /^(\s*)# ?(.*)$/;

interface Level {
  name?: string;
  plan?: number;
  children: KtapTest[];
  diagnostics: string[];
  headerLine: number;
}

export function parseKtap(lines: readonly string[]): KtapResult {
  const levels = new Map<number, Level>();
  const top: KtapTest[] = [];
  let missing = 0;

  const level = (indent: number, lineNo: number): Level => {
    let l = levels.get(indent);
    if (!l) {
      l = { children: [], diagnostics: [], headerLine: lineNo };
      levels.set(indent, l);
    }
    return l;
  };
  const deeper = (indent: number): number[] =>
    [...levels.keys()].filter((k) => k > indent).sort((a, b) => a - b);

  /** Close every level deeper than `indent`; return the nearest one's tests. */
  const closeDeeper = (indent: number): Level | undefined => {
    const ks = deeper(indent);
    if (ks.length === 0) return undefined;
    // Levels deeper than the nearest belonged to tests that never finished.
    for (let i = ks.length - 1; i > 0; i--) {
      const inner = levels.get(ks[i]!)!;
      const parent = levels.get(ks[i - 1]!)!;
      parent.children.push(crashedTest(inner));
      levels.delete(ks[i]!);
    }
    const nearest = levels.get(ks[0]!)!;
    levels.delete(ks[0]!);
    return nearest;
  };

  /** A new top-level header or the end of the log: whatever is open never finished. */
  const finishDocument = (): void => {
    const open = closeDeeper(-1);
    if (!open) return;
    if (open.name) top.push(crashedTest(open));
    else {
      top.push(...open.children);
      missing += countMissing(open);
    }
  };

  const countMissing = (l: Level): number => (l.plan !== undefined && l.plan > l.children.length ? l.plan - l.children.length : 0);

  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const text = stripPrintkPrefix(embeddedRecord(raw) ?? raw);
    let m: RegExpExecArray | null;
    if ((m = VERSION_RE.exec(text))) {
      const indent = m[1]!.length;
      if (indent === 0) finishDocument();
      level(indent, lineNo);
      return;
    }
    if ((m = SUBTEST_RE.exec(text))) {
      const l = level(m[1]!.length, lineNo);
      l.name = m[2]!;
      return;
    }
    if ((m = PLAN_RE.exec(text))) {
      level(m[1]!.length, lineNo).plan = Number(m[2]);
      return;
    }
    if ((m = RESULT_RE.exec(text))) {
      const indent = m[1]!.length;
      const inner = closeDeeper(indent);
      const directive = m[5]?.toUpperCase();
      const status: KtapStatus = directive === 'SKIP' ? 'skip' : m[2]!.toLowerCase() === 'ok' ? 'pass' : 'fail';
      const reason = m[6]?.trim();
      const test: KtapTest = {
        name: (m[4] ?? '').trim() || inner?.name || `test ${m[3]}`,
        status,
        ...(reason ? { reason } : {}),
        children: inner ? [...inner.children, ...missingTests(inner)] : [],
        diagnostics: inner ? inner.diagnostics : [],
        line: lineNo,
      };
      level(indent, lineNo).children.push(test);
      return;
    }
    if ((m = DIAG_RE.exec(text)) && levels.size > 0) {
      const indent = m[1]!.length;
      const l = levels.get(indent);
      if (l) l.diagnostics.push(m[2]!);
    }
  });

  finishDocument();

  const cases: KtapCase[] = [];
  const walk = (t: KtapTest, path: string[]): void => {
    if (t.children.length === 0) {
      cases.push({ suite: path.join('/') || t.name, name: t.name, status: t.status, ...(t.reason ? { reason: t.reason } : {}) });
      return;
    }
    for (const c of t.children) walk(c, [...path, t.name]);
  };
  for (const t of top) walk(t, []);
  const counts: Record<KtapStatus, number> = { pass: 0, fail: 0, skip: 0, crashed: 0 };
  for (const c of cases) counts[c.status]++;
  counts.crashed += missing;
  return { tests: top, cases, counts, missing };
}

function crashedTest(l: Level): KtapTest {
  return {
    name: l.name ?? '(unnamed)',
    status: 'crashed',
    reason: 'no result line: the test did not finish',
    children: [...l.children, ...missingTests(l)],
    diagnostics: l.diagnostics,
    line: l.headerLine,
  };
}

function missingTests(l: Level): KtapTest[] {
  const n = l.plan !== undefined ? l.plan - l.children.length : 0;
  const out: KtapTest[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      name: `test ${l.children.length + i + 1}`,
      status: 'crashed',
      reason: 'planned but never reported',
      children: [],
      diagnostics: [],
      line: l.headerLine,
    });
  }
  return out;
}

/**
 * The suite a KUnit case belongs to. A parameterised case (KUNIT_CASE_PARAM,
 * such as qmempool's qmp_test_stress, one run per round) is no leaf: its
 * results are subtests named by parameter, so the case is the last step of
 * their path and its suite the path above it.
 */
export function suiteOfCase(ktap: Pick<KtapResult, 'cases'>, name: string): string | undefined {
  const leaf = ktap.cases.find((c) => c.name === name);
  if (leaf) return leaf.suite;
  const param = ktap.cases.find((c) => c.suite.split('/').at(-1) === name && c.suite.includes('/'));
  return param?.suite.split('/').slice(0, -1).join('/');
}

export interface StressDiagnostic {
  /** The KUnit case that printed it. */
  readonly case: string;
  readonly values: Readonly<Record<string, number>>;
  readonly line: number;
}

const STRESS_RE = /^\s*# ([\w.-]+): stress: (.*)$/;

/**
 * Stress totals that our KUnit suites print as diagnostics, in the form
 * `# <case>: stress: cpus=2 producers=2 consumers=2 elements=2000000
 * moved=2000000 result=pass`; `result` becomes `passed` (1 or 0).
 */
export function parseStressDiagnostics(lines: readonly string[]): StressDiagnostic[] {
  const out: StressDiagnostic[] = [];
  lines.forEach((raw, i) => {
    const m = STRESS_RE.exec(stripPrintkPrefix(embeddedRecord(raw) ?? raw));
    if (!m) return;
    const values: Record<string, number> = {};
    for (const kv of m[2]!.trim().split(/\s+/)) {
      const [k, v] = kv.split('=');
      if (k && v !== undefined && /^-?\d+(\.\d+)?$/.test(v)) values[k] = Number(v);
      // "result=pass|failed": the totals count only when every check held.
      else if (k === 'result' && v !== undefined) values['passed'] = v === 'pass' ? 1 : 0;
    }
    out.push({ case: m[1]!, values, line: i + 1 });
  });
  return out;
}
