/**
 * The GitHub Actions workflows, linted here because nothing else runs them
 * before GitHub does: a workflow with a schema error is rejected at push
 * time and the nightly silently never runs. The linter is action-validator
 * (@action-validator/cli, the JSON schemas of SchemaStore compiled to
 * WebAssembly), run as its command as a pre-commit hook would; it exits 1
 * and prints its errors as JSON on stderr. There is no YAML parser among
 * the dependencies, so the matrix is checked on its flow-style lines.
 */
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { useTempDir } from './tempdir.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const WORKFLOWS = join(ROOT, '.github', 'workflows');
const VALIDATOR = join(ROOT, 'node_modules', '.bin', 'action-validator');

interface Lint {
  readonly ok: boolean;
  /** Every error, nested ones too, as "path: title (detail)". */
  readonly errors: string[];
}

interface ValidatorError {
  readonly path?: string;
  readonly title?: string;
  readonly detail?: string;
  readonly states?: ReadonlyArray<{ readonly errors: readonly ValidatorError[] }>;
}

const flatten = (es: readonly ValidatorError[]): string[] => es.flatMap((e) => [
  `${e.path ?? ''}: ${e.title ?? ''}${e.detail ? ` (${e.detail})` : ''}`,
  ...(e.states ?? []).flatMap((s) => flatten(s.errors)),
]);

async function lint(file: string): Promise<Lint> {
  const r = await execa(VALIDATOR, [file], { reject: false });
  if (r.exitCode === 0) return { ok: true, errors: [] };
  let errors: string[];
  try {
    errors = flatten((JSON.parse(r.stderr) as { errors: ValidatorError[] }).errors);
  } catch {
    errors = [r.stderr || r.stdout || `action-validator exited ${r.exitCode}`];
  }
  return { ok: false, errors };
}

/** The items of a flow-style sequence `key: [a, b]` in the matrix. */
const flowList = (yml: string, key: string): string[] => {
  const m = new RegExp(`^\\s+${key}: \\[([^\\]]*)\\]$`, 'm').exec(yml);
  return m ? m[1]!.split(',').map((s) => s.trim()) : [];
};

