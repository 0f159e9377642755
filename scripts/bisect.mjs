#!/usr/bin/env node
// qmempool-kit: find the kernel commit or the patch of the series that broke
// a criterion or moved a benchmark figure.
// Usage: npx zx scripts/bisect.mjs kernel|series [options]   (see --help)
import { launch } from './lib/commands/launch.mjs';

await launch(import.meta.url, './bisectcmd.ts', 'bisectMain');
