#!/usr/bin/env node
// qmempool-kit: build, boot and measure baseline vs patched kernels.
// Usage: npx zx scripts/run.mjs [options]   (see --help)
// The work is in scripts/lib/*.ts, loaded through tsx.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./lib/cli.ts');
// Under `npx zx` argv is [node, zx, script, ...]; under node, [node, script, ...].
const self = fileURLToPath(import.meta.url);
const at = process.argv.findIndex((a) => resolve(a) === self);
process.exitCode = await main(process.argv.slice(at + 1));
