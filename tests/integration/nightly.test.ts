/**
 * Nightly mode for real, on the throwaway kernel history of the bisection
 * tests (history.ts; the same base and trees): five nights of one base on
 * icount, with the slab/reuse case only. Two unchanged nights, two nights
 * whose guest oopses on purpose (the same crash twice), and a night on the
 * commit that slows kmem_cache_free(). The nights build on each other, in
 * order, as nights do.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { debianHistory, type History } from './history.ts';
import { runScript } from './tool.ts';
import { Night } from '../../scripts/lib/ci/night.ts';
import { validateKcidb } from '../../scripts/lib/ci/kcidb.ts';

const qk = inject('qk');
const BASE = 'it-hist';
const CHROMIUM = process.env['QK_CHROMIUM'] ?? '/usr/bin/chromium';
let history: History;
let dir = '';

async function night(name: string, ref: string, extra: string[] = []): Promise<{ exitCode: number | undefined; output: string; record: Night; nightDir: string }> {
  const r = await runScript(qk, 'nightly.mjs', [
    '--base', BASE, '--tree', history.repo, '--ref', ref, '--history', dir, '--night', name,
    '--variants', 'baseline', '--backend', 'icount', '--work-dir', qk.work, '-o', qk.out,
    '--', '--modules', 'qk_bench', '--append', 'qk_bench.only=slab/reuse', ...extra,
  ]);
  const record = Night.parse(JSON.parse(await readFile(join(dir, BASE, `${name}.json`), 'utf8')));
  return { ...r, record, nightDir: join(dir, BASE, name) };
}

beforeAll(async () => {
  history = await debianHistory(qk);
  dir = await mkdtemp(join(qk.out, 'it-nightly-history-'));
});

describe('nightly mode', () => {
  it('passes an unchanged night', async () => {
    const n1 = await night('n1', history.commits.base);
    expect(n1.exitCode, n1.output.slice(-3000)).toBe(0);
    // The baseline kernel's KUnit suites are the examples CONFIG_KUNIT_EXAMPLE_TEST builds in.
    expect(n1.record.trees).toEqual([{ variant: 'baseline', apply: 'pass', build: 'pass', boot: 'pass', kunit: 'pass' }]);
    // qk_bench.only= matches by substring: reuse_softirq comes along.
    expect(n1.record.metrics.map((m) => m.key).sort()).toEqual(['slab/reuse@baseline/icount', 'slab/reuse_softirq@baseline/icount']);
    const n2 = await night('n2', history.commits.base);
    expect(n2.exitCode, n2.output.slice(-3000)).toBe(0);
    expect(n2.record.findings).toEqual([]);
    expect(n2.record.result).toBe('ok');
  });

  it('recognises a repeated crash by its fingerprint', async () => {
    const n3 = await night('n3', history.commits.base, ['--provoke', 'oops']);
    expect(n3.exitCode, n3.output.slice(-3000)).toBe(1);
    expect(n3.record.crashes).toHaveLength(1);
    expect(n3.record.crashes[0]!.seen).toBe('new');
    expect(n3.record.crashes[0]!.frames.join(' ')).toContain('qk_provoke');
    const n4 = await night('n4', history.commits.base, ['--provoke', 'oops']);
    expect(n4.exitCode).toBe(1);
    expect(n4.record.crashes.map((c) => [c.fingerprint, c.seen])).toEqual([[n3.record.crashes[0]!.fingerprint, 'n3']]);
    expect(n4.output).toContain('same crash as night n3');
  });

  it('flags an injected regression and writes JUnit, KCIDB and the history page, checked in Chromium', async () => {
    const n5 = await night('n5', history.commits.slow);
    expect(n5.exitCode, n5.output.slice(-3000)).toBe(1);
    const reg = n5.record.findings.filter((f) => f.kind === 'regression');
    // kmem_cache_free() is on both paths; the crash nights still measured (qk_provoke loads after qk_bench).
    expect(reg.map((f) => f.key).sort()).toEqual(['slab/reuse@baseline/icount', 'slab/reuse_softirq@baseline/icount']);
    expect(reg[0]!.message).toContain('on night n4');

    const junit = await readFile(join(n5.nightDir, 'junit.xml'), 'utf8');
    const testcase = /<testcase [^>]*name="slab\/reuse@baseline\/icount"[^>]*>([\s\S]*?)<\/testcase>/.exec(junit);
    expect(testcase?.[1]).toMatch(/<failure [^>]*type="regression"/);
    const kcidb = JSON.parse(await readFile(join(n5.nightDir, 'kcidb.json'), 'utf8')) as unknown;
    expect(validateKcidb(kcidb)).toEqual({ ok: true, errors: [] });

    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      await page.goto(pathToFileURL(join(dir, BASE, 'index.html')).href, { waitUntil: 'load' });
      const chart = page.locator('section.chart[data-metric="slab/reuse@baseline/icount"]');
      const box = await chart.locator(':scope > svg').boundingBox();
      expect(box?.width).toBeGreaterThan(100);
      expect(await chart.locator('g.role-mark.mark-symbol path').count()).toBeGreaterThanOrEqual(3);
      expect(await chart.locator('g.regression_marks path').count()).toBe(1);
      await expect(chart.locator('li.regression').getAttribute('data-night')).resolves.toBe('n5');
      const hrefs = await page.locator('a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
      expect(hrefs).toHaveLength(5);
      for (const href of hrefs) expect(existsSync(fileURLToPath(new URL(href, page.url()))), href).toBe(true);
      await page.screenshot({ path: join(qk.out, 'it-nightly-history.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
