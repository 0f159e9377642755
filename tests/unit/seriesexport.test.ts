import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatSeries } from '../../scripts/lib/series/export.ts';
import { gitIdentity } from '../../scripts/lib/series/identity.ts';
import { installExport } from '../../scripts/lib/series/install.ts';
import { signPatch } from '../../scripts/lib/series/mail.ts';
import { QkError, formatError } from '../../scripts/lib/plumbing/errors.ts';
import { useTempDir } from './tempdir.ts';

let dir: string;
let staged: string;

/** A series directory as a previous export left it, and a fresh export staged inside it. */
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qk-export-'));
  staged = join(dir, '.export-1');
  await mkdir(staged);
  const files: Record<string, string> = {
    series: '# The series, in order.\n# Edit with: series.mjs\n0001-old-a.patch\n0002-kept-b.patch\n0003-stale.patch\n',
    '0000-cover-letter.patch': 'old cover\n',
    '0001-old-a.patch': 'old a\n',
    '0002-kept-b.patch': 'old b\n',
    '0003-stale.patch': 'old stale\n',
    'kernel.config': 'CONFIG_X=y\n',
  };
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  await writeFile(join(staged, '0000-cover-letter.patch'), 'new cover\n');
  await writeFile(join(staged, '0001-new-a.patch'), 'new a\n');
  await writeFile(join(staged, '0002-kept-b.patch'), 'new b\n');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const NEW = ['0000-cover-letter.patch', '0001-new-a.patch', '0002-kept-b.patch'];

describe('installExport', () => {
  it('replaces the patches, rewrites series with its comments and removes stale patches', async () => {
    await installExport(dir, staged, NEW);
    expect((await readdir(dir)).sort()).toEqual(['.export-1', ...NEW, 'kernel.config', 'series'].sort());
    expect(await readFile(join(dir, 'series'), 'utf8')).toBe('# The series, in order.\n# Edit with: series.mjs\n0001-new-a.patch\n0002-kept-b.patch\n');
    expect(await readFile(join(dir, '0000-cover-letter.patch'), 'utf8')).toBe('new cover\n');
    expect(await readFile(join(dir, '0002-kept-b.patch'), 'utf8')).toBe('new b\n');
    expect(await readFile(join(dir, 'kernel.config'), 'utf8')).toBe('CONFIG_X=y\n');
    expect(await readdir(staged)).toEqual([]);
  });

  it('removes nothing old until every new file is in place', async () => {
    // A staged file is missing: the install fails midway, as a crash would.
    await expect(installExport(dir, staged, [...NEW, '0003-missing.patch'])).rejects.toThrow(/ENOENT/);
    const left = await readdir(dir);
    expect(left).toContain('0001-old-a.patch');
    expect(left).toContain('0003-stale.patch');
    // The old series file is still in place, and every patch it lists exists.
    const series = await readFile(join(dir, 'series'), 'utf8');
    expect(series).toContain('0003-stale.patch');
    for (const name of series.split('\n').filter((l) => l && !l.startsWith('#'))) expect(left).toContain(name);
  });

  it('writes a series file when there was none', async () => {
    await rm(join(dir, 'series'));
    await installExport(dir, staged, NEW);
    expect(await readFile(join(dir, 'series'), 'utf8')).toBe('0001-new-a.patch\n0002-kept-b.patch\n');
  });
});

const ADA = { name: 'Ada Lovelace', email: 'ada@example.org' };
const ADA_FROM = 'From: Ada Lovelace <ada@example.org>';
const KIT = 'qmempool-kit <qmempool-kit@localhost>';

/** A format-patch file: headers, message, "---", diffstat and a diff. */
function patch(from: string, message: string, diff = '+Signed-off-by: qmempool-kit <qmempool-kit@localhost>\n'): string {
  return `From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\nFrom: ${from}\nDate: Fri, 27 Nov 2026 01:00:14 +0000\nSubject: [PATCH 1/3] lib: x\n\n${message}---\n a | 1 +\n\ndiff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1,2 @@\n a\n${diff}`;
}

