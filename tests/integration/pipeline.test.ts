/**
 * The pipeline, for real: Debian's linux-source-6.12, kernels built and
 * booted under QEMU TCG and UML, and every failure class provoked for real
 * (a command line that panics, an init that never finishes, a WARN, an Oops,
 * a patch that does not apply, a missing tool, a bad flag, Ctrl-C).
 * The first full run builds everything (~20 min cold on 2 cores); the
 * others reuse the builds from the work directory.
 */
import { mkdtemp, readFile, symlink, writeFile, mkdir, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { Results } from '../../scripts/lib/results.ts';
import { requirements, which } from '../../scripts/lib/hostcheck.ts';
import type { Manifest } from '../../scripts/lib/pipeline.ts';

const REPO = join(__dirname, '..', '..');
const OUT = join(REPO, 'results');
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
const TOOL_LOG = join(OUT, `integration-${stamp}.log`);

interface ToolRun {
  exitCode: number | undefined;
  output: string;
  runDir: string;
  manifest: () => Promise<Manifest>;
  results: () => Promise<Results>;
}

/** The README's command, `npx zx scripts/run.mjs`, with node named explicitly (tests may narrow PATH). */
function spawnTool(runId: string, args: string[], env: Record<string, string>) {
  const zx = join(REPO, 'node_modules', 'zx', 'build', 'cli.js');
  return execa(process.execPath, [zx, join(REPO, 'scripts', 'run.mjs'), '--run-id', runId, '-o', OUT, ...args], {
    cwd: REPO,
    env: { CI: '1', ...env },
    // A test that sets PATH wants exactly that PATH.
    extendEnv: !('PATH' in env),
    all: true,
    reject: false,
    stdin: 'ignore',
  });
}
type Child = ReturnType<typeof spawnTool>;

function start(name: string, args: string[], env: Record<string, string> = {}): { child: Child; runId: string } {
  const runId = `it-${stamp}-${name}`;
  return { child: spawnTool(runId, args, env), runId };
}

async function finish(p: { child: Child; runId: string }, name: string): Promise<ToolRun> {
  const res = await p.child;
  const output = String(res.all ?? '');
  await mkdir(OUT, { recursive: true });
  await appendFile(TOOL_LOG, `\n===== ${name} (exit ${res.exitCode})\n${output}\n`);
  const runDir = join(OUT, p.runId);
  return {
    exitCode: res.exitCode,
    output,
    runDir,
    manifest: async () => JSON.parse(await readFile(join(runDir, 'manifest.json'), 'utf8')) as Manifest,
    results: async () => Results.parse(JSON.parse(await readFile(join(runDir, 'results.json'), 'utf8'))),
  };
}

const tool = (name: string, args: string[], env: Record<string, string> = {}) => finish(start(name, args, env), name);

describe.sequential('pipeline on the default kernel source', () => {
  it('rejects a bad flag with exit 2 and a pointer to --help', async () => {
    const r = await tool('bad-flag', ['--backend', 'qemu']);
    expect(r.exitCode).toBe(2);
    expect(r.output).toContain("error (usage-error): --backend: unknown value 'qemu'");
    expect(r.output).toContain('--help');
    const r2 = await tool('bad-flag2', ['--smp', 'lots']);
    expect(r2.exitCode).toBe(2);
    expect(r2.output).toContain('--smp must be an integer');
  });

  it('names a missing tool and the apt-get command, exit 2', async () => {
    // A PATH with every tool the host check wants except QEMU.
    const bin = await mkdtemp(join(tmpdir(), 'qk-path-'));
    const cmds = new Set(['file', 'ldd', 'sh', 'bash', ...requirements({ needDebianSource: true, needQemu: false }).flatMap((r) => ('cmd' in r.probe ? [r.probe.cmd] : []))]);
    for (const c of cmds) {
      const p = await which(c);
      if (p) await symlink(p, join(bin, c));
    }
    const r = await tool('missing-tool', ['--backend', 'tcg', '--no-install'], { PATH: bin, HOME: process.env['HOME'] ?? '/root' });
    expect(r.exitCode).toBe(2);
    expect(r.output).toContain('error (missing-dependency)');
    expect(r.output).toContain('qemu-system-x86_64 (qemu-system-x86)');
    expect(r.output).toMatch(/apt-get install -y --no-install-recommends qemu-system-x86\b/);
    expect((await r.manifest()).class).toBe('missing-dependency');
  });

  it('reports a patch that does not apply, naming the patch and the file, exit 2', async () => {
    const series = await mkdtemp(join(tmpdir(), 'qk-series-'));
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
    const r = await tool('apply-failure', ['--series', series, '--variants', 'patched', '--backend', 'uml']);
    expect(r.exitCode).toBe(2);
    expect(r.output).toMatch(/error \(apply-failure\): patch 1\/1 0001-test-bump-version.patch does not apply to 6\.12\.\d+ \(\w+\): conflicts in Makefile\n/);
    const m = await r.manifest();
    expect(m.state).toBe('failed');
    expect(m.class).toBe('apply-failure');
    expect((await r.results()).class).toBe('apply-failure');
  });

  let fullRunId = '';
  it('the README command: builds, boots baseline and patched on tcg and uml, writes the run directory', async () => {
    const r = await tool('full', []);
    expect(r.exitCode, r.output.slice(-3000)).toBe(0);
    fullRunId = r.runDir;
    const m = await r.manifest();
    expect(m.state).toBe('complete');
    expect(m.class).toBe('ok');
    expect(m.backends?.resolved).toEqual(expect.arrayContaining(['uml']));
    expect(m.backends?.resolved.some((b) => b === 'tcg' || b === 'kvm')).toBe(true);
    expect(m.source?.version).toMatch(/^6\.12\.\d+/);
    expect(Object.keys(m.variants)).toEqual(['baseline', 'patched']);
    for (const v of Object.values(m.variants)) expect(Object.keys(v.builds).sort()).toEqual(['um', 'x86_64']);
    expect(m.toolchain['gcc']).toMatch(/gcc/);
    expect(m.stages.filter((s) => s.stage === 'build')).toHaveLength(4);

    const res = await r.results();
    expect(res.boots).toHaveLength(4);
    for (const b of res.boots) {
      expect(b.class, b.reason).toBe('ok');
      expect(b.kunit.pass).toBeGreaterThan(0);
      expect(b.kunit.fail + b.kunit.crashed).toBe(0);
    }
    for (const v of ['baseline', 'patched'] as const) {
      for (const be of m.backends!.resolved) {
        const metric = res.metrics.find((x) => x.variant === v && x.backend === be && x.name === 'slab/kmem_cache_alloc_free_256');
        expect(metric, `${v}/${be}`).toBeDefined();
        expect(metric!.samples.length).toBe(5);
        for (const s of metric!.samples) expect(s).toBeGreaterThan(0);
      }
    }
    expect(res.tests.some((t) => t.suite === 'example' && t.case === 'example_skip_test' && t.status === 'skip')).toBe(true);
    const report = await readFile(join(r.runDir, 'report.md'), 'utf8');
    expect(report).toMatch(/\| slab\/kmem_cache_alloc_free_256 \| uml \| ns \| [\d.]+ \[/);
    const consoleLog = await readFile(join(r.runDir, res.boots[0]!.consoleLog), 'utf8');
    expect(consoleLog).toContain('QK-END {"status":0}');
    // The build log says what make did, or that the build came from cache.
    expect(await readFile(join(r.runDir, 'logs', 'build-baseline-x86_64.log'), 'utf8')).toMatch(/\$ make |cached: kernel baseline\/x86_64/);
  });

  it('an immediate re-run takes every build from cache', async () => {
    expect(fullRunId).not.toBe('');
    const r = await tool('warm', []);
    expect(r.exitCode, r.output.slice(-3000)).toBe(0);
    const m = await r.manifest();
    const slow = m.stages.filter((s) => ['source', 'variant', 'config', 'build', 'modules', 'image'].includes(s.stage));
    expect(slow.length).toBeGreaterThan(0);
    for (const s of slow) expect(s.cached, JSON.stringify(s)).toBe(true);
    const nonBoot = slow.reduce((a, s) => a + s.wallMs, 0);
    expect(nonBoot).toBeLessThan(60_000);
  });

  it('classifies a kernel command line that panics, on tcg and uml, exit 1', async () => {
    const r = await tool('panic', ['--backend', 'tcg,uml', '--variants', 'baseline', '--append', 'rdinit=/nonexistent init=/nonexistent']);
    expect(r.exitCode).toBe(1);
    const res = await r.results();
    expect(res.class).toBe('panic');
    expect(res.boots.map((b) => [b.backend, b.class])).toEqual([['tcg', 'panic'], ['uml', 'panic']]);
    for (const b of res.boots) expect(b.findings[0]?.text).toMatch(/Kernel panic - not syncing/);
    expect((await r.manifest()).state).toBe('complete');
  });

  it('classifies an init that never finishes as a hang, exit 1', async () => {
    const r = await tool('hang', ['--backend', 'tcg', '--variants', 'baseline', '--provoke', 'hang', '--silence-timeout', '20']);
    expect(r.exitCode).toBe(1);
    const b = (await r.results()).boots[0]!;
    expect(b.class).toBe('hang');
    expect(b.reason).toMatch(/silent/);
    expect(b.reachedUserspace).toBe(true);
  });

  it('classifies a WARN() and an Oops from a module, exit 1', async () => {
    const w = await tool('warn', ['--backend', 'tcg', '--variants', 'baseline', '--provoke', 'warn']);
    expect(w.exitCode).toBe(1);
    const wb = (await w.results()).boots[0]!;
    expect(wb.class).toBe('warning');
    expect(wb.findings.some((f) => f.kind === 'warning' && /qk_provoke/.test(f.text))).toBe(true);
    const o = await tool('oops', ['--backend', 'tcg,uml', '--variants', 'baseline', '--provoke', 'oops']);
    expect(o.exitCode).toBe(1);
    const ob = (await o.results()).boots;
    // x86 survives a NULL dereference in a module (Oops, insmod is killed);
    // UML turns a kernel-mode fault into a panic.
    expect(ob.map((b) => [b.backend, b.class])).toEqual([['tcg', 'oops'], ['uml', 'panic']]);
    expect(ob[0]!.findings.map((f) => f.kind)).toEqual(expect.arrayContaining(['bug', 'oops']));
    expect(ob[1]!.findings[0]!.text).toMatch(/Kernel panic - not syncing: Kernel mode fault at addr 0x0/);
  });

  it('on Ctrl-C kills the guest, marks the run interrupted and exits 130', async () => {
    const p = start('interrupt', ['--backend', 'tcg', '--variants', 'baseline', '--provoke', 'hang', '--silence-timeout', '600']);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('the boot did not start within 10 minutes')), 600_000);
      p.child.all!.on('data', (d: Buffer) => {
        if (d.toString().includes('boot baseline on tcg')) {
          clearTimeout(t);
          setTimeout(resolve, 5000);
        }
      });
    });
    p.child.kill('SIGINT');
    const r = await finish(p, 'interrupt');
    expect(r.exitCode).toBe(130);
    const m = await r.manifest();
    expect(m.state).toBe('interrupted');
    const ps = await execa('pgrep', ['-f', p.runId], { reject: false });
    expect(ps.stdout.trim()).toBe('');
  });
});

