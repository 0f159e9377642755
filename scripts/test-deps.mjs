#!/usr/bin/env node
// qmempool-kit: install (as root on Debian) or name what `npm test` needs.
// Run by npm before `npm test` (the pretest script).
import { launch } from './lib/commands/launch.mjs';

await launch(import.meta.url, './testdeps.ts', 'main');
