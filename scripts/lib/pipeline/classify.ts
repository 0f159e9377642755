/**
 * The one classifier: console lines plus how the host stopped watching in,
 * verdict, KUnit results, benchmark lines, stress totals and protocol errors
 * out. A live boot and `parse.mjs` both call it, so a console log is read the
 * same way wherever it is read. Pure: no I/O, no clock.
 *
 * Also here, because it is policy about verdicts rather than about booting:
 * which crashes on an emulated backend must be confirmed by another boot
 * before they count (see `needsConfirmation` and `confirm`).
 */
import { ConsoleWatcher, FINDING_CLASS, stripPrintkPrefix, worstClass, type Finding, type FindingKind } from './console.ts';
import { parseKtap, parseStressDiagnostics, suiteOfCase, type KtapResult } from './ktap.ts';
import { BenchLine } from '../analysis/results.ts';
import type { RunClass } from '../plumbing/errors.ts';

/** Why the host stopped watching the guest. */
export const BOOT_ENDINGS = ['exited', 'silence', 'timeout', 'finding'] as const;
export type BootEnding = (typeof BOOT_ENDINGS)[number];

export interface Verdict {
  readonly class: RunClass;
  readonly reason: string;
  readonly findings: readonly Finding[];
  readonly reachedUserspace: boolean;
  readonly guestStatus: number | undefined;
}

export interface StressTotals {
  readonly suite: string;
  readonly case: string;
  readonly values: Readonly<Record<string, number>>;
}

export interface Classification {
  readonly verdict: Verdict;
  readonly ktap: KtapResult;
  /** Valid QK-BENCH payloads, in console order. */
  readonly bench: readonly BenchLine[];
  readonly stress: readonly StressTotals[];
  /** Guest protocol lines that could not be read: each one fails an otherwise good boot. */
  readonly protocolErrors: readonly { readonly error: string; readonly line: number }[];
  /** For crashes: the report kind, faulting function and first stack frames. */
  readonly signature: string | undefined;
}

export function classify(lines: readonly string[], ending: BootEnding): Classification {
  const w = new ConsoleWatcher();
  for (const l of lines) w.push(l);
  const ktap = parseKtap(lines);
  const bench: BenchLine[] = [];
  const protocolErrors = [...w.protoErrors];
  for (const p of w.proto) {
    if (p.kind !== 'bench') continue;
    const b = BenchLine.safeParse(p.data);
    if (b.success) bench.push(b.data);
    else protocolErrors.push({ error: `QK-BENCH line does not match the schema: ${b.error.issues[0]?.message ?? 'invalid'}`, line: p.line });
  }
  protocolErrors.sort((a, b) => a.line - b.line);
  const stress = parseStressDiagnostics(lines).map((d) => ({
    suite: suiteOfCase(ktap, d.case) ?? '',
    case: d.case,
    values: d.values,
  }));
  const benchError = bench.find((b) => b.status === 'error');
  const v = decide(w, ending, ktap.counts.fail + ktap.counts.crashed, protocolErrors.length, benchError ? `${benchError.suite}/${benchError.case}: ${benchError.reason ?? 'failed'}` : initError(lines));
  return { verdict: v, ktap, bench, stress, protocolErrors, signature: crashSignature(lines, v) };
}

/** The first thing the guest init said went wrong (`qk-init: error: ...`, qemu/init.sh). */
function initError(lines: readonly string[]): string | undefined {
  for (const l of lines) {
    const m = /\bqk-init: error: (.*\S)/.exec(stripPrintkPrefix(l));
    if (m) return m[1];
  }
  return undefined;
}

/**
 * For a log read without its facts file (an old run, a log from elsewhere):
 * a log that stops after userspace without the sentinel is read as a hang.
 */
export function inferEnding(lines: readonly string[]): BootEnding {
  const w = new ConsoleWatcher();
  for (const l of lines) w.push(l);
  if (w.findings.length > 0) return 'finding';
  if (w.endStatus !== undefined) return 'exited';
  return w.reachedUserspace ? 'silence' : 'exited';
}

/** Split a console log file into the lines the live boot saw. */
export function logLines(text: string): string[] {
  if (text === '') return [];
  return text.replace(/\n$/, '').split('\n');
}

function decide(
  w: Pick<ConsoleWatcher, 'findings' | 'reachedUserspace' | 'endStatus'>,
  ending: BootEnding,
  testsFailed: number,
  protocolErrors: number,
  benchError?: string,
): Verdict {
  const base = { findings: [...w.findings], reachedUserspace: w.reachedUserspace, guestStatus: w.endStatus };
  if (w.findings.length > 0) {
    const cls = worstClass(w.findings.map((f) => FINDING_CLASS[f.kind]));
    const first = w.findings.find((f) => FINDING_CLASS[f.kind] === cls) ?? w.findings[0]!;
    return { ...base, class: cls, reason: `console line ${first.line}: ${first.text}` };
  }
  if (ending === 'silence') return { ...base, class: 'hang', reason: 'the console went silent past the silence timeout' };
  if (ending === 'timeout') return { ...base, class: 'hang', reason: 'the guest did not finish within the boot timeout' };
  if (!w.reachedUserspace) return { ...base, class: 'boot-failure', reason: 'the guest exited before its init started (no QK-BEGIN line)' };
  if (w.endStatus === undefined) return { ...base, class: 'boot-failure', reason: 'the guest exited without the QK-END sentinel' };
  if (w.endStatus !== 0) return { ...base, class: 'test-failure', reason: `the guest init reported status ${w.endStatus}${benchError ? ` (${benchError})` : ''}` };
  if (testsFailed > 0) return { ...base, class: 'test-failure', reason: `${testsFailed} KUnit case(s) failed` };
  if (protocolErrors > 0) return { ...base, class: 'test-failure', reason: `${protocolErrors} malformed guest protocol line(s)` };
  return { ...base, class: 'ok', reason: 'the guest finished and reported success' };
}

