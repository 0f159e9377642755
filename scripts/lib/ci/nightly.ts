/**
 * Nightly mode, the pure part: a night's record from its run(s), and what
 * it says against the stored history of the same base kernel.
 *
 * What is compared between nights:
 * - apply, build, boot and KUnit of each tree, and every test: a failure
 *   that the previous night did not have is new, one it had is known;
 * - figures: on icount the absolute figure (instruction counts repeat
 *   between runs), judged against the previous night's per-boot figures as
 *   a bisection step is (judgemetric.ts); on noisy backends only
 *   ratios measured inside one run (patched ÷ baseline of the same rounds)
 *   are comparable across days, and a ratio regresses when its whole 95%
 *   interval lies above the previous night's interval and past the threshold;
 * - crashes: by fingerprint (the class and the first five stack frames of
 *   the boot's signature), so that a crash is "new" or "same as night N".
 */
import { median } from 'simple-statistics';
import { errorHeadline } from '../plumbing/errors.ts';
import { sha256, shortHash } from '../plumbing/fsutil.ts';
import { judgeMetric } from '../analysis/judgemetric.ts';
import { sideComparisons } from '../analysis/bench.ts';
import type { Manifest } from '../pipeline/recorder.ts';
import type { Results } from '../analysis/results.ts';
import { NIGHT_VERSION, type Crash, type Finding, type Night, type NightMetric, type NightTest, type TreeStatus } from './night.ts';
import type { Expectation } from './expected.ts';

const BOOT_FAILURES = new Set(['panic', 'oops', 'warning', 'hang', 'boot-failure']);

/** One run.mjs run of the night, as read back from its directory. */
export interface NightRun {
  readonly runDir: string;
  readonly manifest: Manifest;
  readonly results: Results | undefined;
}

/** The conflicting files of an apply failure, from the run's error. */
export function conflictsOf(error: string | undefined): string | undefined {
  return /patch \d+\/\d+ \S+ does not apply to [^\n]*/.exec(error ?? '')?.[0];
}

/** apply, build, boot and KUnit of one tree across the night's runs (the first run that built it decides). */
export function treeStatus(variant: string, runs: readonly NightRun[]): TreeStatus {
  const st: { -readonly [K in keyof TreeStatus]: TreeStatus[K] } = { variant, apply: 'skip', build: 'skip', boot: 'skip', kunit: 'skip' };
  for (const run of runs) {
    const m = run.manifest;
    const sides = m.sides.filter((s) => s.variant === variant).map((s) => s.name);
    if (sides.length === 0) continue;
    if (m.class === 'apply-failure' && variant !== 'baseline') {
      return { ...st, apply: 'fail', reason: conflictsOf(m.error) ?? errorHeadline(m.error) ?? 'the series does not apply' };
    }
    if (!m.variants[variant]) continue;
    st.apply = 'pass';
    const failed = m.stages.find((s) => s.variant === variant && s.status === 'failed' && (s.stage === 'config' || s.stage === 'build' || s.stage === 'modules'));
    if (failed) return { ...st, build: 'fail', reason: errorHeadline(m.error) ?? `${failed.stage} failed` };
    const built = m.stages.some((s) => s.variant === variant && s.stage === 'build' && s.status === 'ok');
    if (!built) continue;
    st.build = 'pass';
    const boots = (run.results?.boots ?? []).filter((b) => sides.includes(b.side));
    if (boots.length === 0) return st;
    const bad = boots.find((b) => BOOT_FAILURES.has(b.class));
    st.boot = bad ? 'fail' : 'pass';
    if (bad) st.reason = `${bad.side} on ${bad.backend}: ${bad.class}: ${bad.reason}`;
    const tests = (run.results?.tests ?? []).filter((t) => sides.includes(t.side));
    if (tests.length > 0) st.kunit = tests.some((t) => t.status === 'fail' || t.status === 'crashed') ? 'fail' : 'pass';
    return st;
  }
  return st;
}


