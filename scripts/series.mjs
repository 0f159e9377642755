#!/usr/bin/env node
// qmempool-kit: edit, export and check the kernel patch series.
// Usage: npx zx scripts/series.mjs edit|export|check [options]
import { launch } from './lib/commands/launch.mjs';

await launch(import.meta.url, './seriescmd.ts', 'seriesMain');
