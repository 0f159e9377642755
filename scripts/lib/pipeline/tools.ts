/**
 * The kit's own small C programs (the guest helper qk-net, the compiler's
 * huge-page preload qk-thp), compiled once per source into
 * <work-dir>/tools/<name>-<hash of the source><suffix>: written beside
 * as .tmp and renamed into place, so a build cut short leaves nothing a
 * later run would take for finished; one build of a file at a time.
 */
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { exists, sha256, sha256File, shortHash } from '../plumbing/fsutil.ts';
import { oncePerKey } from '../plumbing/once.ts';
import { spawn } from '../plumbing/proc.ts';

export interface ToolSpec {
  readonly name: string;
  readonly source: string;
  /** Appended to the file name: `.so` for a shared library. */
  readonly suffix?: string;
  /** gcc's arguments besides `-o` and the source; `after`: those after the source (libraries). */
  readonly gccArgs: readonly string[];
  readonly after?: readonly string[];
  /** For error messages and the log: "building the guest helper qk-net (gcc -static)". */
  readonly what: string;
}

const compileOnce = oncePerKey(async (out: string, spec: ToolSpec, logFile: string): Promise<string> => {
  if (await exists(out)) return out;
  await mkdir(join(out, '..'), { recursive: true });
  await spawn('gcc', [...spec.gccArgs, '-o', `${out}.tmp`, spec.source, ...(spec.after ?? [])], { what: spec.what, logFile });
  await rename(`${out}.tmp`, out);
  return out;
});

/** The tool's path, compiled first if this source has not been. */
export async function compiledTool(workDir: string, spec: ToolSpec, logFile: string): Promise<string> {
  const out = join(workDir, 'tools', `${spec.name}-${shortHash(sha256(`${spec.name}-v1`, await sha256File(spec.source)))}${spec.suffix ?? ''}`);
  return compileOnce(out, spec, logFile);
}
