/**
 * Bad input to the real launchers (`npx zx scripts/<name>.mjs`, node named
 * explicitly): each is a usage error that names its flag or file, with the
 * exit code of a usage error, found before anything is created, installed
 * or built. Each case runs in a temporary directory of its own that holds
 * the run's output and work directories: after the launcher, it must hold
 * exactly what it held before.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { useTempDir } from './tempdir.ts';

const REPO = join(__dirname, '..', '..');
const ZX = join(REPO, 'node_modules', 'zx', 'build', 'cli.js');

interface Case {
  readonly name: string;
  readonly script: 'run.mjs' | 'parse.mjs' | 'compare.mjs' | 'series.mjs' | 'bisect.mjs';
  /** The arguments; `@` stands for the case's temporary directory. */
  readonly args: readonly string[];
  /** Files to write first (path relative to the temporary directory → content). */
  readonly files?: Readonly<Record<string, string>>;
  readonly message: RegExp;
  /** What the usage error names: the flag or the file. */
  readonly names: RegExp;
  /** A pointer to --help (mistakes in the flags; not in a file the flags name). */
  readonly help?: boolean;
}

/** run.mjs with its output and work directories in the case's directory, never installing anything. */
const run = (...args: string[]) => ['--no-install', '-o', '@/out', '--work-dir', '@/work', ...args];
const PATCH = 'From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\nSubject: [PATCH] x\n\n';

const CASES: readonly Case[] = [
  { name: 'an unknown backend', script: 'run.mjs', args: run('--backend', 'qemu'), message: /--backend: unknown value 'qemu'/, names: /--backend/, help: true },
  { name: 'a side named twice', script: 'run.mjs', args: run('--side', 'a=baseline', '--side', 'a=patched'), message: /side 'a' is given twice/, names: /side 'a'/, help: true },
  { name: 'auto with only a checker flavor', script: 'run.mjs', args: run('--backend', 'auto', '--flavors', 'debug'), message: /--backend auto needs the normal flavor/, names: /--backend auto/, help: true },
  { name: 'a work directory with a space', script: 'run.mjs', args: run('--work-dir', '@/my work', '--backend', 'uml'), message: /--work-dir '.*my work' contains white space/, names: /--work-dir/, help: true },
  { name: 'a --tree that does not exist', script: 'run.mjs', args: run('--tree', '@/linux'), message: /--tree .*\/linux does not exist/, names: /--tree/, help: true },
  { name: 'a --tree that is no git checkout', script: 'run.mjs', args: run('--tree', '@/plain'), files: { 'plain/Makefile': '' }, message: /--tree .*\/plain is not a git checkout with HEAD/, names: /--tree/, help: true },
  { name: 'a --tarball that does not exist', script: 'run.mjs', args: run('--tarball', '@/linux.tar.xz'), message: /--tarball .*linux\.tar\.xz does not exist/, names: /--tarball/, help: true },
  { name: 'a --config fragment that does not exist', script: 'run.mjs', args: run('--config', '@/extra.config'), message: /--config .*extra\.config does not exist/, names: /--config/, help: true },
  { name: 'a --series without patches', script: 'run.mjs', args: run('--series', '@/series'), files: { 'series/kernel.config': '' }, message: /--series .*\/series has no patches/, names: /--series/, help: true },
  { name: 'a --series with a patch not named NNNN-*.patch', script: 'run.mjs', args: run('--series', '@/series'), files: { 'series/0001-a.patch': PATCH, 'series/fix.patch': PATCH }, message: /series directory .*\/series: fix\.patch not named NNNN-\*\.patch/, names: /fix\.patch/, help: true },
  { name: 'a --series that does not exist', script: 'run.mjs', args: run('--series', '@/nope'), message: /series directory .*\/nope does not exist/, names: /nope/, help: true },
  { name: 'an --other-series that is neither directory nor revision', script: 'run.mjs', args: run('--other-series', '@/old', '--side', 'o=other'), message: /--other-series '.*\/old' is neither a directory nor a revision/, names: /--other-series/, help: true },
  { name: 'an --other-series without patches', script: 'run.mjs', args: run('--other-series', '@/old', '--side', 'o=other'), files: { 'old/cmdline': '' }, message: /--other-series .*\/old has no patches/, names: /--other-series/, help: true },
  { name: 'no subcommand', script: 'series.mjs', args: [], message: /choose a command: edit, export, check/, names: /command/, help: true },
  { name: '--jobs that is no number', script: 'series.mjs', args: ['check', '--jobs', 'abc'], message: /--jobs must be an integer from 1 to 1024, not 'abc'/, names: /--jobs/, help: true },
  { name: 'an unknown flavor', script: 'series.mjs', args: ['check', '--flavors', 'fast'], message: /--flavors: unknown value 'fast'/, names: /--flavors/, help: true },
  { name: 'no subcommand', script: 'bisect.mjs', args: [], message: /choose a command: kernel, series/, names: /command/, help: true },
  { name: 'a run.mjs flag after -- that run.mjs refuses', script: 'bisect.mjs', args: ['series', '--tarball', '@/linux.tar.xz', '--', '--smp', 'two'], message: /--smp must be an integer from 1 to 64, not 'two'/, names: /--smp/ },
  { name: 'a log not named *.log', script: 'parse.mjs', args: ['@/console.txt'], files: { 'console.txt': 'Linux version 6.12\n' }, message: /console\.txt is not named \*\.log/, names: /console\.txt/ },
  { name: 'a corrupt facts file', script: 'parse.mjs', args: ['@/console-a.log'], files: { 'console-a.log': 'x\n', 'console-a.facts.json': '{"seq": ' }, message: /console-a\.facts\.json is corrupt: not JSON/, names: /console-a\.facts\.json/ },
  { name: 'a facts file of another shape', script: 'parse.mjs', args: ['@/console-a.log'], files: { 'console-a.log': 'x\n', 'console-a.facts.json': '{"factsVersion": 1}' }, message: /console-a\.facts\.json is not a boot facts file this version reads:\n\n✖ .*\n\s+→ at seq\n[\s\S]*→ at kernelCmdline/, names: /console-a\.facts\.json/ },
  { name: 'a run directory without manifest.json', script: 'parse.mjs', args: ['--run', '@/r'], files: { 'r/results.json': '{}' }, message: /--run .*\/r is not a run directory \(no manifest\.json\)/, names: /--run/ },
  { name: 'a corrupt manifest.json', script: 'parse.mjs', args: ['--run', '@/r'], files: { 'r/manifest.json': '{"schemaVersion": 2,' }, message: /r\/manifest\.json is corrupt: not JSON/, names: /manifest\.json/ },
  { name: 'a manifest.json of another shape', script: 'parse.mjs', args: ['--run', '@/r'], files: { 'r/manifest.json': '{"schemaVersion": 2, "boots": [], "state": "done"}' }, message: /r\/manifest\.json is not a manifest\.json of a run this version reads:[\s\S]*→ at state/, names: /manifest\.json/ },
  { name: 'a results.json the schema refuses', script: 'compare.mjs', args: ['@/a', '@/a'], files: { 'a/results.json': '{"schemaVersion": 2, "runId": 5}' }, message: /a\/results\.json is not a results\.json this tool reads:\n\n✖ .*\n\s+→ at runId\n[\s\S]*→ at sides/, names: /a\/results\.json/ },
  { name: 'a corrupt results.json', script: 'compare.mjs', args: ['@/a', '@/a'], files: { 'a/results.json': '{"schemaVersion"' }, message: /a\/results\.json is corrupt: not JSON/, names: /results\.json/ },
];

