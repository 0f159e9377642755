/**
 * `parse`: re-read a saved console log offline and classify it exactly as a
 * live boot would be (same watcher, same KTAP parser), without booting.
 */
import { readFile } from 'node:fs/promises';
import { Command, CommanderError } from 'commander';
import { ConsoleWatcher, verdict, type ConsoleVerdict } from './console.ts';
import { parseKtap, type KtapResult } from './ktap.ts';
import { BenchLine } from './results.ts';
import { EXIT_CODE, QkError, exitCodeOf, formatError } from './errors.ts';

export interface ParsedLog {
  readonly verdict: ConsoleVerdict;
  readonly ktap: KtapResult;
  readonly bench: BenchLine[];
  readonly protocolErrors: readonly { error: string; line: number }[];
}

/** Classify a finished log. A log that simply stops is read as a hang. */
export function parseConsoleLog(text: string): ParsedLog {
  const w = new ConsoleWatcher();
  for (const line of text.replace(/\n$/, '').split('\n')) w.push(line);
  const ktap = parseKtap(w.lines);
  const ending = w.findings.length > 0 ? 'finding' : w.endStatus !== undefined ? 'exited' : w.reachedUserspace ? 'silence' : 'exited';
  const bench: BenchLine[] = [];
  const errors = [...w.protoErrors];
  for (const p of w.proto) {
    if (p.kind !== 'bench') continue;
    const b = BenchLine.safeParse(p.data);
    if (b.success) bench.push(b.data);
    else errors.push({ error: `QK-BENCH line does not match the schema: ${b.error.issues[0]?.message ?? ''}`, line: p.line });
  }
  return { verdict: verdict(w, ending, ktap.counts.fail + ktap.counts.crashed), ktap, bench, protocolErrors: errors };
}

export function renderParsed(p: ParsedLog): string {
  const L = [`class: ${p.verdict.class}`, `reason: ${p.verdict.reason}`];
  for (const f of p.verdict.findings) L.push(`finding: line ${f.line}: ${f.kind}: ${f.text}`);
  const c = p.ktap.counts;
  L.push(`kunit: ${c.pass} pass, ${c.fail} fail, ${c.skip} skip, ${c.crashed} crashed`);
  for (const k of p.ktap.cases) if (k.status !== 'pass') L.push(`  ${k.suite}.${k.name}: ${k.status}${k.reason ? ` (${k.reason})` : ''}`);
  for (const b of p.bench) L.push(`bench: ${b.suite}/${b.case} ${b.unit}: ${b.samples.join(' ')}`);
  for (const e of p.protocolErrors) L.push(`protocol error: line ${e.line}: ${e.error}`);
  return L.join('\n') + '\n';
}

export async function parseMain(argv: readonly string[]): Promise<number> {
  const cmd = new Command('parse.mjs')
    .description('Classify a saved guest console log (panic, oops, warning, hang, KUnit results, benchmark lines).')
    .argument('<console.log>', 'a console log, e.g. results/<run>/logs/console-baseline-tcg-r0.log')
    .option('--json', 'print the parsed result as JSON')
    .exitOverride()
    .configureOutput({ writeErr: () => {} });
  try {
    cmd.parse([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0;
      process.stderr.write(`error (usage-error): ${e.message.replace(/^error: /, '')}\nsee: npx zx scripts/parse.mjs --help\n`);
      return EXIT_CODE['usage-error'];
    }
    throw e;
  }
  const file = cmd.args[0]!;
  try {
    const text = await readFile(file, 'utf8').catch(() => {
      throw new QkError('usage-error', `cannot read ${file}`);
    });
    const parsed = parseConsoleLog(text);
    process.stdout.write(cmd.opts()['json'] ? JSON.stringify(parsed, null, 2) + '\n' : renderParsed(parsed));
    return EXIT_CODE[parsed.verdict.class];
  } catch (e) {
    process.stderr.write(formatError(e) + '\n');
    return exitCodeOf(e);
  }
}
