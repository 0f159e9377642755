#!/usr/bin/env node
// qmempool-kit: classify a saved guest console log offline.
// Usage: npx zx scripts/parse.mjs <console.log> [--json]
import { register } from 'tsx/esm/api';

register();
const { parseMain } = await import('./lib/parsecmd.ts');
process.exitCode = await parseMain(process.argv.slice(2));