describe('GitHub workflows', () => {
  const tmp = useTempDir('qk-workflow-');

  it('pass action-validator', async () => {
    const files = (await readdir(WORKFLOWS)).filter((f) => /\.ya?ml$/.test(f));
    expect(files).toContain('nightly.yml');
    for (const f of files) {
      const r = await lint(join(WORKFLOWS, f));
      expect(r.errors, f).toEqual([]);
      expect(r.ok, f).toBe(true);
    }
  });

  it('a broken workflow fails the linter: a job without runs-on, an unknown key', async () => {
    const yml = await readFile(join(WORKFLOWS, 'nightly.yml'), 'utf8');
    const noRunsOn = join(tmp(), 'no-runs-on.yml');
    expect(yml).toContain('\n    runs-on: ubuntu-latest\n    timeout-minutes: 340\n');
    await writeFile(noRunsOn, yml.replace('\n    runs-on: ubuntu-latest\n    timeout-minutes: 340\n', '\n    timeout-minutes: 340\n'));
    const a = await lint(noRunsOn);
    expect(a.ok).toBe(false);
    expect(a.errors).toContain('/jobs/nightly/runs-on: This property is required');

    const unknown = join(tmp(), 'unknown-key.yml');
    await writeFile(unknown, yml.replace('\n    timeout-minutes: 340\n', '\n    timeout-minutes: 340\n    retries: 3\n'));
    const b = await lint(unknown);
    expect(b.ok).toBe(false);
    expect(b.errors.join('\n')).toMatch(/Additional property 'retries' is not allowed/);
  });

  it('nightly: five bases by two backends, each base with its source, on a schedule and by hand', async () => {
    const yml = await readFile(join(WORKFLOWS, 'nightly.yml'), 'utf8');
    expect(flowList(yml, 'base')).toEqual(['debian-6.12', 'debian-7.3', 'debian-6.1', 'v6.18', 'mainline']);
    expect(flowList(yml, 'backend')).toEqual(['uml', 'kvm']);
    expect(yml).toMatch(/- base: debian-6\.12\n\s+package: linux-source-6\.12\n/);
    // 7.3 comes from the registry by its name; no package to install on the host.
    expect(yml).toMatch(/- base: debian-7\.3\n(?!\s+package:)/);
    expect(yml).toMatch(/- base: debian-6\.1\n\s+package: linux-source-6\.1\n/);
    expect(yml).toMatch(/- base: v6\.18\n\s+ref: v6\.18\n/);
    expect(yml).toMatch(/- base: mainline\n\s+ref: newest\n/);
    expect(yml).toMatch(/^ {2}schedule:\n {4}- cron: '[^']+'\n {2}workflow_dispatch:/m);
    expect(yml).toContain('npx zx scripts/nightly.mjs "${args[@]}"');
  });

  it('nightly: actions pinned by major tag; artifacts, ccache and the JUnit report kept when the night fails', async () => {
    const yml = await readFile(join(WORKFLOWS, 'nightly.yml'), 'utf8');
    const uses = [...yml.matchAll(/uses: (\S+)/g)].map((m) => m[1]!);
    expect(uses.length).toBeGreaterThan(5);
    for (const u of uses) expect(u).toMatch(/^[\w-]+\/[\w-]+(?:\/[\w-]+)?@v\d+$/);
    for (const step of ['Save ccache', 'Upload the run', 'Upload the night record', 'Upload the KCIDB data', 'JUnit report']) {
      expect(yml).toMatch(new RegExp(`- name: ${step}\\n\\s+if: always\\(\\) && `));
    }
  });

  /** The newest major of each action as of 2026-07 (looked up in the actions' own repositories: tags and runs.using node24). */
  const CURRENT: Record<string, number> = {
    'actions/checkout': 7, 'actions/cache': 5, 'actions/cache/restore': 5, 'actions/cache/save': 5, 'actions/upload-artifact': 7, 'actions/download-artifact': 8,
    'actions/upload-pages-artifact': 5, 'actions/deploy-pages': 5, 'actions/setup-node': 6, 'mikepenz/action-junit-report': 6,
  };

  it('every workflow: actions at their current majors, containers on a current Node', async () => {
    for (const f of (await readdir(WORKFLOWS)).filter((x) => /\.ya?ml$/.test(x))) {
      const yml = await readFile(join(WORKFLOWS, f), 'utf8');
      for (const [, action, major] of yml.matchAll(/uses: (\S+)@v(\d+)/g)) {
        expect(CURRENT[action!], `${f}: ${action} is not in the table of current majors`).toBeDefined();
        expect(Number(major), `${f}: ${action}`).toBe(CURRENT[action!]);
      }
      for (const [, image] of yml.matchAll(/image: (\S+)/g)) expect(image, f).toMatch(/^node:(2[4-9]|[3-9]\d)-/);
    }
  });

  it('nightly: the legs ccache fits the 10 GB repository cache, with room for the npm cache', async () => {
    const yml = await readFile(join(WORKFLOWS, 'nightly.yml'), 'utf8');
    const legs = flowList(yml, 'base').length * flowList(yml, 'backend').length;
    const m = /CCACHE_MAXSIZE: (\d+(?:\.\d+)?)([MG])\b/.exec(yml);
    expect(m, 'CCACHE_MAXSIZE in M or G').not.toBeNull();
    const perLegGB = Number(m![1]) / (m![2] === 'G' ? 1 : 1000);
    expect(legs * perLegGB).toBeLessThanOrEqual(9.5);
    // Keys are per leg, so each leg gets its own budget and never evicts another leg's by sharing a key.
    expect(yml).toContain('key: ccache-${{ matrix.base }}-${{ matrix.backend }}-${{ github.run_id }}-${{ github.run_attempt }}');
  });

  it('nightly: Pages is checked before the deploy, and KCIDB submission is tied to its secret', async () => {
    const yml = await readFile(join(WORKFLOWS, 'nightly.yml'), 'utf8');
    const deploy = yml.slice(yml.indexOf('\n  deploy:'));
    expect(deploy.indexOf('run: bash .github/scripts/check-pages.sh')).toBeGreaterThan(0);
    expect(deploy.indexOf('run: bash .github/scripts/check-pages.sh')).toBeLessThan(deploy.indexOf('uses: actions/deploy-pages@'));
    expect(yml).toContain('KCIDB_REST: ${{ secrets.KCIDB_REST }}');
    expect(yml).toContain('npx zx scripts/kcidb-submit.mjs "${files[@]}"');
  });

  it('slow: the slow tier runs weekly, every tests/slow file in a job with a time budget under 6 hours', async () => {
    const yml = await readFile(join(WORKFLOWS, 'slow.yml'), 'utf8');
    expect(yml).toMatch(/^ {2}schedule:\n {4}- cron: '[^']+'\n {2}workflow_dispatch:/m);
    expect(yml).toContain('run: npm run test:slow -- "tests/slow/$FILE.test.ts"');
    expect(yml).toContain('timeout-minutes: ${{ matrix.minutes }}');
    const jobs = [...yml.matchAll(/- file: (\S+)\n\s+minutes: (\d+)/g)].map((m) => [m[1]!, Number(m[2])] as const);
    const files = (await readdir(join(ROOT, 'tests', 'slow'))).filter((f) => f.endsWith('.test.ts')).map((f) => f.replace('.test.ts', ''));
    expect(jobs.map(([f]) => f).sort()).toEqual(files.sort());
    for (const [f, minutes] of jobs) expect(minutes, f).toBeLessThanOrEqual(355);
  });
});

