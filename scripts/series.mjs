#!/usr/bin/env node
// qmempool-kit: edit, export and check the kernel patch series.
// Usage: npx zx scripts/series.mjs edit|export|check [options]
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register();
const { seriesMain } = await import('./lib/seriescmd.ts');
// Under `npx zx` argv is [node, zx, script, ...]; under node, [node, script, ...].
const self = fileURLToPath(import.meta.url);
const at = process.argv.findIndex((a) => resolve(a) === self);
process.exitCode = await seriesMain(process.argv.slice(at + 1));
