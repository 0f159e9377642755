/**
 * `series check`: checkpatch --strict on each patch, a build after each
 * patch (bisectable, W=1 on the files it touches), then the KUnit suites
 * through a pipeline run on the requested flavors and backends. Writes
 * series-check.json into its own results directory.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT_CODE, QkError } from '../plumbing/errors.ts';
import type { Logger } from '../plumbing/log.ts';
import { writeJsonAtomic, sha256 } from '../plumbing/fsutil.ts';
import { capture, spawn } from '../plumbing/proc.ts';
import { newRunId } from '../plumbing/paths.ts';
import { prepareTree, prepareVariant } from '../pipeline/variants.ts';
import { DEFAULT_PROFILE, buildKernel, configure, type Flavor } from '../pipeline/kbuild.ts';
import { hostCheck } from '../pipeline/hostcheck.ts';
import { compilerHugepages } from '../pipeline/hugepages.ts';
import { runPipeline, toolchainVersions } from '../pipeline/pipeline.ts';
import { buildRunOptions, sidesFromVariants, type BackendChoice } from '../pipeline/options.ts';
import { baseOf, setup, type Common } from './edit.ts';

export interface PatchCheck {
  patch: string;
  checkpatch: { errors: number; warnings: number; checks: number };
  build: 'ok' | 'failed' | 'not run';
  w1Warnings: string[];
}

export function parseCheckpatchTotals(out: string): { errors: number; warnings: number; checks: number } | undefined {
  const m = /total: (\d+) errors, (\d+) warnings, (?:(\d+) checks, )?\d+ lines checked/.exec(out);
  return m ? { errors: Number(m[1]), warnings: Number(m[2]), checks: Number(m[3] ?? 0) } : undefined;
}

export async function seriesCheck(
  c: Common & { build: boolean; kunit: boolean; backends: BackendChoice[]; flavors: Flavor[]; jobs: number; output: string },
  log: Logger,
  signal: AbortSignal,
): Promise<number> {
  const spec = await baseOf(c, log);
  // QEMU is the KUnit run's to choose and check (pipeline.ts: the registry's or the host's).
  await hostCheck({ needDebianSource: spec.kind === 'debian' && !spec.release, needQemu: false, allowInstall: true, log, logFile: join(c.workDir, 'series-host-check.log') });
  const { source, series } = await setup(c, log, spec);
  const runId = `series-check-${newRunId()}`;
  const runDir = join(c.output, runId);
  const logs = join(runDir, 'logs');
  await mkdir(logs, { recursive: true });
  const checks: PatchCheck[] = series.patches.map((p) => ({ patch: p.name, checkpatch: { errors: -1, warnings: -1, checks: -1 }, build: 'not run', w1Warnings: [] }));
  const save = () => writeJsonAtomic(join(runDir, 'series-check.json'), { source: source.version, baseCommit: source.baseCommit, seriesHash: series.hash, patches: checks });

  // checkpatch needs a kernel tree around it: the baseline worktree is one.
  const base = await prepareVariant('baseline', { source, series: { patched: series }, workDir: c.workDir, log, logFile: join(logs, 'trees.log') });
  for (const [i, p] of series.patches.entries()) {
    const r = await spawn('perl', [join(base.src, 'scripts', 'checkpatch.pl'), '--strict', '--no-color', p.path], {
      what: `checkpatch ${p.name}`,
      cwd: base.src,
      allowFailure: true,
      logFile: join(logs, `checkpatch-${i + 1}.log`),
    });
    const totals = parseCheckpatchTotals(r.output);
    if (!totals) throw new QkError('infra-error', `could not read checkpatch's totals for ${p.name}`, { logFile: join(logs, `checkpatch-${i + 1}.log`) });
    checks[i]!.checkpatch = totals;
    log.info(`checkpatch --strict ${p.name}: ${totals.errors} errors, ${totals.warnings} warnings, ${totals.checks} checks`);
  }
  await save();

  if (c.build) {
    const toolchain = await toolchainVersions();
    const compiler = await compilerHugepages({ choice: 'auto', workDir: c.workDir, log, logFile: join(logs, 'compiler.log') });
    log.info(`compiler: ${compiler.note}`);
    for (const [i, p] of series.patches.entries()) {
      if (signal.aborted) throw new QkError('interrupted', 'interrupted');
      const patches = series.patches.slice(0, i + 1);
      const logFile = join(logs, `build-after-${i + 1}.log`);
      const tree = await prepareTree('bisect', { source, series, patches, seriesHash: sha256(...patches.map((x) => x.sha256)), workDir: c.workDir, log, logFile });
      try {
        const target = { arch: 'x86_64', flavor: 'normal' } as const;
        const cfg = await configure(tree, target, { profile: DEFAULT_PROFILE, seriesFragments: series.configFragments, extraFragments: [], log, logFile, allowUndefined: true });
        const kb = await buildKernel(tree, cfg, { jobs: c.jobs, toolchain: [toolchain['gcc'], toolchain['ld']].join('|'), log, logFile, compilerEnv: compiler.env });
        // W=1 on the C files this patch touches: no new warnings.
        const changed = (await capture('git', ['diff', '--name-only', '--diff-filter=AM', 'HEAD~1', 'HEAD', '--', '*.c'], { what: 'files of the patch', cwd: tree.src })).split('\n').filter(Boolean);
        const objs = changed.map((f) => f.replace(/\.c$/, '.o'));
        if (objs.length > 0) {
          const w = await spawn('make', ['-C', tree.src, `O=${kb.buildDir}`, 'W=1', 'CC=ccache gcc', ...objs], { what: `W=1 build of ${objs.join(' ')}`, logFile, failClass: 'build-failure' });
          checks[i]!.w1Warnings = w.output.split('\n').filter((l) => /\bwarning:/.test(l));
        }
        checks[i]!.build = 'ok';
        log.info(`build after ${p.name}: ok${objs.length ? `, W=1 warnings in ${objs.length} object(s): ${checks[i]!.w1Warnings.length}` : ''}`);
      } catch (e) {
        checks[i]!.build = 'failed';
        await save();
        throw e;
      }
      await save();
    }
  }

  const dirty = checks.filter((x) => x.checkpatch.errors + x.checkpatch.warnings + x.checkpatch.checks > 0 || x.w1Warnings.length > 0 || x.build === 'failed');
  let code = dirty.length > 0 ? EXIT_CODE['test-failure'] : 0;
  let kunitClass: string | undefined;
  if (c.kunit) {
    // The patched tree's KUnit suites only: no benchmark module, one round. Checker kernels
    // (KASAN, KCSAN) need more memory and time than run.mjs's defaults give, and single-threaded
    // TCG, as checker boots always get, keeps a crash the kernel's, never the emulator's.
    const opts = buildRunOptions({
      source: spec,
      seriesDir: series.dir,
      sides: sidesFromVariants(['patched']),
      backends: c.backends,
      flavors: c.flavors,
      modules: [],
      boots: 1,
      memoryMB: 2048,
      bootTimeoutS: 1800,
      silenceTimeoutS: 300,
      tcgThreads: 'single',
      jobs: c.jobs,
      outputDir: c.output,
      workDir: c.workDir,
      runId: `${runId}-kunit`,
      argv: ['series.mjs', 'check'],
    });
    const out = await runPipeline(opts, log, signal);
    log.info(`KUnit run: ${out.class} (${join(out.runDir, 'report.md')})`);
    if (out.exitCode !== 0) code = out.exitCode;
    kunitClass = out.class;
  }
  // "clean" only when the guests had nothing to say either.
  const patchesPart = dirty.length === 0 ? 'patches clean' : `${dirty.length} patch(es) need work: ${dirty.map((d) => d.patch).join(', ')}`;
  const kunitPart = kunitClass === undefined || kunitClass === 'ok' ? '' : `; KUnit run: ${kunitClass}`;
  const verdict = dirty.length === 0 && kunitPart === '' ? 'clean' : `${patchesPart}${kunitPart}`;
  log.info(`series check: ${verdict} (${join(runDir, 'series-check.json')})`);
  return code;
}
