/**
 * The GitHub Actions workflows, linted here because nothing else runs them
 * before GitHub does: a workflow with a schema error is rejected at push
 * time and the nightly silently never runs. The linter is action-validator
 * (@action-validator/cli, the JSON schemas of SchemaStore compiled to
 * WebAssembly), run as its command as a pre-commit hook would; it exits 1
 * and prints its errors as JSON on stderr. There is no YAML parser among
 * the dependencies, so the matrix is checked on its flow-style lines.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
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

  it('nightly: four bases by two backends, each base with its source, on a schedule and by hand', async () => {
    const yml = await readFile(join(WORKFLOWS, 'nightly.yml'), 'utf8');
    expect(flowList(yml, 'base')).toEqual(['debian-6.12', 'debian-6.1', 'v6.18', 'mainline']);
    expect(flowList(yml, 'backend')).toEqual(['uml', 'kvm']);
    expect(yml).toMatch(/- base: debian-6\.12\n\s+package: linux-source-6\.12\n/);
    expect(yml).toMatch(/- base: debian-6\.1\n\s+package: linux-source-6\.1\n/);
    expect(yml).toMatch(/- base: v6\.18\n\s+ref: v6\.18\n/);
    expect(yml).toMatch(/- base: mainline\n\s+ref: newest\n/);
    expect(yml).toMatch(/^ {2}schedule:\n {4}- cron: '[^']+'\n {2}workflow_dispatch:/m);
    expect(yml).toContain('npx zx scripts/nightly.mjs "${args[@]}"');
  });

  it('nightly: actions pinned by major tag; artifacts and the JUnit report kept when the night fails', async () => {
    const yml = await readFile(join(WORKFLOWS, 'nightly.yml'), 'utf8');
    const uses = [...yml.matchAll(/uses: (\S+)/g)].map((m) => m[1]!);
    expect(uses.length).toBeGreaterThan(5);
    for (const u of uses) expect(u).toMatch(/^[\w-]+\/[\w-]+@v\d+$/);
    for (const step of ['Upload the run', 'Upload the night record', 'JUnit report']) {
      expect(yml).toMatch(new RegExp(`- name: ${step}\\n\\s+if: always\\(\\) && `));
    }
  });
});
