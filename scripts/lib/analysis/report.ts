/**
 * report.md: a run's results.json (results.ts) rendered for people: what
 * ran and on which kernel, the benchmark sections (benchreport.ts), then
 * the sides, boots, flaky crashes, what did not run, the KUnit suites and
 * failed cases, and how to reproduce a boot.
 */
import { renderBenchSections } from './benchreport.ts';
import type { Results, Side, VariantName } from './results.ts';

export interface ReportContext {
  readonly startedAt: string;
  readonly source?: { readonly description: string; readonly version: string };
  readonly series?: { readonly hash: string; readonly patches: readonly string[] };
  /** Shell command that runs the whole run again. */
  readonly reproduce?: string;
  /** QEMU guests of this many NUMA nodes (--numa). */
  readonly numaNodes?: number;
  /** Each kernel built: its config profile and the options the series' fast paths feel. */
  readonly kernels?: readonly KernelConfig[];
}

export interface KernelConfig {
  /** variant/arch: `patched/x86_64` */
  readonly name: string;
  readonly profile: string;
  readonly options: Readonly<Record<string, string>>;
  /** distro and rt: Debian's config and how many of its built-in options differ here (build directory's qk-distro-changes.txt). */
  readonly distro?: { readonly file: string; readonly package: string; readonly changes: number };
  readonly cannotHave?: { readonly options: readonly string[]; readonly why: string };
}

/** The kernels' profiles and the options the series feels that are on (`n` left out). */
function kernelsSection(kernels: readonly KernelConfig[]): string[] {
  const L = ['## Kernels', '', '| kernel | profile | options the series feels (on) | Debian config |', '|---|---|---|---|'];
  for (const k of kernels) {
    const on = Object.entries(k.options).filter(([, v]) => v !== 'n').map(([o, v]) => (v === 'y' ? o : `${o}=${v}`));
    const debian = k.distro ? `${k.distro.file} (${k.distro.package}), ${k.distro.changes} built-in option(s) differ` : '–';
    L.push(`| ${k.name} | ${k.profile} | ${cellEsc(on.join(' ')) || '–'} | ${cellEsc(debian)} |`);
  }
  for (const k of kernels) if (k.cannotHave) L.push('', `${k.name} is built without ${k.cannotHave.options.join(', ')}: ${k.cannotHave.why}.`);
  L.push('');
  return L;
}

const cellEsc = (s: string): string => s.replace(/\|/g, '\\|');

/** The series a side's tree carried, for the Sides table. */
function seriesCell(r: Results, variant: VariantName): string {
  if (variant === 'baseline') return 'none';
  const s = r.series?.[variant];
  return s ? cellEsc(`${s.hash.slice(0, 12)}: ${s.patches.length} patch(es) from ${s.from}`) : '–';
}

