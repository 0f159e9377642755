#!/usr/bin/env node
// qmempool-kit: compare two stored runs (ratios within each run side by side).
// Usage: npx zx scripts/compare.mjs RUN_A RUN_B [--metric NAME] [--threshold PCT]
import { launch } from './lib/commands/launch.mjs';

await launch(import.meta.url, './comparecmd.ts', 'compareMain');
