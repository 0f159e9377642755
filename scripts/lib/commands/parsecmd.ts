/**
 * `parse`: read guest console logs offline with the live run's classifier
 * (classify.ts), without booting: one log, or a whole stored run (`--run
 * DIR`), whose results.json and report.md are rebuilt from its console logs
 * and boot facts exactly as the live run wrote them.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { parseArgs } from './command.ts';
import { classify, inferEnding, logLines, type BootEnding, type Classification, type Verdict } from '../pipeline/classify.ts';
import type { KtapResult } from '../pipeline/ktap.ts';
import type { BenchLine } from '../analysis/results.ts';
import { regenerate, AttemptFacts } from '../pipeline/recorder.ts';
import { readJson, writeFileAtomic } from '../plumbing/fsutil.ts';
import { writeBenchArtifacts } from '../analysis/charts.ts';
import { EXIT_CODE, QkError, exitCodeOf, formatError } from '../plumbing/errors.ts';

export interface ParsedLog {
  readonly verdict: Verdict;
  readonly ktap: KtapResult;
  readonly bench: readonly BenchLine[];
  readonly protocolErrors: readonly { error: string; line: number }[];
  readonly signature: string | undefined;
  readonly ending: BootEnding;
}

/**
 * Classify a finished log. Without its facts file the ending is inferred:
 * a log that stops after userspace without the sentinel reads as a hang.
 */
export function parseConsoleLog(text: string, ending?: BootEnding): ParsedLog {
  const lines = logLines(text);
  const how = ending ?? inferEnding(lines);
  const c: Classification = classify(lines, how);
  return { verdict: c.verdict, ktap: c.ktap, bench: c.bench, protocolErrors: c.protocolErrors, signature: c.signature, ending: how };
}

export function renderParsed(p: ParsedLog): string {
  const L = [`class: ${p.verdict.class}`, `reason: ${p.verdict.reason}`];
  for (const f of p.verdict.findings) L.push(`finding: line ${f.line}: ${f.kind}: ${f.text}`);
  const c = p.ktap.counts;
  if (p.signature) L.push(`signature: ${p.signature}`);
  L.push(`kunit: ${c.pass} pass, ${c.fail} fail, ${c.skip} skip, ${c.crashed} crashed`);
  for (const k of p.ktap.cases) if (k.status !== 'pass') L.push(`  ${k.suite}.${k.name}: ${k.status}${k.reason ? ` (${k.reason})` : ''}`);
  for (const b of p.bench) L.push(`bench: ${b.suite}/${b.case} ${b.status === 'ok' ? `${b.unit}: ${(b.samples ?? []).join(' ')}` : `${b.status}: ${b.reason}`}`);
  for (const e of p.protocolErrors) L.push(`protocol error: line ${e.line}: ${e.error}`);
  return L.join('\n') + '\n';
}

export async function parseMain(argv: readonly string[]): Promise<number> {
  const cmd = new Command('parse.mjs')
    .description('Classify a saved guest console log (panic, oops, warning, hang, KUnit results, benchmark lines),\nor rebuild a stored run\'s results.json and report.md from its console logs (--run).')
    .argument('[console.log]', 'a console log, e.g. results/<run>/logs/console-baseline-tcg-r0.log')
    .option('--json', 'print the parsed result as JSON')
    .option('--run <dir>', 'a run directory: rebuild its results.json and report.md from logs/ and the boot facts')
    .option('--check', 'with --run: do not write, exit 1 if the rebuilt results.json differs from the stored one')
    .addHelpText('after', '\nExit codes: the class\'s exit code (0 ok, 1 a failure class); 2 bad input.\nWith --run --check: 0 identical, 1 different.')
    .exitOverride()
    .configureOutput({ writeErr: () => {} });
  const early = parseArgs(cmd, argv);
  if (early !== undefined) return early;
  const o = cmd.opts<{ json?: boolean; run?: string; check?: boolean }>();
  try {
    if (o.run) return await parseRun(o.run, Boolean(o.check));
    const file = cmd.args[0];
    if (!file) throw new QkError('usage-error', 'give a console log, or --run DIR');
    // A log of ours has its facts file beside it (console-X.log, console-X.facts.json): how the boot really ended.
    if (!file.endsWith('.log')) throw new QkError('usage-error', `${file} is not named *.log: a console log of this kit is console-....log, with its boot facts beside it in .facts.json`, { hint: 'for a log saved under another name, copy it to a name ending in .log' });
    const text = await readFile(file, 'utf8').catch((e: unknown) => {
      throw new QkError('usage-error', `cannot read ${file}: ${(e as Error).message}`);
    });
    const facts = await readJson(file.replace(/\.log$/, '.facts.json'), AttemptFacts, { what: 'boot facts file', runClass: 'usage-error', hint: `move it away to read ${file} without it (the ending is then inferred from the log)` });
    const parsed = parseConsoleLog(text, facts?.ending);
    process.stdout.write(o.json ? JSON.stringify(parsed, null, 2) + '\n' : renderParsed(parsed));
    return EXIT_CODE[parsed.verdict.class];
  } catch (e) {
    process.stderr.write(formatError(e) + '\n');
    return exitCodeOf(e);
  }
}

async function parseRun(dir: string, check: boolean): Promise<number> {
  const { results, json, report } = await regenerate(dir);
  const file = join(dir, 'results.json');
  const old = await readFile(file, 'utf8').catch(() => undefined);
  const same = old === json;
  if (check) {
    process.stdout.write(`${file}: ${same ? 'identical to the rebuilt one' : old === undefined ? 'missing' : 'differs from the rebuilt one'}\n`);
    return same ? 0 : 1;
  }
  await writeFileAtomic(file, json);
  await writeFileAtomic(join(dir, 'report.md'), report);
  const charts = await writeBenchArtifacts(dir, results);
  process.stdout.write(`${file}: ${same ? 'unchanged' : 'rewritten'} (class ${results.class}, ${results.boots.length} boot(s)); report.md, results.csv and ${charts.length} chart(s) written\n`);
  return EXIT_CODE[results.class];
}