describe.sequential('the series under the kernel checkers', () => {
  it('passes every KUnit case of the series on the debug (KASAN, lockdep, kmemleak) and kcsan kernels, with no report', async () => {
    const r = await tool('checkers', ['--backend', 'tcg', '--variants', 'patched', '--flavors', 'debug,kcsan']);
    const res = await r.results();
    expect(res.boots.map((b) => [b.flavor, b.class, b.reason])).toEqual([
      ['debug', 'ok', 'the guest finished and reported success'],
      ['kcsan', 'ok', 'the guest finished and reported success'],
    ]);
    expect(r.exitCode).toBe(0);
    for (const flavor of ['debug', 'kcsan'] as const) {
      const cases = res.tests.filter((t) => t.flavor === flavor && ['alf_queue', 'qmempool', 'skb_qmempool'].includes(t.suite.split('/')[0]!));
      expect(cases.length, flavor).toBeGreaterThan(20);
      for (const c of cases) expect(['pass', 'skip'], `${flavor} ${c.suite}.${c.case}`).toContain(c.status);
      const stress = res.stress.filter((s) => s.flavor === flavor);
      expect(stress.map((s) => s.case).sort(), flavor).toEqual(['alf_test_mpmc_stress', 'qmp_test_stress']);
      for (const s of stress) {
        expect(s.values['cpus']).toBe(2);
        expect(s.values['elements']).toBeGreaterThan(0);
      }
    }
  });
});
