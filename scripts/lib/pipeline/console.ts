/**
 * Classify a guest's serial console: kernel crash reports, the guest
 * protocol's lines (QK-BEGIN / QK-BENCH / QK-END) and KTAP. Pure functions:
 * everything here works on recorded logs as well as on a live stream.
 */
import type { RunClass } from '../plumbing/errors.ts';
import type { FINDING_KINDS } from '../analysis/results.ts';

/** The printk prefix: "[    1.234567] " and, with PRINTK_CALLER, "[    T1] ". */
const PRINTK_PREFIX = /^(?:\[\s*[0-9.]+\]\s?)?(?:\[\s*[TC]\d+\]\s?)?/;

export function stripPrintkPrefix(line: string): string {
  return line.replace(/\r$/, '').replace(PRINTK_PREFIX, '');
}

export type FindingKind = (typeof FINDING_KINDS)[number];

export interface Finding {
  readonly kind: FindingKind;
  /** 1-based line number in the console log. */
  readonly line: number;
  readonly text: string;
}

/**
 * Report openers, most specific first. Each regex is matched against a line
 * with the printk prefix removed.
 */
const FINDING_PATTERNS: ReadonlyArray<readonly [FindingKind, RegExp]> = [
  ['panic', /^Kernel panic - not syncing/],
  ['kasan', /^BUG: KASAN: /],
  ['kcsan', /^BUG: KCSAN: /],
  ['kfence', /^BUG: KFENCE: /],
  ['lockdep', /^WARNING: (possible circular locking dependency|possible recursive locking|inconsistent lock state|suspicious RCU usage|bad unlock balance|lock held when returning|held lock freed|possible irq lock inversion|HARDIRQ-safe -> HARDIRQ-unsafe|SOFTIRQ-safe -> SOFTIRQ-unsafe|nested lock was not taken|lock held at task exit)/],
  ['oops', /^Oops: /],
  // slub_debug's reports name the cache, not "BUG:": a redzone or poison
  // overwritten, objects left in a cache that is destroyed (mm/slub.c).
  ['slub', /^BUG \S+ \((?:Not tainted|Tainted: [^)]*)\): /],
  ['bug', /^(BUG: |kernel BUG at )/],
  ['ubsan', /^UBSAN: /],
  ['kmemleak', /^kmemleak: \d+ new suspected memory leaks/],
  ['soft-lockup', /^(watchdog: BUG: soft lockup|watchdog: Watchdog detected hard LOCKUP)/],
  ['rcu-stall', /^rcu: INFO: \S+ (self-)?detected stalls?/],
  ['hung-task', /^INFO: task .* blocked for more than \d+ seconds/],
  ['warning', /^WARNING: /],
];

export function matchFinding(line: string): FindingKind | undefined {
  const text = stripPrintkPrefix(line);
  for (const [kind, re] of FINDING_PATTERNS) if (re.test(text)) return kind;
  return undefined;
}

/** Which run class a finding puts the boot in. */
export const FINDING_CLASS = {
  panic: 'panic',
  oops: 'oops',
  bug: 'oops',
  kasan: 'oops',
  kcsan: 'oops',
  kfence: 'oops',
  slub: 'oops',
  ubsan: 'warning',
  lockdep: 'warning',
  kmemleak: 'warning',
  warning: 'warning',
  'soft-lockup': 'hang',
  'rcu-stall': 'hang',
  'hung-task': 'hang',
} as const satisfies Record<FindingKind, RunClass>;

/** Severity order: the worst class found decides. */
/** A flaky crash (not repeated by another boot) ranks just above ok: shown, not failing. */
const SEVERITY: readonly RunClass[] = ['panic', 'oops', 'hang', 'warning', 'boot-failure', 'test-failure', 'flaky', 'ok'];

export function worstClass(classes: readonly RunClass[]): RunClass {
  let best: RunClass = 'ok';
  for (const c of classes) {
    const i = SEVERITY.indexOf(c);
    const j = SEVERITY.indexOf(best);
    if (i === -1) return c; // a class outside the boot set (infra...) wins
    if (i < j) best = c;
  }
  return best;
}

/* ---- the guest protocol ---------------------------------------------- */

export const PROTO_PREFIX = {
  begin: 'QK-BEGIN ',
  bench: 'QK-BENCH ',
  info: 'QK-INFO ',
  end: 'QK-END ',
  /** The guest asks the host for a virtio-net flood (qemu/net/net.sh). */
  net: 'QK-NET ',
} as const;

export type ProtoKind = keyof typeof PROTO_PREFIX;

export interface ProtoLine {
  readonly kind: ProtoKind;
  readonly line: number;
  readonly data: Record<string, unknown>;
}

/**
 * The guest protocol may follow other text on a line (console interleaving).
 * A payload that is not one JSON object (a line cut short, say) is an error,
 * never silently dropped: it may have carried a result.
 */
const PROTO_RE = /\b(QK-(BEGIN|BENCH|INFO|END|NET)) (.*?)\s*$/;

/** A printk record's time prefix anywhere on a line. */
const RECORD_RE = /\[\s*\d+\.\d{6}\] /;