/** KUnit cases and boots as tests. */
export function nightTests(runs: readonly NightRun[]): NightTest[] {
  const out: NightTest[] = [];
  for (const run of runs) {
    for (const b of run.results?.boots ?? []) {
      const failed = b.class !== 'ok' && b.class !== 'flaky';
      out.push({ name: `boot.${b.side}.${b.backend}.${b.purpose ?? 'boot'}.r${b.round}`, status: failed ? 'fail' : 'pass', ...(failed || b.flaky ? { message: b.flaky ? `flaky: ${b.flaky.class} ${b.flaky.signature ?? ''}`.trim() : `${b.class}: ${b.reason}` } : {}), durationS: b.wallMs / 1000 });
    }
    for (const t of run.results?.tests ?? []) {
      const test: NightTest = { name: `kunit.${t.side}.${t.backend}.${t.suite}.${t.case}`, status: t.status === 'crashed' ? 'fail' : t.status, ...(t.reason ? { message: t.reason } : {}) };
      // Built-in suites (the KUnit examples) run at every boot of a side: one test, failed if any boot failed it.
      const seen = out.findIndex((x) => x.name === test.name);
      if (seen < 0) out.push(test);
      else if (RANK[test.status] > RANK[out[seen]!.status]) out[seen] = test;
    }
  }
  return out;
}

const RANK = { skip: 0, pass: 1, fail: 2 } as const;

