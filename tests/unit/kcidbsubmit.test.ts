/**
 * KCIDB submission against a local HTTP server on 127.0.0.1 (never the
 * real service): the request's method, path, headers and body, a retry on
 * 5xx, a clear error on 4xx, and "skipped" when nothing is configured.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { QkError } from '../../scripts/lib/plumbing/errors.ts';
import { toKcidb } from '../../scripts/lib/ci/kcidb.ts';
import { kcidbTarget, submitKcidb } from '../../scripts/lib/ci/kcidbsubmit.ts';
import { kcidbSubmitMain } from '../../scripts/lib/commands/kcidbsubmitcmd.ts';
import { captureLogger } from '../../scripts/lib/plumbing/log.ts';
import { Night } from '../../scripts/lib/ci/night.ts';
import { useTempDir } from './tempdir.ts';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'night-debian-6.12.json');
const data = () => toKcidb(Night.parse(JSON.parse(readFileSync(FIXTURE, 'utf8'))), { origin: 'qmempool_kit' });
const TOKEN = 'tok.en-123';

interface Seen { method: string; url: string; headers: IncomingMessage['headers']; body: string }
let server: Server | undefined;
/** A server answering each request with the next of `answers` (the last repeats); every request is kept. */
async function serve(answers: ReadonlyArray<[number, string]>): Promise<{ base: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const [status, text] = answers[Math.min(seen.length - 1, answers.length - 1)]!;
      res.writeHead(status, { 'Content-Type': 'text/plain' }).end(text);
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, seen };
}
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});
const FAST = { retryDelaysMs: [10, 10] };

describe('KCIDB submission', () => {
  const tmp = useTempDir('qk-kcidb-');

  it('POSTs the data to <endpoint>/submit with the token as a Bearer header and JSON as the body', async () => {
    const { base, seen } = await serve([[200, 'wvTu6myNQOlM7IEWhHJz']]);
    const target = kcidbTarget({ KCIDB_REST: base.replace('http://', `http://${TOKEN}@`) })!;
    expect(target.url).toBe(`${base}submit`);
    expect(target.url).not.toContain(TOKEN);
    expect(await submitKcidb(data(), target, FAST)).toBe('wvTu6myNQOlM7IEWhHJz');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/submit' });
    expect(seen[0]!.headers['authorization']).toBe(`Bearer ${TOKEN}`);
    expect(seen[0]!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(seen[0]!.body)).toEqual(JSON.parse(JSON.stringify(data())));
  });

  it('tries again on 5xx and succeeds', async () => {
    const { base, seen } = await serve([[503, 'restarting'], [502, ''], [200, 'id-1']]);
    const log = captureLogger();
    expect(await submitKcidb(data(), { url: `${base}submit`, token: TOKEN }, { ...FAST, log })).toBe('id-1');
    expect(seen).toHaveLength(3);
    expect(log.lines[0]).toMatch(/answered 503 Service Unavailable: restarting; trying again/);
  });

  it('gives up after the retries with an infra error that says how to submit later', async () => {
    const { base, seen } = await serve([[500, 'boom']]);
    const err = await submitKcidb(data(), { url: `${base}submit`, token: TOKEN }, FAST).catch((e: unknown) => e);
    expect(seen).toHaveLength(3);
    expect(err).toBeInstanceOf(QkError);
    expect((err as QkError).runClass).toBe('infra-error');
    expect((err as QkError).message).toMatch(/failed after 3 attempts: .* answered 500 Internal Server Error: boom/);
    expect((err as QkError).hint).toMatch(/kcidb-submit\.mjs/);
  });

  it('reports a 4xx at once, with the service answer, and never retries it', async () => {
    const { base, seen } = await serve([[401, 'invalid token']]);
    const err = await submitKcidb(data(), { url: `${base}submit`, token: TOKEN }, FAST).catch((e: unknown) => e);
    expect(seen).toHaveLength(1);
    expect(err).toBeInstanceOf(QkError);
    expect((err as QkError).exitCode).toBe(2);
    expect((err as QkError).message).toBe(`KCIDB refused the submission: ${base}submit answered 401 Unauthorized: invalid token`);
    expect((err as QkError).hint).toMatch(/token was refused/);
    const bad = await serve([[400, 'schema: missing version']]);
    await expect(submitKcidb(data(), { url: `${bad.base}submit`, token: TOKEN }, FAST)).rejects.toThrow(/400 Bad Request: schema: missing version/);
  });

  it('reads its target from KCIDB_REST (token in the URL or in KCIDB_TOKEN), https only', () => {
    expect(kcidbTarget({})).toBeUndefined();
    expect(kcidbTarget({ KCIDB_REST: 'https://abc@db.example.org/' })).toEqual({ url: 'https://db.example.org/submit', token: 'abc' });
    expect(kcidbTarget({ KCIDB_REST: 'https://db.example.org', KCIDB_TOKEN: 'xyz' })).toEqual({ url: 'https://db.example.org/submit', token: 'xyz' });
    expect(() => kcidbTarget({ KCIDB_REST: 'https://db.example.org/' })).toThrow(/carries no token/);
    expect(() => kcidbTarget({ KCIDB_REST: 'http://abc@db.example.org/' })).toThrow(/must be an https:\/\/ URL/);
    expect(() => kcidbTarget({ KCIDB_TOKEN: 'xyz' })).toThrow(/KCIDB_REST .* is not/);
  });

  it('the command: skipped without configuration, submits valid files, refuses invalid ones before sending', async () => {
    const file = join(tmp(), 'kcidb.json');
    await writeFile(file, JSON.stringify(data()));
    const log = captureLogger();
    expect(await kcidbSubmitMain([file], {}, { log })).toBe(0);
    expect(log.lines).toEqual(['KCIDB submission skipped: KCIDB_REST is not set (1 file(s) not sent)']);
    const { base, seen } = await serve([[200, 'id-7']]);
    const env = { KCIDB_REST: base, KCIDB_TOKEN: TOKEN };
    expect(await kcidbSubmitMain([file], env, { ...FAST, log })).toBe(0);
    expect(log.lines.at(-1)).toBe(`KCIDB: submitted ${file} to ${base}submit (submission id-7)`);
    const invalid = join(tmp(), 'bad.json');
    await writeFile(invalid, JSON.stringify({ version: { major: 4 } }));
    expect(await kcidbSubmitMain([invalid], env, { ...FAST, log })).toBe(2);
    expect(seen).toHaveLength(1);
  });
});
