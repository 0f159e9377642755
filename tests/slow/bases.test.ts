/**
 * The slow tier's newer bases: Linux 7.3 from the Debian registry built and
 * booted on uml and tcg, and the README's cross-base run (`npm run bases`:
 * 6.12's SLUB against 7.3's sheaves, paired by round). Each builds two
 * more kernels per arch (about 20 minutes cold on 2 cores), which is why
 * they live here and not in `npm test`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { runScriptArgs, runTool } from '../integration/tool.ts';

const qk = inject('qk');
const tool = (name: string, args: string[]) => runTool(qk, `slow-${name}-${Date.now().toString(36)}`, args);
/** The cases the cross-base comparison reports (7.3 ÷ 6.12). */
const CASES = ['slab/reuse', 'slab/reuse_softirq', 'slab/pattern_n256', 'slab/bulk_b16', 'skb/alloc_free', 'skb/napi_alloc_consume', 'net/pktgen_drop', 'net/pktgen_forward'];

describe('bases newer than 6.12', () => {
  it('builds and boots Linux 7.3 from the Debian registry on uml and tcg, recording the package', async () => {
    const r = await tool('debian73', ['--source', 'debian:7.3', '--variants', 'baseline', '--backend', 'uml,tcg', '--boots', '1']);
    expect(r.exitCode, r.output.slice(-3000)).toBe(0);
    const m = await r.manifest();
    expect(m.source?.version).toMatch(/^7\.3\./);
    expect(m.source?.package).toMatchObject({ name: 'linux-source-7.3', version: expect.stringMatching(/^7\.3\./), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const res = await r.results();
    for (const backend of ['uml', 'tcg']) expect(res.metrics.some((x) => x.backend === backend && x.name === 'slab/reuse'), backend).toBe(true);
  });

  it('compares 6.12 with 7.3 in one run, paired by round (npm run bases)', async () => {
    const args = await runScriptArgs('bases');
    expect(args).toEqual(expect.arrayContaining(['--side', 's612=baseline', 's73=baseline@debian:7.3']));
    const r = await tool('bases', args);
    expect(r.exitCode, r.output.slice(-3000)).toBe(0);
    const m = await r.manifest();
    expect(m.source?.version).toMatch(/^6\.12\./);
    expect(m.bases?.['debian:7.3']?.version).toMatch(/^7\.3\./);
    expect(Object.keys(m.variants).sort()).toEqual(['baseline', 'baseline@debian:7.3']);
    const res = await r.results();
    for (const backend of ['uml', 'tcg']) {
      for (const name of CASES) {
        const c = res.comparisons.find((x) => x.backend === backend && x.name === name && x.ref === 's612' && x.side === 's73');
        expect(c, `${name} on ${backend}`).toBeDefined();
        expect(c!.n, `${name} on ${backend}`).toBe(8);
      }
    }
    const report = await readFile(join(r.runDir, 'report.md'), 'utf8');
    expect(report).toMatch(/\| s73 \| baseline \| debian:7\.3 \|/);
  });
});