async function listing(dir: string, at = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, at), { withFileTypes: true })) {
    const rel = join(at, e.name);
    out.push(rel);
    if (e.isDirectory()) out.push(...(await listing(dir, rel)));
  }
  return out.sort();
}

describe('bad input to the launchers: a usage error naming the flag or file, before any side effect', () => {
  const tmp = useTempDir('qk-badinput-');
  for (const c of CASES) {
    it(`${c.script}: ${c.name}`, async () => {
      const dir = tmp();
      for (const [f, text] of Object.entries(c.files ?? {})) {
        await mkdir(join(dir, f, '..'), { recursive: true });
        await writeFile(join(dir, f), text);
      }
      const before = await listing(dir);
      const args = c.args.map((a) => a.replace(/^@/, dir));
      // QK_WORK_DIR: series.mjs and bisect.mjs take their work directory from it when no flag names one.
      const r = await execa(process.execPath, [ZX, join(REPO, 'scripts', c.script), ...args], { cwd: dir, env: { CI: '1', QK_WORK_DIR: join(dir, 'work') }, all: true, reject: false, stdin: 'ignore' });
      const out = String(r.all ?? '');
      expect(r.exitCode, out).toBe(2);
      expect(out).toMatch(/^error \(usage-error\): /);
      expect(out).toMatch(c.message);
      expect(out.split('\n')[0]).toMatch(c.names);
      expect(out).not.toMatch(/internal error|\n\s+at .*\.ts:\d+/);
      if (c.help) expect(out).toContain(`see: npx zx scripts/${c.script} --help`);
      expect(await listing(dir)).toEqual(before);
    });
  }
});
