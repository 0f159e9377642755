/**
 * Kconfig fragments: parse, merge (in a stated order) and verify that the
 * final .config really has every option a fragment asked for. Kconfig drops
 * an option silently when its dependencies are not met; we do not.
 */
import { readFile } from 'node:fs/promises';

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

export async function readFragments(paths: readonly string[], label: (p: string) => string): Promise<FragmentEntry[][]> {
  return Promise.all(paths.map(async (p) => parseKconfig(await readFile(p, 'utf8'), label(p))));
}
