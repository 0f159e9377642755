#!/usr/bin/env node
// qmempool-kit: build, boot and measure baseline vs patched kernels.
// Usage: npx zx scripts/run.mjs [options]   (see --help)
// The work is in scripts/lib/*.ts, loaded through tsx.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./lib/cli.ts');
process.exitCode = await main(process.argv.slice(2));
