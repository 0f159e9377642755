/**
 * results.json: a versioned schema (zod) of what a run measured, and the
 * report.md rendered from it. A metric is always tagged with the variant and
 * the backend that produced it: figures compare only within one run.
 */
import { z } from 'zod';
import { median, min, max, quantile } from 'simple-statistics';
import { RUN_CLASSES } from './errors.ts';
import { FINDING_KINDS } from './console.ts';

export const RESULTS_SCHEMA_VERSION = 1;

export const BACKENDS = ['kvm', 'tcg', 'icount', 'uml'] as const;
export type Backend = (typeof BACKENDS)[number];
export const VARIANTS = ['baseline', 'patched'] as const;
export const FLAVOR_NAMES = ['normal', 'debug', 'kcsan'] as const;
const flavor = z.enum(FLAVOR_NAMES).default('normal');
/** Where a record comes from: every record of a run carries these. */
const origin = {
  variant: z.enum(VARIANTS),
  backend: z.enum(BACKENDS),
  flavor,
};
export type VariantName = (typeof VARIANTS)[number];

const Finding = z.object({ kind: z.enum(FINDING_KINDS), line: z.number().int(), text: z.string() });

export const BootRecord = z.object({
  ...origin,
  arch: z.enum(['x86_64', 'um']),
  round: z.number().int().nonnegative(),
  class: z.enum(RUN_CLASSES),
  reason: z.string(),
  findings: z.array(Finding),
  reachedUserspace: z.boolean(),
  guestStatus: z.number().int().nullable(),
  wallMs: z.number().nonnegative(),
  consoleLog: z.string(),
  cmdline: z.string(),
  kunit: z.object({ pass: z.number(), fail: z.number(), skip: z.number(), crashed: z.number() }),
});
export type BootRecord = z.infer<typeof BootRecord>;

export const TestRecord = z.object({
  ...origin,
  round: z.number().int().nonnegative(),
  suite: z.string(),
  case: z.string(),
  status: z.enum(['pass', 'fail', 'skip', 'crashed']),
  reason: z.string().optional(),
});
export type TestRecord = z.infer<typeof TestRecord>;

export const Metric = z.object({
  /** "suite/case". */
  name: z.string(),
  suite: z.string(),
  case: z.string(),
  unit: z.string(),
  ...origin,
  samples: z.array(z.number()).min(1),
  /** Operations timed per sample. */
  loops: z.number().int().positive().optional(),
  /** The guest's own view, as it reported it. */
  guest: z.record(z.string(), z.unknown()).optional(),
});
export type Metric = z.infer<typeof Metric>;

export const StressRecord = z.object({
  ...origin,
  round: z.number().int().nonnegative(),
  suite: z.string(),
  case: z.string(),
  values: z.record(z.string(), z.number()),
});
export type StressRecord = z.infer<typeof StressRecord>;

export const Results = z.object({
  schemaVersion: z.literal(RESULTS_SCHEMA_VERSION),
  runId: z.string(),
  class: z.enum(RUN_CLASSES),
  boots: z.array(BootRecord),
  tests: z.array(TestRecord),
  metrics: z.array(Metric),
  /** Totals our KUnit stress tests report (elements moved, CPUs, ...). */
  stress: z.array(StressRecord).default([]),
  /** Benchmarks or boots that were asked for and could not run, with why. */
  notRun: z.array(z.object({ variant: z.string(), backend: z.string(), reason: z.string() })),
});
export type Results = z.infer<typeof Results>;

/** The guest's QK-BENCH payload. */
export const BenchLine = z.object({
  suite: z.string().min(1),
  case: z.string().min(1),
  unit: z.string().min(1),
  loops: z.number().int().positive().optional(),
  samples: z.array(z.number()).min(1),
}).passthrough();
export type BenchLine = z.infer<typeof BenchLine>;

export interface Summary {
  readonly n: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly q1: number;
  readonly q3: number;
}

export function summarize(samples: readonly number[]): Summary {
  const s = [...samples];
  return { n: s.length, median: median(s), min: min(s), max: max(s), q1: quantile(s, 0.25), q3: quantile(s, 0.75) };
}

/** Group metrics by name+backend, pooling samples of every boot round. */
interface Pool {
  name: string;
  unit: string;
  backend: Backend;
  flavor: string;
  byVariant: Partial<Record<VariantName, number[]>>;
}

export function pooled(metrics: readonly Metric[]): Map<string, Pool> {
  const out = new Map<string, Pool>();
  for (const m of metrics) {
    const key = `${m.backend}\0${m.flavor}\0${m.name}\0${m.unit}`;
    let e = out.get(key);
    if (!e) {
      e = { name: m.name, unit: m.unit, backend: m.backend, flavor: m.flavor, byVariant: {} };
      out.set(key, e);
    }
    (e.byVariant[m.variant] ??= []).push(...m.samples);
  }
  return out;
}

const fmt = (x: number): string => (Math.abs(x) >= 100 ? x.toFixed(1) : x.toFixed(2));

