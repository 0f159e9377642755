#!/usr/bin/env node
// qmempool-kit: submit nights' kcidb.json to KernelCI's KCIDB when KCIDB_REST
// (and KCIDB_TOKEN) are set; otherwise say it skipped.
// Usage: npx zx scripts/kcidb-submit.mjs KCIDB.JSON...
import { launch } from './lib/commands/launch.mjs';

await launch(import.meta.url, './kcidbsubmitcmd.ts', 'kcidbSubmitMain');
