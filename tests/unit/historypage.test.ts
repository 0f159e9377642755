import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QkError } from '../../scripts/lib/plumbing/errors.ts';
import { writeHistoryPage } from '../../scripts/lib/ci/historypage.ts';
import type { Logger } from '../../scripts/lib/plumbing/log.ts';
import { ABS_KEY, BASE, fourNights, night, NIGHTS, RATIO_KEY, REGRESSED, writeNights } from './nightfixture.ts';
import { useTempDir } from './tempdir.ts';

/** The text of the chart section of one metric. */
const chartOf = (html: string, key: string): string => {
  const at = html.indexOf(`<section class="chart" data-metric="${key}"`);
  expect(at, `no chart for ${key}`).toBeGreaterThanOrEqual(0);
  return html.slice(at, html.indexOf('</section>', at));
};

const capture = (): Logger & { warnings: string[] } => {
  const warnings: string[] = [];
  return { warnings, info: () => {}, warn: (m) => warnings.push(m), progress: () => ({ update: () => {}, stop: () => {} }) };
};

describe('history page', () => {
  const tmp = useTempDir('qk-historypage-');

  it('has a row per night, newest first, each linking to its report relative to the page', async () => {
    await writeNights(tmp(), fourNights());
    const page = await writeHistoryPage(tmp(), BASE);
    expect(page.file).toBe(join(tmp(), BASE, 'index.html'));
    const html = await readFile(page.file, 'utf8');
    expect(html).toMatch(new RegExp(`<title>[^<]*${BASE}[^<]*</title>`));
    const rows = [...html.matchAll(/<tr data-night="([^"]+)"><td><a href="([^"]+)">/g)].map((m) => [m[1], m[2]]);
    expect(rows).toEqual([...NIGHTS].reverse().map((n) => [n, `${n}/report.md`]));
    expect(html).toContain('<td class="result regression">regression</td>');
    expect(html).toContain('<td class="result infra">infra</td>');
    expect(html).toContain('<span class="step fail" title="kunit: fail">kunit fail</span>');
    expect(html).toContain('<td>6.12.112</td>');
  });

  it('draws one chart per metric and marks the regression on that metric only', async () => {
    await writeNights(tmp(), fourNights());
    const page = await writeHistoryPage(tmp(), BASE);
    expect(page.charts).toBe(2);
    const html = await readFile(page.file, 'utf8');
    const abs = chartOf(html, ABS_KEY);
    expect(abs).toMatch(/<svg [^>]*>/);
    expect(abs).toContain('<g class="mark-symbol role-mark regression_marks"');
    expect(abs.match(/aria-roledescription="point"[^>]*fill="#d62728"/g)).toHaveLength(1);
    expect(abs).toMatch(/<text[^>]*>regression<\/text>/);
    expect(abs).toContain(`<li class="regression" data-metric="${ABS_KEY}" data-night="${REGRESSED}">`);
    expect(abs).toContain('1 ns = one guest instruction');
    const ratio = chartOf(html, RATIO_KEY);
    expect(ratio).toMatch(/<svg /);
    expect(ratio).not.toMatch(/#d62728|class="regression"|>regression</);
    expect(ratio).toContain('measured within one run');
  });

  it('is self-contained and explains the figures', async () => {
    await writeNights(tmp(), fourNights());
    const html = await readFile((await writeHistoryPage(tmp(), BASE)).file, 'utf8');
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\ssrc=|url\(/i);
    expect(html).toMatch(/"ns" there is one guest instruction/);
    expect(html).toMatch(/ratios measured within one run/);
  });

  it('escapes every text it shows', async () => {
    const evil = '<img src=x onerror=alert(1)>&"';
    const n = night(NIGHTS[0], 0);
    const bad = night(NIGHTS[1], 1, {
      kernel: { version: evil, description: evil },
      trees: [{ variant: evil, apply: 'fail', build: 'skip', boot: 'skip', kunit: 'skip', reason: evil }],
      metrics: [{ ...n.metrics[0]!, key: evil }],
      findings: [{ kind: 'regression', key: evil, message: evil }],
    });
    await writeNights(tmp(), [n, bad]);
    const html = await readFile((await writeHistoryPage(tmp(), BASE)).file, 'utf8');
    expect(html).not.toContain('<img');
    expect(html).toContain('&#60;img src=x onerror=alert(1)&#62;&#38;&#34;');
    expect(html).toContain(`data-metric="&#60;img src=x onerror=alert(1)&#62;&#38;&#34;"`);
  });

  it('makes an absolute report path relative to the page', async () => {
    const dir = join(tmp(), BASE);
    await writeNights(tmp(), [night(NIGHTS[0], 0, { report: join(dir, 'runs', 'a b', 'report.md') })]);
    const html = await readFile((await writeHistoryPage(tmp(), BASE)).file, 'utf8');
    expect(html).toContain('<a href="runs/a%20b/report.md">');
  });

  it('skips invalid records, names them on the page and warns, but fails when no night is left', async () => {
    const dir = await writeNights(tmp(), fourNights());
    await writeFile(join(dir, '2026-11-30.json'), '{ not json');
    await writeFile(join(dir, '2026-11-29.json'), JSON.stringify({ ...night('2026-11-29', 0), result: 'maybe' }));
    await writeFile(join(dir, '2026-11-28.json'), JSON.stringify({ ...night('2026-11-28', 0), base: 'v6.18' }));
    const log = capture();
    const page = await writeHistoryPage(tmp(), BASE, { log });
    expect(page.skipped.map((s) => s.file)).toEqual(['2026-11-28.json', '2026-11-29.json', '2026-11-30.json']);
    expect(log.warnings).toHaveLength(3);
    expect(log.warnings.join('\n')).toMatch(/2026-11-29\.json: not a night record: .*result/);
    const html = await readFile(page.file, 'utf8');
    expect(html).toMatch(/<li class="skipped">2026-11-28\.json: record of base v6\.18, not debian-6\.12<\/li>/);
    expect(html.match(/<tr data-night=/g)).toHaveLength(4);

    const empty = join(tmp(), 'other');
    await writeNights(empty, []);
    await writeFile(join(empty, BASE, 'x.json'), '[]');
    const err = await writeHistoryPage(empty, BASE).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QkError);
    expect((err as QkError).message).toMatch(/no valid night record/);
    expect((err as QkError).details).toMatch(/x\.json: not a night record/);
    await expect(writeHistoryPage(tmp(), 'nope')).rejects.toThrow(/no history for base nope/);
  });
});
