/**
 * The history page as a person sees it: opened in a real headless Chromium
 * (Debian's package, driven by playwright-core) from a file:// URL, as it
 * is when downloaded from a CI artifact. Checks what string matching
 * cannot: the SVGs lay out with a size and drawn marks, the regression mark
 * is visible on its metric only, every link resolves, and the page asks
 * for nothing over the network. Leaves history.png beside the page (its
 * temporary directory is kept and printed) for a person to look at.
 */
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeHistoryPage } from '../../scripts/lib/ci/historypage.ts';
import { ABS_KEY, BASE, fourNights, NIGHTS, RATIO_KEY, REGRESSED, writeNights } from './nightfixture.ts';

const CHROMIUM = process.env['QK_CHROMIUM'] ?? '/usr/bin/chromium';

describe('history page in a browser', () => {
  let browser: Browser | undefined;
  let history = '';
  let pageUrl = '';

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: the history page test needs a real browser; run \`apt-get install chromium\` (Debian's package) or point QK_CHROMIUM at one`);
    }
    history = await mkdtemp(join(tmpdir(), 'qk-historybrowser-'));
    await writeNights(history, fourNights());
    pageUrl = pathToFileURL((await writeHistoryPage(history, BASE)).file).href;
    // --no-sandbox: tests run as root, where Chromium's sandbox refuses to start.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('renders every chart, marks the regression on its metric only, resolves every link, and fetches nothing', async () => {
    const page = await browser!.newPage({ viewport: { width: 1200, height: 900 } });
    const fetched: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => {
      if (!/^(file|data|about):/.test(r.url())) fetched.push(r.url());
    });
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    const res = await page.goto(pageUrl, { waitUntil: 'load' });
    expect(res?.ok() ?? true).toBe(true);
    await expect(page.title()).resolves.toContain(BASE);

    const charts = page.locator('section.chart');
    expect(await charts.count()).toBe(2);
    for (const c of await charts.all()) {
      const svg = c.locator(':scope > svg');
      const box = await svg.boundingBox();
      expect(box?.width).toBeGreaterThan(100);
      expect(box?.height).toBeGreaterThan(100);
      expect(await c.locator('g.role-mark.mark-line path').count()).toBeGreaterThan(0);
      expect(await c.locator('g.role-mark.mark-symbol path').count()).toBeGreaterThanOrEqual(NIGHTS.length);
      expect(await c.locator('g.role-mark.mark-rule line, g.role-mark.mark-rule path').count()).toBeGreaterThan(0);
    }

    const abs = page.locator(`section.chart[data-metric="${ABS_KEY}"]`);
    const mark = abs.locator('g.regression_marks path');
    expect(await mark.count()).toBe(1);
    await expect(mark.getAttribute('fill')).resolves.toBe('#d62728');
    const markBox = await mark.boundingBox();
    expect(markBox?.width).toBeGreaterThan(5);
    await expect(abs.locator('g.regression_label_marks text').textContent()).resolves.toBe('regression');
    await expect(abs.locator('li.regression').getAttribute('data-night')).resolves.toBe(REGRESSED);
    const ratio = page.locator(`section.chart[data-metric="${RATIO_KEY}"]`);
    expect(await ratio.locator('g.regression_marks path, g.regression_label_marks text, li.regression').count()).toBe(0);
    expect(await page.locator('li.regression').count()).toBe(1);

    const hrefs = await page.locator('a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
    expect(hrefs).toHaveLength(NIGHTS.length);
    for (const href of hrefs) {
      const url = new URL(href, page.url());
      expect(url.protocol, href).toBe('file:');
      expect(existsSync(fileURLToPath(url)), `${href} from ${page.url()}`).toBe(true);
    }
    const png = join(history, BASE, 'history.png');
    await page.screenshot({ path: png, fullPage: true });
    console.log(`history page: ${fileURLToPath(pageUrl)}\nscreenshot: ${png}`);

    // Following a link lands on the report itself.
    await page.locator(`tr[data-night="${REGRESSED}"] a`).click();
    await page.waitForURL(`**/${REGRESSED}/report.md`);
    await expect(page.locator('body').textContent()).resolves.toContain(`# nightly ${REGRESSED}`);

    expect(fetched).toEqual([]);
    expect(errors).toEqual([]);
  }, 30_000);
});
