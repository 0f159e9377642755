/**
 * Kconfig fragments: parse, merge (in a stated order) and verify that the
 * final .config really has every option a fragment asked for. Kconfig drops
 * an option silently when its dependencies are not met; we do not.
 */

/** Value of an option; 'n' stands for "# CONFIG_X is not set". */
export type KconfigValue = string;

export interface FragmentEntry {
  readonly option: string;
  readonly value: KconfigValue;
  readonly source: string;
  readonly line: number;
}

const SET_RE = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/;
const UNSET_RE = /^# (CONFIG_[A-Za-z0-9_]+) is not set\s*$/;

/** Parse fragment or .config text. Other comments and blank lines are skipped. */
export function parseKconfig(text: string, source: string): FragmentEntry[] {
  const out: FragmentEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    let m = SET_RE.exec(line);
    if (m) {
      out.push({ option: m[1]!, value: m[2]!, source, line: i + 1 });
      return;
    }
    m = UNSET_RE.exec(line);
    if (m) out.push({ option: m[1]!, value: 'n', source, line: i + 1 });
  });
  return out;
}

/** Merge fragments in order: a later fragment overrides an earlier one. */
export function mergeRequests(fragments: ReadonlyArray<readonly FragmentEntry[]>): Map<string, FragmentEntry> {
  const want = new Map<string, FragmentEntry>();
  for (const f of fragments) for (const e of f) want.set(e.option, e);
  return want;
}

export interface ConfigMismatch {
  readonly option: string;
  readonly wanted: KconfigValue;
  readonly actual: KconfigValue;
  readonly source: string;
  readonly line: number;
}

/** Every requested option must be in the final .config with the requested value. */
export function checkConfig(want: ReadonlyMap<string, FragmentEntry>, finalConfig: string): ConfigMismatch[] {
  const have = new Map<string, string>();
  for (const e of parseKconfig(finalConfig, '.config')) have.set(e.option, e.value);
  const bad: ConfigMismatch[] = [];
  for (const e of want.values()) {
    const actual = have.get(e.option) ?? 'n';
    if (normalize(actual) !== normalize(e.value)) {
      bad.push({ option: e.option, wanted: e.value, actual, source: e.source, line: e.line });
    }
  }
  return bad;
}

function normalize(v: string): string {
  return v.replace(/^"(.*)"$/, '$1');
}

export function describeMismatch(m: ConfigMismatch): string {
  const show = (v: string): string => (v === 'n' ? 'not set' : `=${v}`);
  return `${m.option}${m.wanted === 'n' ? ' not set' : '=' + m.wanted} (asked by ${m.source}:${m.line}) is ${show(m.actual)} in the final .config`;
}


/* ---- version conditions ------------------------------------------------------ */

/**
 * One set of fragments serves every base: a block between
 * `# qk-if version >= 6.17` and `# qk-endif` (with an optional `# qk-else`)
 * applies only to kernels whose version meets the condition. Kconfig sees
 * nothing of it: the lines of an inactive block are blanked (line numbers
 * stay, so a dropped option is still named by file and line), and an
 * active option is checked like any other. Conditions are on the version
 * only, never on whether the tree happens to define a symbol: an option a
 * base cannot have is an error, not something to skip.
 */
const IF_RE = /^#\s*qk-if\s+version\s*(>=|<=|==|!=|>|<)\s*(\d+(?:\.\d+){0,2})\s*$/;
const ELSE_RE = /^#\s*qk-else\s*$/;
const ENDIF_RE = /^#\s*qk-endif\s*$/;
const DIRECTIVE_RE = /^#\s*qk-/;

/** Compare two dotted versions ("7.3.4", "6.17"); missing parts count as 0, a suffix ("-rc1") is ignored. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.split(/[^\d.]/)[0]!.split('.').filter(Boolean).map(Number);
  const x = parts(a);
  const y = parts(b);
  for (let i = 0; i < Math.max(x.length, y.length, 3); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

function holds(op: string, kernel: string, bound: string): boolean {
  const c = compareVersions(kernel, bound);
  switch (op) {
    case '>=':
      return c >= 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '<':
      return c < 0;
    case '==':
      return c === 0;
    default:
      return c !== 0;
  }
}

export class FragmentSyntaxError extends Error {}

/** The fragment as a kernel of `version` reads it: inactive blocks and directives blanked. */
export function resolveFragment(text: string, version: string, source: string): string {
  const stack: { active: boolean; line: number; sawElse: boolean }[] = [];
  const active = () => stack.every((s) => s.active);
  const out = text.split('\n').map((raw, i) => {
    const line = raw.trim();
    const where = `${source}:${i + 1}`;
    let m: RegExpExecArray | null;
    if ((m = IF_RE.exec(line))) {
      stack.push({ active: holds(m[1]!, version, m[2]!), line: i + 1, sawElse: false });
      return '';
    }
    if (ELSE_RE.test(line)) {
      const top = stack[stack.length - 1];
      if (!top || top.sawElse) throw new FragmentSyntaxError(`${where}: qk-else without its qk-if`);
      stack[stack.length - 1] = { ...top, active: !top.active, sawElse: true };
      return '';
    }
    if (ENDIF_RE.test(line)) {
      if (!stack.pop()) throw new FragmentSyntaxError(`${where}: qk-endif without its qk-if`);
      return '';
    }
    if (DIRECTIVE_RE.test(line)) throw new FragmentSyntaxError(`${where}: '${line}' is not a condition (# qk-if version >= X.Y, # qk-else, # qk-endif)`);
    return active() ? raw : '';
  });
  const open = stack.pop();
  if (open) throw new FragmentSyntaxError(`${source}:${open.line}: qk-if without its qk-endif`);
  return out.join('\n');
}
