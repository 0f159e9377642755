/**
 * The pipeline, for real: Debian's linux-source-6.12, kernels built and
 * booted under QEMU TCG and UML, and every failure class provoked for real.
 * The global setup (setup.ts) runs the README command once into the suite's
 * own temporary directories; every test here reuses those builds and runs
 * on its own, in any order. What a test makes (series, patch repositories)
 * goes under the suite's root, beside the results it explains.
 */
import { cp, mkdtemp, readFile, rm, symlink, writeFile, mkdir, readdir, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { FILTERED_BACKENDS, MIN_KEPT_SAMPLES } from '../../scripts/lib/analysis/hostspeed.ts';
import { describe, expect, inject, it } from 'vitest';
import { requirements, which } from '../../scripts/lib/pipeline/hostcheck.ts';
import { REPO, finishTool, parseTool, runTool, runView, startTool } from './tool.ts';
import { buildCommand } from '../../scripts/lib/commands/cli.ts';
import { MULTI_TCG_MIN_MAJOR, parseQemuVersion } from '../../scripts/lib/pipeline/qemu.ts';
import { shellQuote } from '../../scripts/lib/plumbing/quote.ts';

const qk = inject('qk');
let n = 0;
// One benchmark round and no A/A twin unless a test asks for them: these tests check the machinery, not the figures.
const oneRound = (args: string[]) => [...args, ...(args.includes('--boots') ? [] : ['--boots', '1']), ...(args.includes('--aa-control') ? [] : ['--aa-control', 'none'])];
const tool = (name: string, args: string[], env: Record<string, string> = {}) => runTool(qk, `it-${name}-${Date.now().toString(36)}${n++}`, oneRound(args), env);
const fullRun = () => runView(qk, qk.full.runId, qk.full.exitCode, '');

/**
 * A git checkout of the same kernel, as a --tree source of its own: tests
 * that break the patched tree (a patch that does not apply or build, a
 * dropped option) work there, so the README run's trees stay as they are.
 */
let scratch: Promise<string> | undefined;
function scratchTree(): Promise<string> {
  scratch ??= (async () => {
    const m = await fullRun().manifest();
    const tree = join(qk.root, 'scratch-linux');
    await rm(tree, { recursive: true, force: true });
    await execa('git', ['clone', '-q', '--shared', '--no-checkout', join(qk.work, 'bases', m.source!.key, 'repo'), tree]);
    return tree;
  })();
  return scratch;
}

/** A series directory of one patch made with git from a file of the base tree. */
async function oneLinePatchSeries(file: string, edit: (text: string) => string, subject: string): Promise<string> {
  const m = await fullRun().manifest();
  const base = join(qk.work, 'bases', m.source!.key, 'repo');
  const original = (await execa('git', ['-C', base, 'show', `${m.source!.baseCommit}:${file}`])).stdout + '\n';
  const repo = await mkdtemp(join(qk.root, 'qk-patch-'));
  const git = (...a: string[]) => execa('git', ['-C', repo, ...a], { env: { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@localhost', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@localhost' } });
  await git('init', '-q');
  await mkdir(join(repo, file, '..'), { recursive: true });
  await writeFile(join(repo, file), original);
  await git('add', '.');
  await git('commit', '-q', '-m', 'base');
  await writeFile(join(repo, file), edit(original));
  await git('commit', '-q', '-am', subject);
  const series = await mkdtemp(join(qk.root, 'qk-series-'));
  await git('format-patch', '-q', '-1', '-o', series);
  const [patch] = (await readdir(series)).filter((f) => f.endsWith('.patch'));
  await writeFile(join(series, 'series'), `${patch}\n`);
  return series;
}

describe('pipeline on the default kernel source', () => {
  // Bad flags and paths (exit 2, before anything is created): tests/unit/badinput.test.ts, without waiting for the README run.

  it('names a missing tool and the apt-get command, exit 2', async () => {
    // A PATH with every tool the host check wants except QEMU.
    const bin = await mkdtemp(join(qk.root, 'qk-path-'));
    const cmds = new Set(['file', 'ldd', 'sh', 'bash', ...requirements({ needDebianSource: true, needQemu: false }).flatMap((r) => ('cmd' in r.probe ? [r.probe.cmd] : []))]);
    for (const c of cmds) {
      const p = await which(c);
      if (p) await symlink(p, join(bin, c));
    }
    // The host's QEMU on purpose: the registry's would need no qemu-system-x86 on the host.
    const r = await tool('missing-tool', ['--backend', 'tcg', '--no-install', '--qemu', 'host'], { PATH: bin, HOME: process.env['HOME'] ?? '/root' });
    expect(r.exitCode).toBe(2);
    expect(r.output).toContain('error (missing-dependency)');
    expect(r.output).toContain('qemu-system-x86_64 (qemu-system-x86)');
    expect(r.output).toMatch(/apt-get install -y --no-install-recommends qemu-system-x86\b/);
    expect((await r.manifest()).class).toBe('missing-dependency');
  });

  it('reports a patch that does not apply, naming the patch and the file, exit 2', async () => {
    const series = await mkdtemp(join(qk.root, 'qk-series-'));
    await writeFile(join(series, 'series'), '0001-test-bump-version.patch\n');
    await writeFile(
      join(series, '0001-test-bump-version.patch'),
      [
        'From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001',
        'From: qmempool-kit test <test@localhost>',
        'Date: Thu, 1 Jan 2026 00:00:00 +0000',
        'Subject: [PATCH] test: a patch written for another kernel',
        '',
        '---',
        ' Makefile | 2 +-',
        ' 1 file changed, 1 insertion(+), 1 deletion(-)',
        '',
        'diff --git a/Makefile b/Makefile',
        'index 1111111111..2222222222 100644',
        '--- a/Makefile',
        '+++ b/Makefile',
        '@@ -1,4 +1,4 @@',
        ' # SPDX-License-Identifier: GPL-2.0',
        ' VERSION = 5',
        '-PATCHLEVEL = 4',
        '+PATCHLEVEL = 5',
        ' SUBLEVEL = 0',
        '-- ',
        '2.39.5',
        '',
      ].join('\n'),
    );
    const r = await tool('apply-failure', ['--tree', await scratchTree(), '--series', series, '--variants', 'patched', '--backend', 'uml']);
    expect(r.exitCode).toBe(2);
    expect(r.output).toMatch(/error \(apply-failure\): patch 1\/1 0001-test-bump-version.patch does not apply to 6\.12\.\d+ \(\w+\): conflicts in Makefile\n/);
    const m = await r.manifest();
    expect(m.state).toBe('failed');
    expect(m.class).toBe('apply-failure');
    expect((await r.results()).class).toBe('apply-failure');

    // With a baseline: the patched tree is made while the baseline kernel is configured
    // and built, and its failure stops the run then, not once the baseline is built.
    // (A config of its own, so that the baseline is never a build kept from an earlier run.)
    const fragment = join(series, 'fresh.config');
    await writeFile(fragment, `CONFIG_LOCALVERSION="-qk${Date.now()}"\n`);
    const both = await tool('apply-failure-2', ['--tree', await scratchTree(), '--series', series, '--backend', 'uml', '--config', fragment]);
    expect(both.exitCode).toBe(2);
    expect(both.output).toMatch(/error \(apply-failure\): patch 1\/1 0001-test-bump-version.patch does not apply/);
    const m2 = await both.manifest();
    expect(m2.class).toBe('apply-failure');
    expect(m2.stages.find((x) => x.stage === 'variant' && x.variant === 'baseline')?.status).toBe('ok');
    expect(m2.stages.some((x) => x.stage === 'build' && x.variant === 'baseline' && x.status === 'ok')).toBe(false);
  });

  it('the README command: builds, boots baseline and patched on kvm or tcg (as the probe decides) and uml, writes the run directory', async () => {
    const r = fullRun();
    const m = await r.manifest();
    expect(r.exitCode, m.error).toBe(0);
    expect(m.state).toBe('complete');
    expect(m.class).toBe('ok');
    // auto: kvm where the probe boot reaches userspace, else tcg; either way the manifest says which and why.
    // (Both outcomes of the probe are tested on any host with a stand-in QEMU: tests/unit/kvmprobe.test.ts.)
    const qemuBackend = m.backends?.resolved.find((b) => b !== 'uml');
    expect(m.backends?.resolved).toEqual([qemuBackend, 'uml']);
    expect(m.backends?.note).toMatch(qemuBackend === 'kvm' ? /^auto: KVM probe reached userspace, using kvm$/ : /^auto: KVM not usable \(.+\), using tcg$/);
    expect(m.stages.filter((s) => s.stage === 'kvm-probe')).toHaveLength(1);
    // UML first: every uml boot before the first x86_64 build stage, so the first headline comes in minutes.
    const at = (f: (s: (typeof m.stages)[number]) => boolean) => m.stages.findIndex(f);
    const lastUml = m.stages.map((s) => s.stage === 'boot' && s.backend === 'uml').lastIndexOf(true);
    expect(lastUml).toBeGreaterThan(0);
    expect(at((s) => s.stage === 'build' && s.arch === 'x86_64')).toBeGreaterThan(lastUml);
    expect(at((s) => s.stage === 'boot' && s.backend !== 'uml')).toBeGreaterThan(lastUml);
    // The QEMU the boots used is the manifest's, and TCG's threading follows its version (multi from QEMU 10).
    expect(m.qemu?.binary).toMatch(/\/qemu-system-x86_64$/);
    expect(m.toolchain['qemu']).toBe(m.qemu?.version);
    const qemuMajor = parseQemuVersion(m.qemu?.version ?? '')?.major ?? 0;
    const threads = qemuMajor >= MULTI_TCG_MIN_MAJOR ? 'multi' : 'single';
    expect(m.backends?.tcgThreads).toBe(threads);
    if (m.qemu?.source === 'registry') {
      expect(m.qemu.packages.find((p) => p.name === 'qemu-system-x86')).toMatchObject({ suite: expect.stringMatching(/-backports$|^[a-z]+$/), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(m.qemu.firmware.length).toBeGreaterThan(0);
    }
    expect(m.source?.version).toMatch(/^6\.12\.\d+/);
    expect(Object.keys(m.variants)).toEqual(['baseline', 'patched']);
    for (const v of Object.values(m.variants)) expect(Object.keys(v.builds).sort()).toEqual(['um', 'x86_64']);
    expect(m.toolchain['gcc']).toMatch(/gcc/);
    expect(m.tool.version).toBe(JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')).version);
    expect(typeof m.tool.dirty).toBe('boolean');
    expect(m.reproduce).toMatch(/npx zx scripts\/run\.mjs -o /);
    expect(m.stages.filter((s) => s.stage === 'build')).toHaveLength(4);
    // Each patched kernel was built from a copy of baseline's build directory (seed.ts), and the
    // rebuild check passed: every object of what the series touched was rebuilt, not kept from the copy.
    // (A QK_IT_DIR whose patched builds predate seeding has none: remove it.)
    for (const arch of ['um', 'x86_64']) {
      const build = m.stages.find((s) => s.stage === 'build' && s.variant === 'patched' && s.arch === arch);
      expect(build?.status).toBe('ok');
      expect(build?.seed, JSON.stringify(build)).toMatchObject({ from: `baseline/${arch}`, check: 'passed' });
      // skbuff.o, alf_queue.o, qmempool.o and the KUnit suites' objects at least.
      expect(build!.seed!.checked).toBeGreaterThanOrEqual(6);
      expect(build!.seed!.touched).toBeGreaterThanOrEqual(10);
      if (build!.cached) continue;
      const seed = m.stages.find((s) => s.stage === 'seed' && s.variant === 'patched' && s.arch === arch);
      expect(seed?.seed, JSON.stringify(seed)).toMatchObject({ from: `baseline/${arch}`, touched: build!.seed!.touched });
      expect(seed!.seed!.rewritten).toBeGreaterThan(500);
      // What the series changed (and what the config and release string reach), not the kernel: a cold build writes 1000-2200 objects.
      expect(build!.seed!.rebuilt).toBeGreaterThanOrEqual(build!.seed!.checked ?? 0);
      expect(build!.seed!.rebuilt).toBeLessThan(400);
      expect(m.stages.findIndex((s) => s === seed)).toBeLessThan(m.stages.findIndex((s) => s.stage === 'config' && s.variant === 'patched' && s.arch === arch));
    }
    expect(m.stages.some((s) => s.stage === 'seed' && s.variant === 'baseline')).toBe(false);
    expect(await readFile(join(r.runDir, 'logs', 'build-patched-um.log'), 'utf8')).toMatch(/\$ cp -a --reflink=auto \S+\/baseline\/build-um |cached: kernel patched\/um/);

    const res = await r.results();
    expect(res.schemaVersion).toBe(2);
    const rounds = Number(buildCommand().getOptionValue('boots'));
    // One KUnit boot of the patched kernel per backend, then benchmark boots of both sides per round,
    // and on uml (the cheapest backend) the A/A twin: the baseline kernel again, from the same build.
    // Boots are numbered in the order they ran: every uml boot first (UML first), then the QEMU backend's.
    for (const backend of new Set(res.boots.map((b) => b.backend))) {
      expect(res.boots.filter((b) => b.backend === backend).map((b) => `${b.purpose}:${b.side}`)[0], backend).toBe('kunit:patched');
    }
    expect(res.boots.map((b) => b.seq)).toEqual(res.boots.map((_, i) => i));
    const firstQemu = res.boots.findIndex((b) => b.backend !== 'uml');
    expect(res.boots.slice(firstQemu).every((b) => b.backend !== 'uml')).toBe(true);
    expect(res.boots.filter((b) => b.purpose === 'bench')).toHaveLength(5 * rounds);
    expect(res.sides.map((s) => [s.name, s.variant, s.twinOf])).toEqual([['baseline', 'baseline', undefined], ['patched', 'patched', undefined], ['baseline-aa', 'baseline', 'baseline']]);
    const twin = res.boots.filter((b) => b.side === 'baseline-aa');
    expect(twin.map((b) => `${b.purpose}:${b.backend}`)).toEqual(Array(rounds).fill('bench:uml'));
    const umlBinary = (side: string) => /(\S*\/linux) mem=/.exec(res.boots.find((b) => b.side === side && b.backend === 'uml')!.reproduce)?.[1];
    expect(umlBinary('baseline')).toBeDefined();
    expect(umlBinary('baseline-aa')).toBe(umlBinary('baseline'));
    expect(res.families.find((f) => f.kind === 'control')).toMatchObject({ backend: 'uml', side: 'baseline-aa', twinOf: 'baseline' });
    for (const b of res.boots) {
      expect(b.class, b.reason).toBe('ok');
      expect(b.kunit.fail + b.kunit.crashed).toBe(0);
      if (b.backend === 'uml') expect(b.reproduce).toMatch(/\/linux mem=/);
      else {
        // The QEMU that ran, with its own firmware directories, as the manifest names them.
        expect(b.reproduce.startsWith(`${shellQuote([m.qemu!.binary, ...m.qemu!.firmware.flatMap((d) => ['-L', d])])} -nodefaults `), b.reproduce).toBe(true);
        if (qemuBackend === 'kvm') expect(b.reproduce).toContain('-accel kvm -cpu host');
        else {
          expect(b.reproduce).toContain(`tcg,thread=${threads}`);
          expect(b.reproduce).toContain('rdinit=/init no_timer_check ');
        }
      }
    }
    // KUnit boots run the series' suites and no benchmark; benchmark boots the reverse.
    for (const b of res.boots.filter((x) => x.purpose === 'kunit')) {
      expect(res.tests.some((t) => t.backend === b.backend && t.suite === 'alf_queue')).toBe(true);
      expect(res.metrics.some((m) => m.boot === b.seq)).toBe(false);
    }
    expect(res.tests.filter((t) => t.suite === 'alf_queue' || t.suite === 'qmempool').every((t) => res.boots.find((b) => b.side === t.side && b.backend === t.backend && b.purpose === 'kunit'))).toBe(true);
    for (const v of ['baseline', 'patched'] as const) {
      for (const be of m.backends!.resolved) {
        const ms = res.metrics.filter((x) => x.side === v && x.backend === be && x.name === 'slab/reuse');
        // On uml a boot's case taken while the host ran the guest slow has a "slowed" status instead (hostspeed.ts).
        const slowed = res.benchStatus.filter((x) => x.side === v && x.backend === be && x.suite === 'slab' && x.case === 'reuse' && x.status === 'slowed');
        expect(ms.length + slowed.length, `${v}/${be}`).toBe(rounds);
        if (!FILTERED_BACKENDS.includes(be)) expect(slowed).toEqual([]);
        for (const x of ms) {
          expect(x.samples.length).toBeGreaterThanOrEqual(FILTERED_BACKENDS.includes(be) ? MIN_KEPT_SAMPLES : 5);
          for (const sample of x.samples) expect(sample).toBeGreaterThan(0);
          expect(x.guest?.['init_on_alloc']).toBe(false);
        }
      }
    }
    // The series' cases run on patched kernels and are skipped, with the reason, on baseline.
    const qmp = res.metrics.filter((x) => x.name === 'qmempool/reuse');
    expect(new Set(qmp.map((x) => x.side))).toEqual(new Set(['patched']));
    expect(qmp[0]!.peer).toBe('slab/reuse');
    expect((qmp[0]!.guest?.['pool'] as Record<string, number>)['allocs']).toBeGreaterThan(0);
    expect(res.benchStatus.some((x) => x.side === 'baseline' && x.suite === 'qmempool' && x.status === 'skip' && /CONFIG_QMEMPOOL/.test(x.reason))).toBe(true);
    expect(res.tests.some((t) => t.suite === 'example' && t.case === 'example_skip_test' && t.status === 'skip')).toBe(true);
    const report = await readFile(join(r.runDir, 'report.md'), 'utf8');
    expect(report.indexOf('## Benchmarks: the headline')).toBeLessThan(report.indexOf('## Boots'));
    // It leads with the forest plot, states the tests per backend and the thresholds, and the A/A control.
    expect(report.indexOf('charts/forest.svg')).toBeLessThan(report.indexOf('### Goals'));
    expect(report).toMatch(/\| uml \| \d+ \| \d+ \| \d+ \| \d+ \| \d+ \| ±3\.0% \|/);
    expect(report).toMatch(/A\/A control on uml \(baseline-aa, the baseline kernel again\): \d+ of \d+ tests at p ≤ 0\.05/);
    expect(report).toMatch(/\| qmempool fast path vs SLUB instant reuse \(qmempool\/reuse ÷ slab\/reuse\) \| uml \| patched \| [\d.]+ \/ [\d.]+ \| [\d.]+×/);
    expect(report).toMatch(/\| slab\/reuse \| uml \| ns\/op \| [\d.]+ \[/);
    // The setup's README run printed its output into the suite's tool log.
    const printed = (await readFile(qk.toolLog, 'utf8')).split(`===== ${r.runId} `)[1] ?? '';
    expect(printed).toMatch(/headline \(ratios from this run; lower is better\):\n {2}qmempool\/reuse ÷ slab\/reuse on /);
    // UML first: its headline was printed before the first QEMU boot.
    const early = printed.search(/first results, uml \(the run goes on with /);
    expect(early).toBeGreaterThan(0);
    expect(early).toBeLessThan(printed.search(/boot \S+ on (tcg|kvm)/));
    const csv = (await readFile(join(r.runDir, 'results.csv'), 'utf8')).trim().split('\n');
    expect(csv).toHaveLength(res.metrics.length + 1);
    const charts = await readdir(join(r.runDir, 'charts'));
    expect(charts).toEqual(expect.arrayContaining(['uml-alloc_reuse.svg', `${qemuBackend}-alloc_reuse.svg`]));
    for (const c of charts) expect(report).toContain(`(charts/${c})`);
    const consoleLog = await readFile(join(r.runDir, res.boots[0]!.consoleLog), 'utf8');
    expect(consoleLog).toContain('QK-END {"status":0}');
    expect(await readFile(join(r.runDir, 'logs', 'build-baseline-x86_64.log'), 'utf8')).toMatch(/\$ make |cached: kernel baseline\/x86_64/);
  });

  it('parse.mjs --run rebuilds a stored run\'s results.json byte for byte', async () => {
    const r = fullRun();
    const copy = await mkdtemp(join(qk.root, 'qk-regen-'));
    await cp(r.runDir, copy, { recursive: true });
    const stored = await readFile(join(copy, 'results.json'), 'utf8');
    await writeFile(join(copy, 'results.json'), '{}\n');
    const p = await parseTool(['--run', copy]);
    expect(p.exitCode, p.output).toBe(0);
    expect(await readFile(join(copy, 'results.json'), 'utf8')).toBe(stored);
    expect((await parseTool(['--run', r.runDir, '--check'])).exitCode).toBe(0);
  });

  it('an immediate re-run takes every build from cache', async () => {
    const r = await tool('warm', []);
    expect(r.exitCode, r.output.slice(-3000)).toBe(0);
    const m = await r.manifest();
    const slow = m.stages.filter((s) => ['source', 'variant', 'config', 'build', 'modules', 'image'].includes(s.stage));
    expect(slow.length).toBeGreaterThan(0);
    for (const s of slow) expect(s.cached, JSON.stringify(s)).toBe(true);
    const nonBoot = slow.reduce((a, s) => a + s.wallMs, 0);
    expect(nonBoot).toBeLessThan(60_000);
  });

  it('classifies a kernel command line that panics, on tcg (confirmed by a second boot) and uml, exit 1', async () => {
    const r = await tool('panic', ['--backend', 'tcg,uml', '--variants', 'baseline', '--append', 'rdinit=/nonexistent init=/nonexistent']);
    expect(r.exitCode).toBe(1);
    const res = await r.results();
    expect(res.class).toBe('panic');
    // UML first: the uml boot ran (and is numbered) before the tcg one.
    expect(res.boots.map((b) => [b.backend, b.class, b.attempts.length])).toEqual([['uml', 'panic', 1], ['tcg', 'panic', 2]]);
    for (const b of res.boots) expect(b.findings[0]?.text).toMatch(/Kernel panic - not syncing/);
    expect(res.boots[1]!.attempts[1]!.consoleLog).toMatch(/-a2\.log$/);
    expect((await r.manifest()).state).toBe('complete');
  });

  it('classifies an init that never finishes as a hang, exit 1', async () => {
    const r = await tool('hang', ['--backend', 'tcg', '--variants', 'baseline', '--provoke', 'hang', '--silence-timeout', '15']);
    expect(r.exitCode).toBe(1);
    const b = (await r.results()).boots[0]!;
    expect(b.class).toBe('hang');
    expect(b.reason).toMatch(/silent/);
    expect(b.reachedUserspace).toBe(true);
    expect(b.attempts).toHaveLength(2);
  });

  it('boots two-node NUMA guests, and fails a boot whose guest finds another count of nodes', async () => {
    const r = await tool('numa', ['--backend', 'tcg', '--variants', 'baseline', '--numa', '2', '--modules', 'none']);
    expect(r.exitCode).toBe(0);
    expect((await r.results()).boots[0]!.class).toBe('ok');
    const log = await readFile(join(r.runDir, 'logs', 'console-baseline-tcg-r0.log'), 'utf8');
    expect(log).toMatch(/QK-INFO \{.*"nodes":2\}/);
    // A one-node guest asked for two (as a kernel without NUMA would be): the boot fails, saying why.
    const one = await tool('numa-missing', ['--backend', 'tcg', '--variants', 'baseline', '--modules', 'none', '--append', 'qk_numa=2']);
    expect(one.exitCode).toBe(1);
    const b = (await one.results()).boots[0]!;
    expect(b.class).toBe('test-failure');
    expect(b.reason).toMatch(/the guest has 1 NUMA node\(s\), and the run asked for 2/);
  });

  it('classifies a WARN() and an Oops from a module; a crash that always happens is kept, exit 1', async () => {
    const w = await tool('warn', ['--backend', 'tcg', '--variants', 'baseline', '--provoke', 'warn']);
    expect(w.exitCode).toBe(1);
    const wb = (await w.results()).boots[0]!;
    expect(wb.class).toBe('warning');
    expect(wb.attempts).toHaveLength(1);
    expect(wb.findings.some((f) => f.kind === 'warning' && /qk_provoke/.test(f.text))).toBe(true);
    const o = await tool('oops', ['--backend', 'tcg,uml', '--variants', 'baseline', '--provoke', 'oops']);
    expect(o.exitCode).toBe(1);
    const byBackend = (await o.results()).boots;
    expect(byBackend.map((b) => b.backend)).toEqual(['uml', 'tcg']);
    const ob = [byBackend[1]!, byBackend[0]!];
    // x86 survives a NULL dereference in a module (Oops, insmod is killed);
    // UML turns a kernel-mode fault into a panic.
    expect(ob.map((b) => [b.backend, b.class])).toEqual([['tcg', 'oops'], ['uml', 'panic']]);
    expect(ob[0]!.findings.map((f) => f.kind)).toEqual(expect.arrayContaining(['bug', 'oops']));
    expect(ob[0]!.attempts.map((a) => a.class)).toEqual(['oops', 'oops']);
    expect(ob[0]!.attempts[0]!.signature).toMatch(/qk_provoke_init/);
    expect(ob[0]!.attempts[1]!.signature).toBe(ob[0]!.attempts[0]!.signature);
    expect(ob[0]!.flaky).toBeUndefined();
    expect(ob[1]!.findings[0]!.text).toMatch(/Kernel panic - not syncing: Kernel mode fault at addr 0x0/);
  });

  it('records a crash on tcg that a second boot does not repeat as flaky, and does not fail the run', async () => {
    const r = await tool('flaky', ['--backend', 'tcg', '--variants', 'baseline', '--provoke', 'oops-once']);
    expect(r.exitCode, r.output.slice(-2000)).toBe(0);
    const res = await r.results();
    expect(res.class).toBe('flaky');
    const b = res.boots[0]!;
    expect(b.class).toBe('flaky');
    expect(b.attempts.map((a) => a.class)).toEqual(['oops', 'ok']);
    expect(b.flaky).toMatchObject({ class: 'oops', attempt: 1 });
    expect(b.flaky!.signature).toMatch(/qk_provoke_init/);
    expect(b.cmdline).toContain('qk_attempt=2');
    for (const a of b.attempts) expect(await readFile(join(r.runDir, a.consoleLog), 'utf8')).toContain('QK-BEGIN');
    expect(res.metrics.some((m) => m.name === 'slab/reuse')).toBe(true);
    expect(await readFile(join(r.runDir, 'report.md'), 'utf8')).toContain('## Flaky crashes');
  });

  it('names a failing KUnit case from a test module, exit 1', async () => {
    const r = await tool('kunit-fail', ['--backend', 'uml', '--variants', 'baseline', '--modules', 'qk_kunit_fail']);
    expect(r.exitCode).toBe(1);
    const res = await r.results();
    expect(res.class).toBe('test-failure');
    expect(res.boots[0]!.reason).toMatch(/1 KUnit case\(s\) failed/);
    expect(res.tests.filter((t) => t.suite === 'qk_selftest').map((t) => [t.case, t.status])).toEqual([['qk_selftest_passes', 'pass'], ['qk_selftest_fails', 'fail']]);
    expect(await readFile(join(r.runDir, 'report.md'), 'utf8')).toContain('qk_selftest.qk_selftest_fails fail');
  });

  it('boots on icount: instruction-counted figures', async () => {
    const r = await tool('icount', ['--backend', 'icount', '--variants', 'baseline']);
    expect(r.exitCode, r.output.slice(-2000)).toBe(0);
    const res = await r.results();
    expect(res.boots.map((b) => [b.backend, b.class])).toEqual([['icount', 'ok']]);
    expect(res.boots[0]!.reproduce).toContain('-icount shift=0,align=off,sleep=off');
    expect(res.metrics.find((m) => m.backend === 'icount' && m.name === 'slab/reuse')?.samples.length).toBeGreaterThanOrEqual(5);
  });

  it('compares sides (one tree, two command lines) in alternating rounds, and rebuilds its results offline', async () => {
    const r = await tool('sides', ['--backend', 'uml', '--side', 'base=baseline', '--side', 'off=patched skb_qmempool=off', '--boots', '2']);
    expect(r.exitCode, r.output.slice(-2000)).toBe(0);
    const res = await r.results();
    expect(res.sides).toEqual([{ name: 'base', variant: 'baseline', cmdline: [] }, { name: 'off', variant: 'patched', cmdline: ['skb_qmempool=off'] }]);
    expect(res.boots.map((b) => `${b.purpose}:${b.round}:${b.position}:${b.side}`)).toEqual(['kunit:0:0:off', 'bench:0:0:base', 'bench:0:1:off', 'bench:1:0:off', 'bench:1:1:base']);
    expect(res.boots[2]!.cmdline).toMatch(/skb_qmempool=on skb_qmempool=off/);
    // Every bench boot gave slab/reuse a figure, or it was taken while the host ran the guest slow (hostspeed.ts) and says so.
    const m = res.metrics.filter((x) => x.name === 'slab/reuse');
    const slowed = res.benchStatus.filter((b) => b.suite === 'slab' && b.case === 'reuse' && b.status === 'slowed');
    const at = (x: { side: string; round: number; boot: number }) => `${x.side}:${x.round}:${x.boot}`;
    expect([...m.map(at), ...slowed.map(at)].sort()).toEqual(['base:0:1', 'base:1:4', 'off:0:2', 'off:1:3']);
    const report = await readFile(join(r.runDir, 'report.md'), 'utf8');
    const pairs = [0, 1].filter((round) => ['base', 'off'].every((side) => m.some((x) => x.side === side && x.round === round))).length;
    if (pairs > 0) {
      expect(report).toMatch(new RegExp(`\\| slab/reuse \\| uml \\| off vs base \\| [\\d.]+ / [\\d.]+ ns \\| [\\d.]+× \\| ${pairs} \\| [\\d.]+ \\| inconclusive \\(\\d non-zero pair\\(s\\): the smallest possible p, [\\d.]+, (is above α=0\\.05|cannot pass Benjamini–Hochberg over \\d+ tests)\\) \\|`));
    }
    if (slowed.length > 0) expect(report).toMatch(/## Samples taken while the host ran the guest slow/);
    expect((await parseTool(['--run', r.runDir, '--check'])).exitCode).toBe(0);
  });

  it('fails a patch that applies but does not compile as build-failure, quoting the compiler, exit 1', async () => {
    const series = await oneLinePatchSeries('init/version.c', (t) => `${t}\nstatic int qk_broken = ;\n`, 'test: a patch that does not compile');
    const r = await tool('build-failure', ['--tree', await scratchTree(), '--series', series, '--variants', 'patched', '--backend', 'uml']);
    expect(r.exitCode, r.output.slice(-2000)).toBe(1);
    expect(r.output).toMatch(/error \(build-failure\)/);
    expect(r.output).toMatch(/init\/version\.c:\d+:\d+: error: expected expression/);
    expect((await r.manifest()).class).toBe('build-failure');
  });

  it('names a Kconfig option the series needs that Kconfig drops, exit 2', async () => {
    const series = await mkdtemp(join(qk.root, 'qk-series-'));
    await cp(join(REPO, 'kernel-patches'), series, { recursive: true });
    // SLUB_CPU_PARTIAL depends on SMP, which UML 6.12 does not have; the scratch tree is 6.12, so its version of the series.
    await appendFile(join(series, 'for-6.12', 'kernel.config'), '\nCONFIG_SLUB_CPU_PARTIAL=y\n');
    const r = await tool('kconfig-drop', ['--tree', await scratchTree(), '--series', series, '--variants', 'patched', '--backend', 'uml']);
    expect(r.exitCode).toBe(2);
    expect(r.output).toMatch(/error \(config-failure\): .*dropped by Kconfig/);
    expect(r.output).toContain('CONFIG_SLUB_CPU_PARTIAL');
  });

  it('takes a git checkout (--tree) and a tarball (--tarball) as the kernel source', async () => {
    const m = await fullRun().manifest();
    const tree = await scratchTree();
    const t = await tool('tree', ['--tree', tree, '--variants', 'baseline', '--backend', 'uml']);
    expect(t.exitCode, t.output.slice(-2000)).toBe(0);
    const tm = await t.manifest();
    expect(tm.source!.description).toContain(`git tree ${tree}`);
    expect(tm.source!.baseCommit).toBe(m.source!.baseCommit);
    const tb = await tool('tarball', ['--tarball', '/usr/src/linux-source-6.12.tar.xz', '--variants', 'baseline', '--backend', 'uml']);
    expect(tb.exitCode, tb.output.slice(-2000)).toBe(0);
    expect((await tb.manifest()).source!.description).toBe('tarball /usr/src/linux-source-6.12.tar.xz');
  });

  it('runs two run.mjs at once on one work directory: the second waits for the first', async () => {
    const ids = [`it-conc-a-${Date.now().toString(36)}`, `it-conc-b-${Date.now().toString(36)}`];
    const args = ['--backend', 'uml', '--variants', 'baseline'];
    const children = ids.map((id) => startTool(qk, id, oneRound(args)));
    const runs = await Promise.all(ids.map((id, i) => finishTool(qk, id, children[i]!)));
    for (const r of runs) {
      expect(r.exitCode, r.output.slice(-2000)).toBe(0);
      expect((await r.results()).boots[0]!.class).toBe('ok');
    }
    // Either one waited for the other's lock, or they did not overlap at all.
    const [a, b] = await Promise.all(runs.map((r) => r.manifest()));
    const waited = runs.some((r) => /waiting for the baseline tree/.test(r.output));
    const apart = Date.parse(a!.finishedAt!) <= Date.parse(b!.startedAt) || Date.parse(b!.finishedAt!) <= Date.parse(a!.startedAt);
    expect(waited || apart, runs.map((r) => r.output).join('\n----\n').slice(-3000)).toBe(true);
  });

  it('on Ctrl-C kills the guest, marks the run interrupted and exits 130', async () => {
    const id = `it-interrupt-${Date.now().toString(36)}`;
    const child = startTool(qk, id, oneRound(['--backend', 'tcg', '--variants', 'baseline', '--provoke', 'hang', '--silence-timeout', '600']));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('the boot did not start within 10 minutes')), 600_000);
      child.all!.on('data', (d: Buffer) => {
        if (d.toString().includes('boot baseline on tcg')) {
          clearTimeout(t);
          setTimeout(resolve, 5000);
        }
      });
    });
    child.kill('SIGINT');
    const r = await finishTool(qk, id, child);
    expect(r.exitCode).toBe(130);
    const m = await r.manifest();
    expect(m.state).toBe('interrupted');
    const ps = await execa('pgrep', ['-f', id], { reject: false });
    expect(ps.stdout.trim()).toBe('');
  });
});