describe('the Pages check of the deploy job', () => {
  const tmp = useTempDir('qk-pages-');
  const SCRIPT = join(ROOT, '.github', 'scripts', 'check-pages.sh');
  /** Run the check with a fake gh whose answer to GET repos/<repo>/pages is `answer` (exit code, output). */
  async function check(answer: { code: number; out: string }) {
    const bin = join(tmp(), 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'gh'), `#!/bin/sh\necho "$*" >> "${join(tmp(), 'gh-args')}"\necho '${answer.out}'\nexit ${answer.code}\n`);
    await chmod(join(bin, 'gh'), 0o755);
    const summary = join(tmp(), 'summary.md');
    const r = await execa('bash', [SCRIPT], { env: { PATH: `${bin}:/usr/bin:/bin`, GITHUB_REPOSITORY: 'o/r', HISTORY_BRANCH: 'nightly-history', GITHUB_STEP_SUMMARY: summary }, extendEnv: false, reject: false });
    const args = await readFile(join(tmp(), 'gh-args'), 'utf8');
    return { ...r, args, summary: await readFile(summary, 'utf8').catch(() => '') };
  }

  it('passes when Pages deploys from GitHub Actions', async () => {
    const r = await check({ code: 0, out: 'workflow' });
    expect(r.exitCode).toBe(0);
    expect(r.args).toBe('api repos/o/r/pages --jq .build_type\n');
    expect(r.stdout).toBe('GitHub Pages of o/r: source is GitHub Actions');
  });

  it('says what to set once when Pages is not enabled, and fails', async () => {
    const r = await check({ code: 1, out: 'gh: Not Found (HTTP 404)' });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/^::error title=GitHub Pages is not enabled::.*Settings → Pages → Build and deployment → Source: "GitHub Actions".*committed to the branch nightly-history/);
    expect(r.summary).toContain('### GitHub Pages is not enabled');
  });

  it('says what to change when Pages deploys from a branch', async () => {
    const r = await check({ code: 0, out: 'legacy' });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/^::error title=GitHub Pages publishes from a branch::.*set to 'legacy'.*Source: "GitHub Actions"/);
  });
});
