/**
 * Global setup of the integration tests: one temporary work directory and
 * one output directory for the whole suite (never the user's .work/ and
 * results/), and the README's main command run once into them, so that
 * every test finds the four kernels built and none depends on another's
 * order. Set QK_IT_DIR to reuse a directory across invocations.
 *
 * A temporary directory's work/ (kernel trees and builds: about 8 GB) is
 * removed when the suite ends; out/ (every run's results and logs, and the
 * tool log) is kept for whoever reads a failure.
 */
import { mkdir, mkdtemp, appendFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { runTool } from './tool.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    qk: { root: string; work: string; out: string; toolLog: string; full: { runId: string; exitCode: number | undefined } };
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const keep = process.env['QK_IT_DIR'] !== undefined;
  const root = process.env['QK_IT_DIR'] ?? (await mkdtemp(join(tmpdir(), 'qk-it-')));
  const work = join(root, 'work');
  const out = join(root, 'out');
  await mkdir(work, { recursive: true });
  await mkdir(out, { recursive: true });
  const toolLog = join(out, 'integration.log');
  const dirs = { root, work, out, toolLog };
  await appendFile(toolLog, `integration tests in ${root}\n`);
  process.stderr.write(`${project.name}: work and results in ${root}\n`);
  const teardown = async () => {
    if (keep) return;
    await rm(work, { recursive: true, force: true });
    process.stderr.write(`${project.name}: removed ${work}; results and logs kept in ${out}\n`);
  };
  // The slow tier builds its own (checker) kernels and needs no README run.
  if (project.name === 'slow') {
    project.provide('qk', { ...dirs, full: { runId: '', exitCode: undefined } });
    return teardown;
  }
  // The README's main command (auto,uml), into the suite's own directories.
  const full = await runTool(dirs, `full-${Date.now().toString(36)}`, []);
  process.stderr.write(`integration: README run exited ${full.exitCode}\n`);
  project.provide('qk', { ...dirs, full: { runId: full.runId, exitCode: full.exitCode } });
  return teardown;
}