describe('signPatch: the exporter signs off instead of the placeholder', () => {
  it('replaces the placeholder in From: and Signed-off-by, keeps the other trailers and never touches the diff', () => {
    const text = patch(KIT, `Body.\n\nSigned-off-by: Jesper Brouer <brouer@example.org>\nReviewed-by: Rev Iewer <rev@example.org>\nSigned-off-by: ${KIT}\n`);
    expect(signPatch(text, ADA, ADA_FROM)).toBe(
      patch('Ada Lovelace <ada@example.org>', 'Body.\n\nSigned-off-by: Jesper Brouer <brouer@example.org>\nReviewed-by: Rev Iewer <rev@example.org>\nSigned-off-by: Ada Lovelace <ada@example.org>\n'),
    );
  });

  it("keeps another author's From:, and adds the exporter's sign-off where there is none", () => {
    // After prose: a paragraph of its own; after other trailers: one more trailer; subject only: right after the headers.
    expect(signPatch(patch('Alice <alice@example.org>', 'Body.\n'), ADA, ADA_FROM)).toBe(patch('Alice <alice@example.org>', 'Body.\n\nSigned-off-by: Ada Lovelace <ada@example.org>\n'));
    expect(signPatch(patch(KIT, 'Body.\n\nReviewed-by: Rev <rev@example.org>\n'), ADA, ADA_FROM)).toBe(patch('Ada Lovelace <ada@example.org>', 'Body.\n\nReviewed-by: Rev <rev@example.org>\nSigned-off-by: Ada Lovelace <ada@example.org>\n'));
    expect(signPatch(patch(KIT, ''), ADA, ADA_FROM)).toBe(patch('Ada Lovelace <ada@example.org>', 'Signed-off-by: Ada Lovelace <ada@example.org>\n'));
  });

  it('changes nothing the second time, and drops a placeholder sign-off beside the exporter’s own', () => {
    const once = signPatch(patch(KIT, 'Body.\n'), ADA, ADA_FROM);
    expect(signPatch(once, ADA, ADA_FROM)).toBe(once);
    const both = patch(KIT, `Body.\n\nSigned-off-by: ${KIT}\nSigned-off-by: Ada Lovelace <ada@example.org>\n`);
    expect(signPatch(both, ADA, ADA_FROM)).toBe(patch('Ada Lovelace <ada@example.org>', 'Body.\n\nSigned-off-by: Ada Lovelace <ada@example.org>\n'));
  });

  it('declares UTF-8 when the new sign-off makes the message non-ASCII', () => {
    const out = signPatch(patch(KIT, 'Body.\n'), { name: 'Björn Töpel', email: 'bjorn@example.org' }, 'From: =?UTF-8?q?Bj=C3=B6rn=20T=C3=B6pel?= <bjorn@example.org>');
    expect(out).toContain('Subject: [PATCH 1/3] lib: x\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\nBody.\n\nSigned-off-by: Björn Töpel <bjorn@example.org>\n---\n');
    expect(out).toContain('From: =?UTF-8?q?Bj=C3=B6rn=20T=C3=B6pel?= <bjorn@example.org>\n');
  });
});

/** A git config file and the environment that makes git read only it: a fresh machine's, or one with an identity. */
async function gitConfigEnv(dir: string, text: string): Promise<Record<string, string>> {
  const file = join(dir, 'gitconfig');
  await writeFile(file, text);
  return { GIT_CONFIG_GLOBAL: file, GIT_CONFIG_NOSYSTEM: '1' };
}

