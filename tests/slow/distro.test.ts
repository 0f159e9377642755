/**
 * The slow tier's distribution kernels (issue 24): Debian's own 7.3 config
 * built with the series and booted on a two-node QEMU guest. The baseline
 * alone compiles about 2700 objects (38 minutes on 2 cores with a cold
 * ccache), which is why it lives here and not in `npm test`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { runTool } from '../integration/tool.ts';
import { cleanKunitConsoles } from './kunitboots.ts';

const qk = inject('qk');
const tool = (name: string, args: string[]) => runTool(qk, `slow-${name}-${Date.now().toString(36)}`, args);

describe("kernels as Debian builds them", () => {
  it("builds 7.3 from Debian's cloud config, boots it on two NUMA nodes and runs the series' suites there", async () => {
    const r = await tool('distro73', ['--source', 'debian:7.3', '--config-profile', 'distro', '--backend', 'tcg', '--smp', '2', '--numa', '2', '--memory', '2048', '--boots', '1']);
    expect(r.exitCode, r.output.slice(-3000)).toBe(0);
    const m = await r.manifest();
    const patched = m.variants['patched']?.builds['x86_64'];
    expect(patched?.profile).toBe('distro');
    expect(patched?.distro?.file).toBe('config.amd64_none_cloud-amd64');
    // The options that change the pool's fast path are on, as Debian has them.
    for (const o of ['SLAB_FREELIST_HARDENED', 'INIT_ON_ALLOC_DEFAULT_ON', 'KFENCE', 'MEMCG', 'NUMA']) expect(patched?.seriesOptions?.[o], o).toBe('y');
    const res = await r.results();
    // The guest has two nodes: init counts them and the kernel sets both up.
    for (const lines of await cleanKunitConsoles(r.runDir, res, 'patched')) {
      const c = lines.join('\n');
      expect(c).toMatch(/Initmem setup node 1/);
      expect(c).toMatch(/QK-INFO .*"nodes":2/);
    }
    const report = await readFile(join(r.runDir, 'report.md'), 'utf8');
    expect(report).toMatch(/\| patched\/x86_64 \| distro \|/);
  });
});
