/**
 * Sides across bases: within a base every pair is compared; across bases
 * only the same tree with the same arguments, so a six-side run of two
 * bases makes 9 comparisons per case, not 15. And, on the same six-side
 * run, the per-boot spread report.md shows for every figure.
 */
import { describe, expect, it } from 'vitest';
import { comparable, judged, sideComparisons } from '../../scripts/lib/analysis/bench.ts';
import { Results, type Metric } from '../../scripts/lib/analysis/results.ts';

const SIDES: { name: string; variant: 'baseline' | 'patched'; cmdline: string[]; base?: string }[] = [
  { name: 'b612', variant: 'baseline', cmdline: [] },
  { name: 'off612', variant: 'patched', cmdline: ['skb_qmempool=off'] },
  { name: 'on612', variant: 'patched', cmdline: ['skb_qmempool=on'] },
  { name: 'b73', variant: 'baseline', cmdline: [], base: 'debian:7.3' },
  { name: 'off73', variant: 'patched', cmdline: ['skb_qmempool=off'], base: 'debian:7.3' },
  { name: 'on73', variant: 'patched', cmdline: ['skb_qmempool=on'], base: 'debian:7.3' },
];

function run(): Results {
  const metrics: Metric[] = [];
  let boot = 0;
  for (let round = 0; round < 8; round++) {
    for (const s of SIDES) {
      boot++;
      const v = 10 * (s.base ? 0.5 : 1) * (1 + 0.01 * ((round * 7 + boot) % 5));
      metrics.push({ name: 'slab/reuse', suite: 'slab', case: 'reuse', unit: 'ns', side: s.name, variant: s.variant, backend: 'uml', flavor: 'normal', round, position: 0, boot, samples: [v] });
    }
  }
  return Results.parse({ schemaVersion: 2, runId: 'x', class: 'ok', boots: [], tests: [], notRun: [], metrics, sides: SIDES });
}

describe('comparisons across bases', () => {
  it('pairs every side of one base, and across bases only the same kernel tree and arguments', () => {
    const r = run();
    expect(comparable(r, 'b612', 'on612')).toBe(true);
    expect(comparable(r, 'b612', 'b73')).toBe(true);
    expect(comparable(r, 'on612', 'on73')).toBe(true);
    expect(comparable(r, 'off612', 'on73')).toBe(false); // same tree, other arguments
    expect(comparable(r, 'b612', 'on73')).toBe(false);
    const pairs = sideComparisons(r).map((c) => `${c.side}/${c.ref}`);
    expect(pairs.sort()).toEqual(['b73/b612', 'off612/b612', 'off73/b73', 'off73/off612', 'on612/b612', 'on612/off612', 'on73/b73', 'on73/off73', 'on73/on612'].sort());
    // The family holds only those 9 tests: 7.3's half-cost sides are faster in all three cross-base pairs.
    const j = judged(r);
    expect(j.families.find((f) => f.kind === 'comparisons')!.tests).toBe(9);
    expect(sideComparisons(r).filter((c) => c.ref.endsWith('612') && c.side.endsWith('73')).map((c) => c.stat.verdict)).toEqual(['faster', 'faster', 'faster']);
  });
});

describe('per-boot spread in "Every figure"', () => {
  it('is max ÷ min of the per-boot medians, marked above 1.15', async () => {
    const { bootSpread, BOOT_SPREAD_WARN } = await import('../../scripts/lib/analysis/benchreport.ts');
    const { renderReport } = await import('../../scripts/lib/analysis/report.ts');
    expect(bootSpread([16, 16.5, 27, 21])).toBeCloseTo(27 / 16, 12);
    expect(bootSpread([5])).toBeUndefined();
    expect(BOOT_SPREAD_WARN).toBe(1.15);
    const md = renderReport(run(), { startedAt: 'now' });
    // b612: 10 × (1.00 … 1.04) over its 8 boots; the 7.3 sides the same at half: steady, no mark.
    const figureRow = (text: string) => text.slice(text.indexOf('## Every figure')).split('\n').find((l) => l.startsWith('| slab/reuse | uml |'))!;
    const row = figureRow(md);
    expect(row).toMatch(/8×1, per boot ×1\.04 \|/);
    expect(row).not.toContain('⚠');
    // A bimodal peer: one boot of b612 at 17 ns against 10.1–10.4 in the others (the first column).
    const r = run();
    const bimodal = Results.parse({ ...r, metrics: r.metrics.map((m) => (m.side === 'b612' && m.round === 3 ? { ...m, samples: [17] } : m)) });
    expect(figureRow(renderReport(bimodal, { startedAt: 'now' }))).toMatch(/^\| slab\/reuse \| uml \| ns \| [^|]*per boot ×1\.68 ⚠ \|/);
  });
});

describe('the report header', () => {
  it('says when QEMU guests had NUMA nodes, and says nothing for one', async () => {
    const { renderReport } = await import('../../scripts/lib/analysis/report.ts');
    const { reportContext } = await import('../../scripts/lib/pipeline/recorder.ts');
    const ctx = (options: Record<string, unknown>, variants: Record<string, unknown> = {}) => reportContext({ startedAt: 'now', reproduce: 'x', options, variants } as unknown as Parameters<typeof reportContext>[0]);
    expect(renderReport(run(), ctx({ numaNodes: 2 }))).toContain('- QEMU guests: 2 NUMA nodes');
    expect(renderReport(run(), ctx({}))).not.toContain('NUMA');
    // Each kernel's profile, the options the series feels that are on, and Debian's config.
    const build = { configHash: 'c', optionsSet: 1, buildKey: 'k', image: 'i', modules: [], kunitModules: [] };
    const md = renderReport(run(), ctx({}, {
      baseline: { builds: { x86_64: { ...build, profile: 'distro', seriesOptions: { SLAB_FREELIST_HARDENED: 'y', HZ: '250', KFENCE: 'n' }, distro: { file: 'config.amd64_none_cloud-amd64', package: { name: 'linux-config-7.3', version: '7.3.4-1', suite: 's', sha256: 'h' }, changes: ['a', 'b'] } } } },
      patched: { builds: { um: { ...build, profile: 'rt', seriesOptions: { NUMA: 'n' }, cannotHave: { options: ['CONFIG_IP_NF_RAW'], why: 'no iptables' } } } },
      old: { builds: { um: build } },
    }));
    expect(md).toContain('| baseline/x86_64 | distro | SLAB_FREELIST_HARDENED HZ=250 | config.amd64_none_cloud-amd64 (linux-config-7.3 7.3.4-1), 2 built-in option(s) differ |');
    expect(md).toContain('| patched/um | rt | – | – |');
    expect(md).toContain('patched/um is built without CONFIG_IP_NF_RAW: no iptables.');
    // A build recorded before the options were (an old manifest) has no row.
    expect(md).not.toContain('| old/um |');
  });
});