/** A protocol line's error; `head` is set when a kernel record cut into its payload. */
export interface ProtoError {
  readonly error: string;
  readonly line: number;
  /** The protocol text before the kernel record: its rest may follow on a later line. */
  readonly head?: string;
}

/**
 * A userspace line and a kernel message share the console: an init's echo can
 * get a printk record ("[    2.110735] tsc: ...") between its text and its
 * newline. The payload is then the part before that record.
 */
function parsePayload(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const at = text.search(RECORD_RE);
    if (at > 0) {
      try {
        return JSON.parse(text.slice(0, at));
      } catch {
        // Not that: report the original error.
      }
    }
    throw e;
  }
}

export function parseProtoLine(line: string, lineNo: number): ProtoLine | ProtoError | undefined {
  const text = stripPrintkPrefix(line);
  const m = PROTO_RE.exec(text);
  if (!m) return undefined;
  const kind = m[2]!.toLowerCase() as ProtoKind;
  try {
    const data: unknown = parsePayload(m[3]!);
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      return { error: `${m[1]} payload is not a JSON object`, line: lineNo };
    }
    return { kind, line: lineNo, data: data as Record<string, unknown> };
  } catch (e) {
    const error = `${m[1]} payload is not valid JSON: ${(e as Error).message}`;
    const at = m[3]!.search(RECORD_RE);
    return at > 0 ? { error, line: lineNo, head: text.slice(m.index, m.index + m[1]!.length + 1) + m[3]!.slice(0, at) } : { error, line: lineNo };
  }
}

/**
 * Where a line holds userspace text and then a kernel record (the record cut
 * into the text), the record: it may be a crash report's first line.
 */
export function embeddedRecord(line: string): string | undefined {
  const text = stripPrintkPrefix(line);
  const at = text.search(RECORD_RE);
  return at > 0 ? text.slice(at) : undefined;
}

/** How many kernel lines may come between a cut protocol line and its rest. */
const CUT_LINES = 64;

/* ---- streaming classifier -------------------------------------------- */

export type WatchEvent =
  | { type: 'finding'; finding: Finding; fatal: boolean }
  | { type: 'userspace' }
  | { type: 'end'; status: number }
  | { type: 'net'; data: Record<string, unknown> };

/**
 * Feed console lines one at a time; tells the boot runner when to stop.
 * A panic, an oops/BUG, a WARNING or a lockdep/KASAN/KCSAN report all end
 * the boot (after a short grace period for the rest of the report).
 */
export class ConsoleWatcher {
  private lineNo = 0;
  readonly findings: Finding[] = [];
  readonly proto: ProtoLine[] = [];
  private readonly errors: ProtoError[] = [];
  /** A protocol line a kernel record cut into, waiting for its rest. */
  private cut: { head: string; error: ProtoError; waited: number } | undefined;
  readonly lines: string[] = [];
  reachedUserspace = false;
  endStatus: number | undefined;

  /** Protocol lines that could not be read (a cut line still waiting for its rest counts). */
  get protoErrors(): readonly ProtoError[] {
    return this.cut ? [...this.errors, this.cut.error] : this.errors;
  }

  push(raw: string): WatchEvent[] {
    this.lineNo++;
    this.lines.push(raw);
    const events: WatchEvent[] = [];
    const record = embeddedRecord(raw);
    const own = matchFinding(raw);
    const kind = own ?? (record === undefined ? undefined : matchFinding(record));
    if (kind) {
      const finding: Finding = { kind, line: this.lineNo, text: stripPrintkPrefix(own ? raw : record!).trim() };
      this.findings.push(finding);
      events.push({ type: 'finding', finding, fatal: true });
    }
    let p: ProtoLine | ProtoError | undefined;
    if (this.cut && raw.search(RECORD_RE) === 0) {
      // Kernel lines between a cut protocol line and its rest.
      if (++this.cut.waited > CUT_LINES) {
        this.errors.push(this.cut.error);
        this.cut = undefined;
      }
    } else if (this.cut && PROTO_RE.test(stripPrintkPrefix(raw))) {
      // Another protocol line instead of the rest: the cut one is lost.
      this.errors.push(this.cut.error);
      this.cut = undefined;
      p = parseProtoLine(raw, this.lineNo);
    } else if (this.cut) {
      // The userspace text goes on where the kernel record cut in.
      const { head, error } = this.cut;
      this.cut = undefined;
      const joined = parseProtoLine(head + raw.replace(/\r$/, ''), error.line);
      p = joined && 'error' in joined && joined.head === undefined ? error : joined;
    } else {
      p = parseProtoLine(raw, this.lineNo);
    }
    if (p && 'error' in p) {
      if (p.head !== undefined) this.cut = { head: p.head, error: { error: p.error, line: p.line }, waited: 0 };
      else this.errors.push(p);
    } else if (p) {
      this.proto.push(p);
      if (p.kind === 'begin') {
        this.reachedUserspace = true;
        events.push({ type: 'userspace' });
      } else if (p.kind === 'end') {
        const st = typeof p.data['status'] === 'number' ? (p.data['status'] as number) : -1;
        this.endStatus = st;
        events.push({ type: 'end', status: st });
      } else if (p.kind === 'net') {
        events.push({ type: 'net', data: p.data });
      }
    }
    return events;
  }
}
