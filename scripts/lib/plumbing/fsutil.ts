import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile, open } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { z } from 'zod';
import { QkError, type RunClass } from './errors.ts';

/** Write a file so that readers see either the old or the new content, never half. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Read a JSON file through its schema. A missing file is undefined; a file
 * that is there but is not JSON, or not what the schema says, is an error
 * naming the file (a corrupt stamp must not read as "not built yet", nor a
 * corrupt manifest as "the run left no result"). `what` names the file for
 * the message ("build stamp"); `runClass` is usage-error for files the
 * user gives, infra-error (the default) for the kit's own.
 */
export async function readJson<T>(path: string, schema: z.ZodType<T>, o: { what: string; runClass?: RunClass; hint?: string }): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new QkError(o.runClass ?? 'infra-error', `cannot read ${o.what} ${path}: ${(e as Error).message}`);
  }
  return parseJsonText(text, schema, { ...o, path });
}

/** `text` (the content of `o.path`) through JSON.parse and the schema; either failing is an error naming the file. */
export function parseJsonText<T>(text: string, schema: z.ZodType<T>, o: { path: string; what: string; runClass?: RunClass; hint?: string }): T {
  const runClass = o.runClass ?? 'infra-error';
  const hint = o.hint ?? (runClass === 'infra-error' ? `remove ${o.path}: the kit writes it again` : undefined);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new QkError(runClass, `${o.path} is corrupt: not JSON (${(e as Error).message}), so it is not a ${o.what}`, hint ? { hint } : {});
  }
  return checkJson(raw, schema, o);
}

/** A value read from `o.path` through the schema: every problem it finds, in one error naming the file. */
export function checkJson<T>(raw: unknown, schema: z.ZodType<T>, o: { path: string; what: string; runClass?: RunClass; hint?: string }): T {
  const runClass = o.runClass ?? 'infra-error';
  const hint = o.hint ?? (runClass === 'infra-error' ? `remove ${o.path}: the kit writes it again` : undefined);
  const r = schema.safeParse(raw);
  if (!r.success) throw new QkError(runClass, `${o.path} is not a ${o.what} this version reads:`, { details: z.prettifyError(r.error), ...(hint ? { hint } : {}) });
  return r.data;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export function sha256(...parts: ReadonlyArray<string | Uint8Array>): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(p);
    h.update('\0');
  }
  return h.digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve())
      .on('error', reject);
  });
  return h.digest('hex');
}

/** Copy src to dst only when the content differs, so make sees unchanged mtimes. */
export async function syncFile(src: string, dst: string): Promise<boolean> {
  const data = await readFile(src);
  try {
    const old = await readFile(dst);
    if (old.equals(data)) return false;
  } catch {
    /* missing: write it */
  }
  await mkdir(dirname(dst), { recursive: true });
  await writeFile(dst, data);
  return true;
}

export function shortHash(hex: string): string {
  return hex.slice(0, 12);
}
