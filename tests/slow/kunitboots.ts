/** Shared by the slow tier's kernel tests: the KUnit boots of one side, each clean, with their consoles. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Results } from '../../scripts/lib/analysis/results.ts';
import { stripPrintkPrefix } from '../../scripts/lib/pipeline/console.ts';

/**
 * Expects at least one KUnit boot of `side`, each classed ok with KUnit
 * cases passed and none failed; returns their console lines, printk
 * prefixes removed.
 */
export async function cleanKunitConsoles(runDir: string, res: Results, side: string): Promise<string[][]> {
  const kunit = res.boots.filter((b) => b.side === side && b.purpose === 'kunit');
  expect(kunit.length).toBeGreaterThan(0);
  for (const b of kunit) {
    expect(b.class).toBe('ok');
    expect(b.kunit.pass).toBeGreaterThan(0);
    expect(b.kunit.fail).toBe(0);
  }
  const texts = await Promise.all(kunit.map((b) => readFile(join(runDir, b.consoleLog), 'utf8')));
  return texts.map((t) => t.split('\n').map(stripPrintkPrefix));
}