/* ---- crash signatures -------------------------------------------------- */

const FRAME_RE = /^\s*(\? )?([A-Za-z_][\w.]*)\+0x[0-9a-f]+\/0x[0-9a-f]+/;
const RIP_RE = /\bRIP: [0-9a-f]+:([A-Za-z_][\w.]*)\+0x/;
const CRASH_CLASSES: ReadonlySet<RunClass> = new Set(['panic', 'oops', 'hang']);

/**
 * A crash's identity across boots: the report kind, the function it hit and
 * up to five reliable stack frames after it (`?` frames are guesses and
 * skipped). Numbers and addresses are left out so that two boots of the same
 * crash agree.
 */
export function crashSignature(lines: readonly string[], v: Pick<Verdict, 'class' | 'findings'>): string | undefined {
  if (!CRASH_CLASSES.has(v.class)) return undefined;
  const first = v.findings[0];
  if (!first) return `${v.class}: no report (${v.class === 'hang' ? 'silence or timeout' : 'exited'})`;
  let rip: string | undefined;
  const frames: string[] = [];
  for (let i = first.line - 1; i < Math.min(lines.length, first.line + 80) && frames.length < 5; i++) {
    const text = stripPrintkPrefix(lines[i]!);
    rip ??= RIP_RE.exec(text)?.[1];
    const f = FRAME_RE.exec(text);
    if (f && !f[1]) frames.push(f[2]!);
  }
  const head = `${first.kind}: ${rip ?? first.text.replace(/0x[0-9a-f]+|\d+/gi, 'N').slice(0, 80)}`;
  return frames.length > 0 ? `${head} | ${frames.join(' < ')}` : head;
}

/* ---- confirmation of crashes on emulated backends ---------------------- */

/** Reports of the kernel's checkers: always a result, never retried away. */
export const SANITIZER_KINDS: ReadonlySet<FindingKind> = new Set(['kasan', 'kcsan', 'kfence', 'slub', 'ubsan', 'lockdep', 'kmemleak']);

/** Boots in all, counting the first: a crash gets up to two more tries. */
export const MAX_ATTEMPTS = 3;

export interface AttemptVerdict {
  readonly class: RunClass;
  readonly findings: readonly Pick<Finding, 'kind'>[];
  readonly signature: string | undefined;
}

/**
 * Multi-threaded TCG can crash a healthy kernel (an emulator race around
 * cross-CPU code patching: shared/DESIGN.md). On `tcg`, a normal-flavor boot
 * that ends in a panic, oops or hang without a checker's report is booted
 * again before its crash counts.
 */
export function retryable(where: { backend: string; flavor: string }, a: AttemptVerdict): boolean {
  return where.backend === 'tcg' && where.flavor === 'normal' && CRASH_CLASSES.has(a.class) && !a.findings.some((f) => SANITIZER_KINDS.has(f.kind));
}

/** Whether to boot once more, given the attempts so far (first first). */
export function needsConfirmation(where: { backend: string; flavor: string }, attempts: readonly AttemptVerdict[]): boolean {
  const first = attempts[0];
  if (!first || !retryable(where, first) || attempts.length >= MAX_ATTEMPTS) return false;
  const last = attempts[attempts.length - 1]!;
  if (attempts.length > 1 && !CRASH_CLASSES.has(last.class)) return false; // a clean retry: flaky
  // The same crash again: reproduced, confirmed.
  if (attempts.length > 1 && last.class === first.class && last.signature === first.signature) return false;
  return true;
}

export interface Confirmed {
  /** Index of the attempt whose results count. */
  readonly chosen: number;
  /** Set when a crash did not reproduce: what it was. */
  readonly flaky: { readonly class: RunClass; readonly signature: string | undefined; readonly attempt: number } | undefined;
}

/**
 * Which attempt counts. A crash that a later boot did not repeat is flaky:
 * the clean attempt's results count and the crash is kept beside them. A
 * crash that came back (or never gave way to a clean boot) keeps its class.
 */
export function confirm(attempts: readonly AttemptVerdict[]): Confirmed {
  const first = attempts[0]!;
  const clean = attempts.findIndex((a, i) => i > 0 && !CRASH_CLASSES.has(a.class));
  if (clean > 0 && CRASH_CLASSES.has(first.class)) {
    return { chosen: clean, flaky: { class: first.class, signature: first.signature, attempt: 1 } };
  }
  return { chosen: 0, flaky: undefined };
}