export const BACKEND_MEANING = {
  kvm: 'real time under hardware virtualization (noisy: compare medians)',
  tcg: 'emulated time under QEMU TCG: meaningful only beside its peer from this run',
  icount: 'one "ns" per guest instruction (QEMU icount): repeatable, blind to cache misses and atomics',
  uml: 'native CPU time of kernel code, User-Mode Linux, uniprocessor',
} as const satisfies Record<Backend, string>;

export function renderReport(r: Results, manifest: { startedAt: string; source?: { description: string; version: string }; series?: { hash: string; patches: readonly string[] } }): string {
  const L: string[] = [];
  L.push(`# qmempool-kit run ${r.runId}`, '');
  L.push(`- result: **${r.class}**`);
  L.push(`- started: ${manifest.startedAt}`);
  if (manifest.source) L.push(`- kernel: ${manifest.source.version} (${manifest.source.description})`);
  if (manifest.series) L.push(`- series: ${manifest.series.patches.length} patch(es), hash ${manifest.series.hash.slice(0, 12)}`);
  L.push('');
  L.push('## Boots', '', '| variant | backend | flavor | round | class | KUnit pass/fail/skip/crashed | wall s | reason |', '|---|---|---|---|---|---|---|---|');
  for (const b of r.boots) {
    const k = b.kunit;
    L.push(`| ${b.variant} | ${b.backend} | ${b.flavor} | ${b.round} | ${b.class} | ${k.pass}/${k.fail}/${k.skip}/${k.crashed} | ${(b.wallMs / 1000).toFixed(1)} | ${b.reason.replace(/\|/g, '\\|')} |`);
  }
  L.push('');
  L.push('## Benchmarks: baseline vs patched', '');
  const groups = [...pooled(r.metrics).values()];
  if (groups.length === 0) {
    L.push('No benchmark produced a figure in this run.');
  } else {
    L.push('Median of all samples, [min–max], n samples. Δ is patched vs baseline median. Compare only rows of the same backend.', '');
    L.push('| metric | backend | unit | baseline | patched | Δ |', '|---|---|---|---|---|---|');
    for (const g of groups.sort((a, b) => a.backend.localeCompare(b.backend) || a.name.localeCompare(b.name))) {
      const cell = (v: number[] | undefined): string => {
        if (!v || v.length === 0) return 'not run';
        const s = summarize(v);
        return `${fmt(s.median)} [${fmt(s.min)}–${fmt(s.max)}] n=${s.n}`;
      };
      const b = g.byVariant.baseline;
      const p = g.byVariant.patched;
      let delta = '–';
      if (b?.length && p?.length) {
        const mb = median(b);
        const mp = median(p);
        delta = `${mp - mb >= 0 ? '+' : ''}${fmt(mp - mb)} (${(((mp - mb) / mb) * 100).toFixed(1)}%)`;
      }
      L.push(`| ${g.name} | ${g.backend}${g.flavor === 'normal' ? '' : ` (${g.flavor} kernel)`} | ${g.unit} | ${cell(b)} | ${cell(p)} | ${delta} |`);
    }
    L.push('');
    L.push('What the backends\' numbers mean:', '');
    for (const be of new Set(groups.map((g) => g.backend))) L.push(`- ${be}: ${BACKEND_MEANING[be]}`);
  }
  if (r.notRun.length > 0) {
    L.push('', '## Not run', '');
    for (const n of r.notRun) L.push(`- ${n.variant} on ${n.backend}: ${n.reason}`);
  }
  if (r.tests.length > 0) {
    // Cases per top-level suite, so a missing or shrunken suite shows.
    const bySuite = new Map<string, Record<'pass' | 'fail' | 'skip' | 'crashed', number>>();
    for (const t of r.tests) {
      const key = `${t.suite.split('/')[0]}\0${t.variant}\0${t.backend}\0${t.flavor}`;
      const c = bySuite.get(key) ?? { pass: 0, fail: 0, skip: 0, crashed: 0 };
      c[t.status]++;
      bySuite.set(key, c);
    }
    L.push('', '## KUnit suites', '', '| suite | variant | backend | flavor | pass | fail | skip | crashed |', '|---|---|---|---|---|---|---|---|');
    for (const [key, c] of bySuite) {
      const [suite, variant, backend, fl] = key.split('\0');
      L.push(`| ${suite} | ${variant} | ${backend} | ${fl} | ${c.pass} | ${c.fail} | ${c.skip} | ${c.crashed} |`);
    }
  }
  if (r.stress.length > 0) {
    L.push('', '## KUnit stress totals', '', '| variant | backend | flavor | round | case | totals |', '|---|---|---|---|---|---|');
    for (const s of r.stress) {
      L.push(`| ${s.variant} | ${s.backend} | ${s.flavor} | ${s.round} | ${s.suite}.${s.case} | ${Object.entries(s.values).map(([k, v]) => `${k}=${v}`).join(' ')} |`);
    }
  }
  const failed = r.tests.filter((t) => t.status === 'fail' || t.status === 'crashed');
  if (failed.length > 0) {
    L.push('', '## Failed KUnit cases', '');
    for (const t of failed) L.push(`- ${t.variant}/${t.backend}/${t.flavor}: ${t.suite}.${t.case} ${t.status}${t.reason ? ` (${t.reason})` : ''}`);
  }
  L.push('');
  return L.join('\n');
}
