#!/usr/bin/env node
// qmempool-kit: classify a saved guest console log offline.
// Usage: npx zx scripts/parse.mjs <console.log> [--json]
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register();
const { parseMain } = await import('./lib/parsecmd.ts');
// Under `npx zx` argv is [node, zx, script, ...]; under node, [node, script, ...].
const self = fileURLToPath(import.meta.url);
const at = process.argv.findIndex((a) => resolve(a) === self);
process.exitCode = await parseMain(process.argv.slice(at + 1));
