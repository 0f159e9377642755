#!/usr/bin/env node
// qmempool-kit: classify a saved guest console log offline.
// Usage: npx zx scripts/parse.mjs <console.log> [--json]
import { launch } from './lib/commands/launch.mjs';

await launch(import.meta.url, './parsecmd.ts', 'parseMain');
