// Shared start of the entry points (run.mjs, parse.mjs, series.mjs): load
// TypeScript through tsx, call the command's main with its own arguments,
// and set the exit code. Under `npx zx` argv is [node, zx, script, ...];
// under node, [node, script, ...]: the script finds itself in argv.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register();

export async function launch(scriptUrl, modulePath, exportName) {
  const mod = await import(modulePath);
  const self = fileURLToPath(scriptUrl);
  const at = process.argv.findIndex((a) => resolve(a) === self);
  process.exitCode = await mod[exportName](process.argv.slice(at + 1));
}
