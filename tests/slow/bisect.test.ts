/**
 * Series bisection by the build criterion (slow tier: the patched tree of
 * the throwaway history is built from cold once, then twice incrementally,
 * on UML). The series is kernel-patches/ with a patch that breaks the build
 * put second; the integration tier checks the same search by the apply
 * criterion, which builds nothing.
 */
import { mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, inject, it } from 'vitest';
import { debianHistory } from '../integration/history.ts';
import { REPO, runScript } from '../integration/tool.ts';
import { readSeriesFor } from '../../scripts/lib/pipeline/series.ts';
import type { StepRecord } from '../../scripts/lib/bisect/bisect.ts';

const qk = inject('qk');

describe('series bisection by build', () => {
  it('finds the patch that breaks the build', async () => {
    const history = await debianHistory(qk);
    const real = await readSeriesFor(join(REPO, 'kernel-patches'), '6.12');
    const dir = await mkdtemp(join(qk.root, 'qk-build-broken-series-'));
    for (const p of real.patches) await symlink(p.path, join(dir, p.name));
    // A patch made with git from lib/sort.c of the base: it applies, and the build stops at it.
    const repo = await mkdtemp(join(qk.root, 'qk-broken-patch-'));
    const git = (...a: string[]) => execa('git', ['-C', repo, ...a], { env: { GIT_AUTHOR_NAME: 'qk test', GIT_AUTHOR_EMAIL: 'qk@localhost', GIT_COMMITTER_NAME: 'qk test', GIT_COMMITTER_EMAIL: 'qk@localhost' } });
    const sort = (await execa('git', ['-C', history.repo, 'show', `${history.commits.base}:lib/sort.c`])).stdout + '\n';
    await git('init', '-q');
    await execa('mkdir', ['-p', join(repo, 'lib')]);
    await writeFile(join(repo, 'lib', 'sort.c'), sort);
    await git('add', '.');
    await git('commit', '-q', '-m', 'base');
    await writeFile(join(repo, 'lib', 'sort.c'), `${sort}#error "deliberate build break: series bisection test"\n`);
    await git('commit', '-q', '-am', 'lib/sort: break the build (series bisection test)');
    const name = (await git('format-patch', '-1', '-o', dir, '--start-number', '90')).stdout.trim().split('/').pop()!;
    const names = real.patches.map((p) => p.name);
    await writeFile(join(dir, 'series'), [names[0], name, ...names.slice(1)].join('\n') + '\n');

    const id = `slow-bisect-series-build-${Date.now().toString(36)}`;
    const r = await runScript(qk, 'bisect.mjs', ['series', '--series', dir, '--criterion', 'build', '--backend', 'uml', '--tree', history.repo, '--ref', history.commits.base, '--id', id, '-o', qk.out, '--work-dir', qk.work]);
    expect(r.exitCode, r.output.slice(-3000)).toBe(1);
    const json = JSON.parse(await readFile(join(qk.out, id, 'bisect.json'), 'utf8')) as { culprit: unknown; evidence: string[]; steps: StepRecord[]; wallMs: number };
    expect(json.culprit).toEqual({ patch: name, index: 2 });
    expect(json.evidence.join('\n')).toContain('deliberate build break: series bisection test');
    expect(json.steps.map((s) => [s.patches, s.verdict])).toEqual([[0, 'good'], [4, 'bad'], [2, 'bad'], [1, 'good']]);
    console.log(`series bisection by build: ${Math.round(json.wallMs / 1000)} s`);
  });
});