describe("the exporter's identity", () => {
  const tmp = useTempDir('qk-ident-');

  it('comes from git config', async () => {
    const home = tmp();
    const env = await gitConfigEnv(home, '[user]\n\tname = Ada Lovelace\n\temail = ada@example.org\n');
    expect(await gitIdentity({ cwd: home, env })).toEqual(ADA);
  });

  it('is a usage error, saying how to set it, when git has none', async () => {
    const home = tmp();
    for (const text of ['', '[user]\n\tname = Ada Lovelace\n']) {
      const env = await gitConfigEnv(home, text);
      const err = await gitIdentity({ cwd: home, env }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(QkError);
      expect((err as QkError).runClass).toBe('usage-error');
      expect(formatError(err)).toContain("set your identity: git config --global user.name 'Your Name'; git config --global user.email you@example.org");
      expect((err as Error).message).toMatch(text ? /user\.email is not set/ : /user\.name and user\.email are not set/);
    }
  });
});

describe('formatSeries: git format-patch with the exporter as sender', () => {
  const tmp = useTempDir('qk-format-');
  let repo: string;
  let base: string;
  const saved = { GIT_CONFIG_GLOBAL: process.env['GIT_CONFIG_GLOBAL'], GIT_CONFIG_NOSYSTEM: process.env['GIT_CONFIG_NOSYSTEM'] };

  /** A base commit and, on branch qk-series, two commits by the placeholder (one signed off, one not) and one by Alice. */
  beforeEach(async () => {
    repo = tmp();
    // A fresh machine: no global or system git identity, for the test's git and formatSeries' alike.
    Object.assign(process.env, await gitConfigEnv(repo, ''));
    const kit = { GIT_AUTHOR_NAME: 'qmempool-kit', GIT_AUTHOR_EMAIL: 'qmempool-kit@localhost', GIT_COMMITTER_NAME: 'qmempool-kit', GIT_COMMITTER_EMAIL: 'qmempool-kit@localhost' };
    const alice = { ...kit, GIT_AUTHOR_NAME: 'Alice', GIT_AUTHOR_EMAIL: 'alice@example.org' };
    const git = (args: string[], env: Record<string, string> = kit) =>
      execFileSync('git', args, { cwd: repo, env: { ...process.env, ...env, GIT_AUTHOR_DATE: '2026-11-27T01:00:00Z', GIT_COMMITTER_DATE: '2026-11-27T01:00:00Z' }, encoding: 'utf8' }).trim();
    const commit = async (line: string, message: string, env?: Record<string, string>) => {
      await writeFile(join(repo, 'a'), `${await readFile(join(repo, 'a'), 'utf8').catch(() => '')}${line}\n`);
      git(['add', 'a'], env);
      git(['commit', '-q', '-m', message], env);
    };
    git(['init', '-q', '-b', 'qk-series']);
    await commit('a', 'base');
    base = git(['rev-parse', 'HEAD']);
    await commit('b', `lib: b\n\nBody b.\n\nSigned-off-by: ${KIT}`);
    await commit('c', 'lib: c\n\nBody c.');
    await commit('d', 'lib: d\n\nSigned-off-by: Alice <alice@example.org>', alice);
    git(['config', 'branch.qk-series.description', 'lib: b, c and d\n\nThe blurb.\n']);
  });
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  async function exportTo(name: string): Promise<Record<string, string>> {
    const out = join(repo, name);
    await mkdir(out);
    const files = await formatSeries({ dir: repo, base, out, me: ADA });
    expect(await readdir(out)).toEqual(files);
    return Object.fromEntries(await Promise.all(files.map(async (f) => [f, await readFile(join(out, f), 'utf8')] as const)));
  }

  it('signs the placeholder commits off as the exporter, keeps Alice, and is stable', async () => {
    const first = await exportTo('out1');
    expect(Object.keys(first)).toEqual(['0000-cover-letter.patch', '0001-lib-b.patch', '0002-lib-c.patch', '0003-lib-d.patch']);
    const all = Object.values(first).join('\n');
    expect(all).not.toContain('qmempool-kit');
    const [cover, b, c, d] = Object.values(first) as [string, string, string, string];
    expect(cover).toMatch(/^From: Ada Lovelace <ada@example\.org>$/m);
    // Dated by the last patch, not by when it was exported; the shortlog names the exporter.
    expect(cover).toMatch(/^Date: Fri, 27 Nov 2026 01:00:00 \+0000$/m);
    expect(cover).toContain('Subject: [PATCH 0/3] lib: b, c and d\n\nThe blurb.\n');
    expect(cover).toMatch(/^Ada Lovelace \(2\):$/m);
    expect(cover).toMatch(/^Alice \(1\):$/m);
    expect(b).toMatch(/^From: Ada Lovelace <ada@example\.org>$/m);
    expect(b).toContain('Body b.\n\nSigned-off-by: Ada Lovelace <ada@example.org>\n---\n');
    expect(c).toContain('Body c.\n\nSigned-off-by: Ada Lovelace <ada@example.org>\n---\n');
    expect(d).toMatch(/^From: Alice <alice@example\.org>$/m);
    expect(d).toContain('\nSigned-off-by: Alice <alice@example.org>\n---\n');
    // Re-exporting an unchanged branch with the same identity changes no byte.
    expect(await exportTo('out2')).toEqual(first);
  });
});

