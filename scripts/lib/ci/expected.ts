/**
 * Known, declared states of a base kernel for the nightly (nightly.mjs
 * --expected, by default nightly-expected.json at the top of the
 * repository): a step of a tree that fails on that base by design, e.g.
 * the series not applying to a base it is not ported to. Such a failure is
 * reported as expected (a finding of kind `expected`, a skip in JUnit,
 * exit 0), so the leg stays green and real regressions are not hidden in a
 * leg that is red every night; the same step passing is news (a finding of
 * kind `expectation-changed`, which fails the night until the file is
 * updated).
 *
 *   { "version": 1,
 *     "bases": { "debian-6.1": [ { "tree": "patched", "step": "apply", "why": "not ported to 6.1" } ] } }
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { QkError } from '../plumbing/errors.ts';
import { REPO_ROOT } from '../plumbing/paths.ts';

export const DEFAULT_EXPECTED = join(REPO_ROOT, 'nightly-expected.json');

export const Expectation = z.strictObject({
  /** The kernel tree: baseline, patched, other. */
  tree: z.string().min(1),
  step: z.enum(['apply', 'build', 'boot', 'kunit']),
  /** Why the step fails there: what a reader of the report sees. */
  why: z.string().min(1),
});
export type Expectation = z.infer<typeof Expectation>;

export const ExpectedFile = z.strictObject({
  version: z.literal(1),
  /** By the nightly's --base name. */
  bases: z.record(z.string(), z.array(Expectation)),
});

/**
 * The expectations of one base. A missing file is no expectations when it
 * is the default one, and an error when it was named; a file that does not
 * parse is an error naming it either way.
 */
export async function readExpectations(file: string, base: string, named: boolean): Promise<Expectation[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    if (!named && (cause as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new QkError('usage-error', `cannot read the expectations file ${file}: ${(cause as Error).message}`, { cause, hint: 'give an existing file with --expected, or leave the flag out' });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new QkError('usage-error', `${file} is not JSON: ${(cause as Error).message}`, { cause, hint: 'fix the file: { "version": 1, "bases": { "<base>": [ { "tree", "step", "why" } ] } }' });
  }
  const parsed = ExpectedFile.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new QkError('usage-error', `${file} is not an expectations file: ${issue ? `${issue.path.join('.') || '(top)'}: ${issue.message}` : 'invalid'}`, { hint: 'each base lists { "tree": "patched", "step": "apply" | "build" | "boot" | "kunit", "why": "..." }' });
  }
  return parsed.data.bases[base] ?? [];
}