/** icount figures absolute, per side; noisy backends as within-run ratios of later sides against earlier ones. */
export function nightMetrics(runs: readonly NightRun[]): NightMetric[] {
  const out: NightMetric[] = [];
  for (const run of runs) {
    const r = run.results;
    if (!r) continue;
    const groups = new Map<string, Results['metrics']>();
    for (const m of r.metrics) {
      if (m.flavor !== 'normal' || m.backend !== 'icount') continue;
      const key = `${m.name}@${m.side}/${m.backend}`;
      groups.set(key, [...(groups.get(key) ?? []), m]);
    }
    for (const [key, ms] of groups) {
      const figures = ms.sort((a, b) => a.boot - b.boot).map((m) => median([...m.samples]));
      const m0 = ms[0]!;
      out.push({ key, name: m0.name, backend: m0.backend, kind: 'absolute', unit: m0.unit, value: median(figures), lo: Math.min(...figures), hi: Math.max(...figures), figures, samples: ms.map((m) => [...m.samples]) });
    }
    for (const c of sideComparisons(r)) {
      // An A/A control (a run with --aa-control) measures the run's noise, not the kernel: not a tracked figure.
      if (c.backend === 'icount' || c.control) continue;
      out.push({
        key: `${c.name}: ${c.side} vs ${c.ref} (${c.backend})`,
        name: c.name,
        backend: c.backend,
        kind: 'ratio',
        unit: 'ratio',
        value: c.stat.ratio,
        lo: c.stat.ci?.lo ?? c.stat.ratio,
        hi: c.stat.ci?.hi ?? c.stat.ratio,
        figures: [c.sideMedian, c.refMedian],
      });
    }
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

/** Crashes of the night's boots (confirmed ones, and flaky first attempts too), by fingerprint. */
export function nightCrashes(runs: readonly NightRun[]): Omit<Crash, 'seen'>[] {
  const out: Omit<Crash, 'seen'>[] = [];
  for (const run of runs) {
    for (const b of run.results?.boots ?? []) {
      const sig = b.signature ?? b.flaky?.signature;
      const cls = b.signature ? b.class : b.flaky?.class;
      if (!sig || !cls) continue;
      const fp = crashFingerprint(cls, sig);
      out.push({ ...fp, side: b.side, backend: b.backend, log: `${run.runDir.split('/').pop()}/${b.consoleLog}` });
    }
  }
  return out;
}

/** "oops: RIP fn | f1 < f2 < f3" → class, the first five frames, and a hash of both. */
export function crashFingerprint(cls: string, signature: string): { fingerprint: string; class: string; frames: string[] } {
  const [head, stack] = signature.split(' | ');
  const frames = [head!.trim(), ...(stack ? stack.split(' < ').map((f) => f.trim()) : [])].slice(0, 5);
  return { fingerprint: shortHash(sha256(`${cls}\n${frames.join('\n')}`)), class: cls, frames };
}

/**
 * What tonight says against the previous nights (oldest first): findings,
 * and each crash's first night. A step the base's expectations say fails
 * is `expected` when it does, and `expectation-changed` when it passes.
 */
export function compareNights(tonight: Omit<Night, 'findings' | 'result' | 'exitCode' | 'crashes'> & { crashes: readonly Omit<Crash, 'seen'>[] }, previous: readonly Night[], threshold: number, expected: readonly Expectation[] = []): { findings: Finding[]; crashes: Crash[] } {
  const findings: Finding[] = [];
  const prev = previous.at(-1);
  for (const t of tonight.trees) {
    const p = prev?.trees.find((x) => x.variant === t.variant);
    for (const step of ['apply', 'build', 'boot', 'kunit'] as const) {
      const key = `${t.variant}.${step}`;
      const known = expected.find((e) => e.tree === t.variant && e.step === step);
      if (known && t[step] === 'fail') findings.push({ kind: 'expected', key, message: `${t.variant} ${step} fails on ${tonight.base} as expected (${known.why})${t.reason ? `: ${t.reason}` : ''}` });
      else if (known && t[step] === 'pass') findings.push({ kind: 'expectation-changed', key, message: `${t.variant} ${step} passes on ${tonight.base}, which was expected to fail (${known.why}): news; if it stays so, remove the expectation from the expectations file` });
      else if (t[step] === 'fail') findings.push({ kind: 'new-failure', key, message: `${p?.[step] === 'fail' ? 'still failing since an earlier night' : 'new failure'}: ${t.variant} ${step}${t.reason ? `: ${t.reason}` : ''}` });
      else if (t[step] === 'pass' && p?.[step] === 'fail') findings.push({ kind: 'fixed', key, message: `${t.variant} ${step} passes again` });
    }
  }
  const prevTests = new Map((prev?.tests ?? []).map((x) => [x.name, x.status]));
  for (const t of tonight.tests) {
    if (t.status !== 'fail') continue;
    const was = prevTests.get(t.name);
    findings.push({ kind: 'new-failure', key: t.name, message: `${was === 'fail' ? 'still failing' : was === undefined ? 'failing (not run before)' : 'new failure'}: ${t.name}${t.message ? `: ${t.message}` : ''}` });
  }
  for (const m of tonight.metrics) {
    // Against the last night that measured it (a night that crashed has no figures).
    const pn = [...previous].reverse().find((n) => n.metrics.some((x) => x.key === m.key));
    const p = pn?.metrics.find((x) => x.key === m.key);
    if (!pn || !p) continue;
    let regressed = false;
    let improved = false;
    let basis: string;
    if (m.kind === 'absolute') {
      const j = judgeMetric(m.figures, p.figures, { backend: m.backend, threshold });
      const back = judgeMetric(p.figures, m.figures, { backend: m.backend, threshold });
      regressed = j.verdict === 'bad';
      improved = back.verdict === 'bad';
      basis = `${fmt(m.value)} vs ${fmt(p.value)} ${m.unit} on night ${pn.night} (${j.basis})`;
    } else {
      regressed = m.lo > p.hi && m.value > p.value * (1 + threshold);
      improved = m.hi < p.lo && m.value < p.value * (1 - threshold);
      basis = `${fmt(m.value)}× [${fmt(m.lo)}–${fmt(m.hi)}] vs ${fmt(p.value)}× [${fmt(p.lo)}–${fmt(p.hi)}] on night ${pn.night}`;
    }
    if (regressed) findings.push({ kind: 'regression', key: m.key, message: `${m.key} regressed: ${basis}` });
    else if (improved) findings.push({ kind: 'improvement', key: m.key, message: `${m.key} improved: ${basis}` });
  }
  const crashes: Crash[] = tonight.crashes.map((c) => {
    const first = previous.find((n) => n.crashes.some((x) => x.fingerprint === c.fingerprint));
    return { ...c, seen: first ? first.night : 'new' };
  });
  for (const c of crashes) {
    findings.push({ kind: 'crash', key: c.fingerprint, message: `${c.seen === 'new' ? 'new crash' : `same crash as night ${c.seen}`}: ${c.class} on ${c.side}/${c.backend}: ${c.frames.join(' < ')}` });
  }
  return { findings, crashes };
}

function fmt(x: number): string {
  return x >= 100 ? x.toFixed(1) : x.toFixed(3);
}

/** The night's result and exit code: infra (2) when the tool failed, regression (1) for any failure, regression, crash or changed expectation; an expected failure alone is ok (0). */
export function nightResult(findings: readonly Finding[], infra: boolean): { result: Night['result']; exitCode: number } {
  if (infra) return { result: 'infra', exitCode: 2 };
  const failing = findings.some((f) => f.kind === 'new-failure' || f.kind === 'regression' || f.kind === 'crash' || f.kind === 'expectation-changed');
  return failing ? { result: 'regression', exitCode: 1 } : { result: 'ok', exitCode: 0 };
}

export { NIGHT_VERSION };
