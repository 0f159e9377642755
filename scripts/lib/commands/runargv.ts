/**
 * run.mjs as a child process, for the commands that start one per run
 * (bisect.mjs: `git bisect run` needs a command per step; nightly.mjs):
 * each such run keeps its own run directory and log, and is what a person
 * could have typed. The child's flags come from one typed options object
 * through runArgv(), the inverse of run.mjs's parser (cli.ts): parsing
 * runArgv(o) gives o back (tests/unit/runargv.test.ts). Flags at their
 * default (options.ts runDefaults) are left out, so the recorded command
 * reads as a person would write it.
 */
import { join } from 'node:path';
import { QkError } from '../plumbing/errors.ts';
import { spawn } from '../plumbing/proc.ts';
import { REPO_ROOT } from '../plumbing/paths.ts';
import { NET_DEFAULTS } from '../pipeline/net.ts';
import { runDefaults, type RunDefaults, type RunOptions } from '../pipeline/options.ts';
import type { SourceSpec } from '../pipeline/source.ts';
import type { Side } from '../analysis/results.ts';

export const RUN_MJS = join(REPO_ROOT, 'scripts', 'run.mjs');

/** The source flags of a kernel source (none: the installed linux-source-6.12). */
export function sourceArgv(s: SourceSpec): string[] {
  switch (s.kind) {
    case 'debian':
      return s.release ? ['--source', `debian:${s.release}`] : [];
    case 'tarball':
      return ['--tarball', s.path];
    case 'tree':
      return ['--tree', s.path, ...(s.ref ? ['--ref', s.ref] : [])];
    case 'git':
      return ['--git', s.url, '--ref', s.ref];
  }
}

/** A side as --side spells it: `NAME=TREE[@BASE][/PROFILE] [KERNEL ARGS...]` (plan.ts parseSide). */
function sideSpec(s: Side): string {
  if (s.twinOf !== undefined) throw new QkError('infra-error', `internal: side ${s.name} is an A/A twin, which the plan makes (--aa-control), not a flag`);
  return [`${s.name}=${s.variant}${s.base ? `@${s.base}` : ''}${s.profile ? `/${s.profile}` : ''}`, ...s.cmdline].join(' ');
}

/** The sides as flags: --variants when each is a plain tree (named after it, no arguments, the run's base), else one --side each. */
function sidesArgv(sides: readonly Side[]): string[] {
  const plain = sides.every((s) => s.name === s.variant && s.cmdline.length === 0 && s.base === undefined && s.profile === undefined && s.twinOf === undefined);
  return plain ? ['--variants', sides.map((s) => s.variant).join(',')] : sides.flatMap((s) => ['--side', sideSpec(s)]);
}

/**
 * run.mjs's flags for `o` (without node and the script). The sides, the
 * A/A control and the run id are always given; other settings only when
 * they differ from the default. A kernel argument cannot hold white space
 * (the command line splits --append and --side there), and resolved bases
 * (pipeline.ts resolveSources) are not flags: both are refused.
 */
export function runArgv(o: RunOptions, d: RunDefaults = runDefaults()): string[] {
  if (o.bases !== undefined) throw new QkError('infra-error', 'internal: resolved bases are not run.mjs flags; give the sides their bases (--side NAME=TREE@BASE)');
  const spaced = [...o.extraCmdline, ...o.sides.flatMap((s) => s.cmdline)].find((x) => /\s/.test(x) || x === '');
  if (spaced !== undefined) throw new QkError('infra-error', `internal: the kernel argument '${spaced}' cannot be a run.mjs flag (white space or empty)`);
  const a: string[] = [...sourceArgv(o.source)];
  const flag = (name: string, value: string | number | undefined, dflt?: string | number) => {
    if (value !== undefined && value !== dflt) a.push(name, String(value));
  };
  flag('--series', o.seriesDir, d.seriesDir);
  flag('--other-series', o.otherSeries);
  a.push(...sidesArgv(o.sides));
  flag('--backend', o.backends.join(','), d.backends.join(','));
  flag('--smp', o.smp, d.smp);
  flag('--memory', o.memoryMB, d.memoryMB);
  flag('--numa', o.numaNodes, d.numaNodes);
  flag('--boots', o.boots, d.boots);
  flag('--boot-timeout', o.bootTimeoutS, d.bootTimeoutS);
  flag('--silence-timeout', o.silenceTimeoutS, d.silenceTimeoutS);
  flag('--jobs', o.jobs, d.jobs);
  flag('--output', o.outputDir, d.outputDir);
  flag('--work-dir', o.workDir, d.workDir);
  flag('--config-profile', o.profile, d.profile);
  flag('--flavors', o.flavors.join(','), d.flavors.join(','));
  for (const f of o.extraFragments) a.push('--config', f);
  flag('--append', o.extraCmdline.length > 0 ? o.extraCmdline.join(' ') : undefined);
  flag('--modules', o.modules.length > 0 ? o.modules.join(',') : 'none', d.modules.join(','));
  flag('--bench', o.benchSet, d.benchSet);
  a.push('--aa-control', o.aaControl ?? 'none');
  if (o.net) {
    a.push('--net', o.net.scenarios.join(','));
    flag('--net-count', o.net.count, NET_DEFAULTS.count);
    flag('--net-samples', o.net.samples, NET_DEFAULTS.samples);
    flag('--net-bytes', o.net.bytes, NET_DEFAULTS.bytes);
    flag('--net-virtio-frames', o.net.vframes, NET_DEFAULTS.vframes);
    flag('--net-virtio-seconds', o.net.vseconds, NET_DEFAULTS.vseconds);
    flag('--net-break', o.net.break);
  }
  flag('--provoke', o.provoke);
  flag('--tcg-threads', o.tcgThreads);
  flag('--uml-cpu', o.umlCpu);
  flag('--qemu', o.qemu ?? d.qemu, d.qemu);
  flag('--build-hugepages', o.buildHugepages ?? d.buildHugepages, d.buildHugepages);
  flag('--stop-after', o.stopAfter);
  flag('--lock-wait', o.lockWaitS, d.lockWaitS);
  if (!o.allowInstall) a.push('--no-install');
  a.push('--run-id', o.runId);
  return a;
}

/**
 * Run run.mjs with `o` in a child process, its output appended to
 * `logFile`. Its outcome is in its run directory (outputDir/runId), read
 * back through the manifest's and results' schemas; a run that failed is
 * no error here.
 */
export async function runChild(o: RunOptions, c: { what: string; logFile: string; timeoutMs: number; signal?: AbortSignal | undefined }): Promise<void> {
  await spawn(process.execPath, [RUN_MJS, ...runArgv(o)], { what: c.what, logFile: c.logFile, allowFailure: true, timeoutMs: c.timeoutMs, ...(c.signal ? { signal: c.signal } : {}) });
}
