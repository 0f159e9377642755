/** Running `npx zx scripts/run.mjs` (and parse.mjs) for the integration tests, in their own directories. */
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { Results } from '../../scripts/lib/analysis/results.ts';
import type { Manifest } from '../../scripts/lib/pipeline/pipeline.ts';

export const REPO = join(__dirname, '..', '..');
const ZX = join(REPO, 'node_modules', 'zx', 'build', 'cli.js');

export interface Dirs {
  readonly work: string;
  readonly out: string;
  readonly toolLog: string;
}

export interface ToolRun {
  readonly runId: string;
  readonly exitCode: number | undefined;
  readonly output: string;
  readonly runDir: string;
  manifest(): Promise<Manifest>;
  results(): Promise<Results>;
}

/**
 * The run.mjs arguments of a package.json script that starts with
 * `npx zx scripts/run.mjs`, shell quotes removed (a quoted value is one word).
 */
export async function runScriptArgs(script: string): Promise<string[]> {
  const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const words = [...pkg.scripts[script]!.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
  if (words.slice(0, 3).join(' ') !== 'npx zx scripts/run.mjs') throw new Error(`package.json script ${script} does not run scripts/run.mjs`);
  return words.slice(3);
}

/**
 * The README's command, `npx zx scripts/run.mjs`, with node named explicitly
 * (tests may narrow PATH); `wrap` runs it through another command first
 * (e.g. unshare), which ends by exec'ing its arguments.
 */
export function startTool(d: Dirs, runId: string, args: readonly string[], env: Record<string, string> = {}, wrap: readonly string[] = []) {
  const argv = [process.execPath, ZX, join(REPO, 'scripts', 'run.mjs'), '--run-id', runId, '-o', d.out, '--work-dir', d.work, ...args];
  return execa(wrap[0] ?? argv[0]!, [...wrap.slice(1), ...(wrap.length > 0 ? argv : argv.slice(1))], {
    cwd: REPO,
    env: { CI: '1', ...env },
    // A test that sets PATH wants exactly that PATH.
    extendEnv: !('PATH' in env),
    all: true,
    reject: false,
    stdin: 'ignore',
  });
}

export async function finishTool(d: Dirs, runId: string, child: ReturnType<typeof startTool>): Promise<ToolRun> {
  const res = await child;
  const output = String(res.all ?? '');
  await appendFile(d.toolLog, `\n===== ${runId} (exit ${res.exitCode})\n${output}\n`);
  return runView(d, runId, res.exitCode, output);
}

export function runView(d: Dirs, runId: string, exitCode: number | undefined, output: string): ToolRun {
  const runDir = join(d.out, runId);
  return {
    runId,
    exitCode,
    output,
    runDir,
    manifest: async () => JSON.parse(await readFile(join(runDir, 'manifest.json'), 'utf8')) as Manifest,
    results: async () => Results.parse(JSON.parse(await readFile(join(runDir, 'results.json'), 'utf8'))),
  };
}

export function runTool(d: Dirs, runId: string, args: readonly string[], env: Record<string, string> = {}): Promise<ToolRun> {
  return finishTool(d, runId, startTool(d, runId, args, env));
}

export async function parseTool(args: readonly string[]): Promise<{ exitCode: number | undefined; output: string }> {
  const res = await execa(process.execPath, [ZX, join(REPO, 'scripts', 'parse.mjs'), ...args], { cwd: REPO, all: true, reject: false, stdin: 'ignore' });
  return { exitCode: res.exitCode, output: String(res.all ?? '') };
}

/** Another entry point (`npx zx scripts/<script>`), in the suite's directories; its output goes to the tool log too. */
export async function runScript(d: Dirs, script: string, args: readonly string[]): Promise<{ exitCode: number | undefined; output: string }> {
  const res = await execa(process.execPath, [ZX, join(REPO, 'scripts', script), ...args], { cwd: REPO, env: { CI: '1' }, all: true, reject: false, stdin: 'ignore' });
  const output = String(res.all ?? '');
  await appendFile(d.toolLog, `\n===== ${script} ${args.join(' ')} (exit ${res.exitCode})\n${output}\n`);
  return { exitCode: res.exitCode, output };
}