export function renderReport(r: Results, ctx: ReportContext): string {
  const L: string[] = [];
  L.push(`# qmempool-kit run ${r.runId}`, '');
  L.push(`- result: **${r.class}**`);
  L.push(`- started: ${ctx.startedAt}`);
  if (ctx.source) L.push(`- kernel: ${ctx.source.version} (${ctx.source.description})`);
  if (ctx.series) L.push(`- series: ${ctx.series.patches.length} patch(es), hash ${ctx.series.hash.slice(0, 12)}`);
  const other = r.series?.other;
  if (other) L.push(`- other = the series from ${other.from}: ${other.patches.length} patch(es), hash ${other.hash.slice(0, 12)}`);
  if (ctx.numaNodes) L.push(`- QEMU guests: ${ctx.numaNodes} NUMA nodes, a socket and an equal share of memory each (UML guests have one)`);
  if (ctx.reproduce) L.push(`- reproduce: \`${ctx.reproduce}\``);
  L.push('', ...renderBenchSections(r));
  if (ctx.kernels && ctx.kernels.length > 0) L.push(...kernelsSection(ctx.kernels));
  if (r.sides.length > 0) {
    // A base column only where sides come from more than one base.
    const bases = r.sides.some((s) => s.base);
    const baseCell = (s: Side) => (bases ? ` ${s.base ?? (ctx.source ? `${ctx.source.version} (the run's source)` : "the run's source")} |` : '');
    L.push('## Sides', '', `| side | kernel tree |${bases ? ' base |' : ''} series | extra command line |`, `|---|---|${bases ? '---|' : ''}---|---|`);
    for (const s of r.sides) L.push(`| ${s.name}${s.twinOf ? ` (A/A control: ${s.twinOf} again)` : ''} | ${s.variant}${s.profile ? ` (${s.profile} profile)` : ''} |${baseCell(s)} ${seriesCell(r, s.variant)} | ${s.cmdline.length ? cellEsc(s.cmdline.join(' ')) : '–'} |`);
  }
  L.push('');
  L.push('## Boots', '', '| side | backend | flavor | purpose | round | pos | class | attempts | KUnit pass/fail/skip/crashed | wall s | reason |', '|---|---|---|---|---|---|---|---|---|---|---|');
  for (const b of r.boots) {
    const k = b.kunit;
    L.push(`| ${b.side} | ${b.backend} | ${b.flavor} | ${b.purpose ?? 'both'} | ${b.round} | ${b.position} | ${b.class} | ${b.attempts.length} | ${k.pass}/${k.fail}/${k.skip}/${k.crashed} | ${(b.wallMs / 1000).toFixed(1)} | ${cellEsc(b.reason)} |`);
  }
  const flaky = r.boots.filter((b) => b.flaky);
  if (flaky.length > 0) {
    L.push('', '## Flaky crashes (not repeated by another boot; they did not fail the run)', '');
    for (const b of flaky) {
      const first = b.attempts[b.flaky!.attempt - 1];
      L.push(`- ${b.side} on ${b.backend}, round ${b.round}: attempt ${b.flaky!.attempt} ${b.flaky!.class}${b.flaky!.signature ? ` \`${b.flaky!.signature}\`` : ''}${first ? ` (${first.consoleLog})` : ''}; ${b.attempts.length} boot(s), logs: ${b.attempts.map((a) => a.consoleLog).join(', ')}`);
    }
  }
  if (r.notRun.length > 0) {
    L.push('', '## Not run', '');
    for (const n of r.notRun) L.push(`- ${n.side ?? n.variant} on ${n.backend}: ${n.reason}`);
  }
  if (r.tests.length > 0) {
    // Cases per top-level suite, so a missing or shrunken suite shows.
    const bySuite = new Map<string, Record<'pass' | 'fail' | 'skip' | 'crashed', number>>();
    for (const t of r.tests) {
      const key = `${t.suite.split('/')[0]}\0${t.side}\0${t.backend}\0${t.flavor}`;
      const c = bySuite.get(key) ?? { pass: 0, fail: 0, skip: 0, crashed: 0 };
      c[t.status]++;
      bySuite.set(key, c);
    }
    L.push('', '## KUnit suites', '', '| suite | side | backend | flavor | pass | fail | skip | crashed |', '|---|---|---|---|---|---|---|---|');
    for (const [key, c] of bySuite) {
      const [suite, side, backend, fl] = key.split('\0');
      L.push(`| ${suite} | ${side} | ${backend} | ${fl} | ${c.pass} | ${c.fail} | ${c.skip} | ${c.crashed} |`);
    }
  }
  if (r.stress.length > 0) {
    L.push('', '## KUnit stress totals', '', '| side | backend | flavor | round | case | totals |', '|---|---|---|---|---|---|');
    for (const s of r.stress) {
      L.push(`| ${s.side} | ${s.backend} | ${s.flavor} | ${s.round} | ${s.suite}.${s.case} | ${Object.entries(s.values).map(([k, v]) => `${k}=${v}`).join(' ')} |`);
    }
  }
  const failed = r.tests.filter((t) => t.status === 'fail' || t.status === 'crashed');
  if (failed.length > 0) {
    L.push('', '## Failed KUnit cases', '');
    for (const t of failed) L.push(`- ${t.side}/${t.backend}/${t.flavor} round ${t.round}: ${t.suite}.${t.case} ${t.status}${t.reason ? ` (${t.reason})` : ''}`);
  }
  const repro = r.boots.filter((b) => b.reproduce);
  if (repro.length > 0) {
    L.push('', '## Reproduce a boot', '');
    for (const b of repro) L.push(`- ${b.side} on ${b.backend}${b.flavor === 'normal' ? '' : ` (${b.flavor})`}, round ${b.round}:`, '', `  \`\`\`sh\n  ${b.reproduce}\n  \`\`\``, '');
  }
  L.push('');
  return L.join('\n');
}
