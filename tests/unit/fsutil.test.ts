import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readJson } from '../../scripts/lib/plumbing/fsutil.ts';
import { QkError, formatError } from '../../scripts/lib/plumbing/errors.ts';
import { readManifest } from '../../scripts/lib/pipeline/recorder.ts';
import { useTempDir } from './tempdir.ts';

const Stamp = z.object({ key: z.string(), steps: z.number() });

async function failure(p: Promise<unknown>): Promise<QkError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(QkError);
  return e as QkError;
}

describe('readJson', () => {
  const dir = useTempDir('qk-fsutil-');

  it('reads a file through its schema; a missing file is undefined', async () => {
    const f = join(dir(), 'stamp.json');
    expect(await readJson(f, Stamp, { what: 'build stamp' })).toBeUndefined();
    await writeFile(f, '{"key": "abc", "steps": 3}');
    expect(await readJson(f, Stamp, { what: 'build stamp' })).toEqual({ key: 'abc', steps: 3 });
  });

  it('calls a file that is not JSON corrupt, naming it, and says what to do', async () => {
    const f = join(dir(), 'stamp.json');
    await writeFile(f, '{"key": "ab');
    const e = await failure(readJson(f, Stamp, { what: 'build stamp' }));
    expect(e.runClass).toBe('infra-error');
    expect(e.message).toContain(`${f} is corrupt: not JSON`);
    expect(e.hint).toBe(`remove ${f}: the kit writes it again`);
  });

  it('lists every field the schema refuses, not only the first', async () => {
    const f = join(dir(), 'stamp.json');
    await writeFile(f, '{"key": 1}');
    const e = await failure(readJson(f, Stamp, { what: 'build stamp', runClass: 'usage-error' }));
    expect(e.runClass).toBe('usage-error');
    const text = formatError(e);
    expect(text).toContain(`${f} is not a build stamp this version reads:`);
    expect(text).toMatch(/expected string, received number\n\s+→ at key/);
    expect(text).toMatch(/expected number, received undefined\n\s+→ at steps/);
  });

  it("reads a run's manifest.json through the Manifest schema", async () => {
    expect(await readManifest(dir())).toBeUndefined();
    await writeFile(join(dir(), 'manifest.json'), '{"schemaVersion": 2, "runId": "x"}');
    const e = await failure(readManifest(dir()));
    expect(formatError(e)).toMatch(/manifest\.json is not a manifest\.json of a run this version reads:[\s\S]*→ at state/);
  });
});
