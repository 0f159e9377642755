import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile, open } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

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

export async function readJson<T = unknown>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
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
