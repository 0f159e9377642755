#!/usr/bin/env node
// qmempool-kit: one night of kernel CI for one base kernel (history, JUnit,
// KCIDB, the history page).
// Usage: npx zx scripts/nightly.mjs [options]   (see --help)
import { launch } from './lib/commands/launch.mjs';

await launch(import.meta.url, './nightlycmd.ts', 'nightlyMain');
