#!/usr/bin/env node
// qmempool-kit: build, boot and measure baseline vs patched kernels.
// Usage: npx zx scripts/run.mjs [options]   (see --help)
import { launch } from './lib/commands/launch.mjs';

await launch(import.meta.url, './cli.ts', 'main');
