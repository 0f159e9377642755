/**
 * Bisection for real, on a throwaway kernel history built on the suite's
 * Debian 6.12 base (history.ts): a deliberate slowdown of
 * kmem_cache_free(), a commit that breaks the build and one that mends it. One base and one kernel tree serve every step (a checkout
 * and an incremental make), so after the first build a step costs about a
 * minute on 2 cores.
 */
import { readFile, readdir, writeFile, mkdtemp, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { debianHistory, type History } from './history.ts';
import { REPO, runScript } from './tool.ts';
import { readSeriesFor } from '../../scripts/lib/pipeline/series.ts';
import type { StepRecord } from '../../scripts/lib/bisect/bisect.ts';

const qk = inject('qk');

interface BisectJson {
  found: boolean;
  culprit?: { commit?: string; subject?: string; patch?: string; index?: number };
  evidence: string[];
  steps: StepRecord[];
  message: string;
  reference?: number[];
}

let history: History;
async function bisect(id: string, args: string[]): Promise<{ exitCode: number | undefined; output: string; dir: string; json: BisectJson }> {
  const r = await runScript(qk, 'bisect.mjs', [...args, '--id', id, '-o', qk.out, '--work-dir', qk.work]);
  const dir = join(qk.out, id);
  // Every bisection that ran writes bisect.json: a missing one fails here, with the tool's output, not as an empty record.
  const text = await readFile(join(dir, 'bisect.json'), 'utf8').catch(() => {
    throw new Error(`bisect.mjs (exit ${r.exitCode}) wrote no ${join(dir, 'bisect.json')}:\n${r.output}`);
  });
  const json = JSON.parse(text) as BisectJson;
  return { ...r, dir, json };
}

beforeAll(async () => {
  history = await debianHistory(qk);
});

describe('kernel bisection on icount', () => {
  it('names the commit that breaks the build, with the compiler’s error as evidence', async () => {
    const c = history.commits;
    const r = await bisect(`it-bisect-build-${Date.now().toString(36)}`, ['kernel', '--tree', history.repo, '--good', c.base, '--bad', c.brk, '--criterion', 'build']);
    expect(r.exitCode, r.output.slice(-3000)).toBe(1);
    expect(r.json.culprit?.commit).toBe(c.brk);
    expect(r.output).toContain(`first bad commit: ${c.brk.slice(0, 12)} lib/sort: break the build`);
    expect(r.json.evidence.join('\n')).toContain('#error "deliberate build break: bisection test"');
    // git's own record, and every step's run directory.
    const log = await readFile(join(r.dir, 'git-bisect.log'), 'utf8');
    expect(log).toContain(`first bad commit: [${c.brk}]`);
    expect(r.json.steps.map((s) => s.role).slice(0, 2)).toEqual(['good end', 'bad end']);
    expect(r.json.steps.filter((s) => s.role === 'step').length).toBeGreaterThan(0);
    for (const s of r.json.steps) expect(await readdir(s.runDir)).toContain('manifest.json');
    // The checkout the user gave is left alone: no bisection state, same HEAD.
    expect(await readdir(join(history.repo, '.git'))).not.toContain('BISECT_LOG');
  });

  it('names the commit that slows slab/reuse, skipping a commit that does not build', async () => {
    const c = history.commits;
    const r = await bisect(`it-bisect-metric-${Date.now().toString(36)}`, ['kernel', '--tree', history.repo, '--good', c.base, '--bad', c.fix, '--criterion', 'metric', '--metric', 'slab/reuse', '--threshold', '5']);
    expect(r.exitCode, r.output.slice(-3000)).toBe(1);
    expect(r.json.culprit?.commit).toBe(c.slow);
    // Evidence: the figure on both sides of the culprit, from one boot each.
    const before = r.json.steps.find((s) => s.commit === c.base)!;
    const after = r.json.steps.find((s) => s.commit === c.slow)!;
    expect(after.ratio!).toBeGreaterThan(1.05);
    expect(after.figures![0]! / before.figures![0]!).toBeGreaterThan(1.05);
    const report = await readFile(join(r.dir, 'report.md'), 'utf8');
    expect(report).toContain('| culprit (');
    // Any step on the broken commit was skipped, not judged.
    for (const s of r.json.steps.filter((x) => x.commit === c.brk)) expect(s.verdict).toBe('skip');
  });
});

describe('series bisection', () => {
  it('finds the patch that does not apply (criterion apply)', async () => {
    const real = await readSeriesFor(join(REPO, 'kernel-patches'), '6.12');
    const dir = await mkdtemp(join(qk.root, 'qk-broken-series-'));
    for (const p of real.patches) await symlink(p.path, join(dir, p.name));
    const foreign = '0002a-mm-a-patch-for-another-tree.patch';
    await writeFile(
      join(dir, foreign),
      [
        'From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001',
        'From: qk test <qk@localhost>',
        'Date: Thu, 1 Jan 2026 00:00:00 +0000',
        'Subject: [PATCH] mm: a patch written for another tree (bisection test)',
        '',
        '---',
        ' mm/slab_common.c | 2 +-',
        ' 1 file changed, 1 insertion(+), 1 deletion(-)',
        '',
        'diff --git a/mm/slab_common.c b/mm/slab_common.c',
        'index 1111111..2222222 100644',
        '--- a/mm/slab_common.c',
        '+++ b/mm/slab_common.c',
        '@@ -1,3 +1,3 @@',
        ' this context line',
        '-does not exist',
        '+in this kernel',
        ' anywhere',
        '-- ',
        '2.39.5',
        '',
      ].join('\n'),
    );
    const names = real.patches.map((p) => p.name);
    await writeFile(join(dir, 'series'), [names[0], foreign, ...names.slice(1)].join('\n') + '\n');
    const r = await bisect(`it-bisect-series-${Date.now().toString(36)}`, ['series', '--series', dir, '--criterion', 'apply', '--tree', history.repo, '--ref', history.commits.base]);
    expect(r.exitCode, r.output.slice(-3000)).toBe(1);
    expect(r.json.culprit).toEqual({ patch: foreign, index: 2 });
    expect(r.output).toContain(`first bad patch: 2/4 ${foreign}`);
    expect(r.json.evidence.join('\n')).toMatch(/does not apply .*conflicts in mm\/slab_common\.c|does not apply/);
    // Prefixes 4 and 2 fail, prefix 1 applies.
    expect(r.json.steps.map((s) => [s.patches, s.verdict])).toEqual([[4, 'bad'], [2, 'bad'], [1, 'good']]);
  });
});
