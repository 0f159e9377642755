import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { chartData, chartSpec, forestRows, forestSpec, renderSpecSvg, renderSvg, resultsCsv } from '../../scripts/lib/analysis/charts.ts';
import { regenerate } from '../../scripts/lib/pipeline/recorder.ts';
import { Results, type Metric } from '../../scripts/lib/analysis/results.ts';

const m = (suite: string, side: 'baseline' | 'patched', param: number, boot: number, samples: number[]): Metric => ({
  name: `${suite}/bulk_b${param}`, suite, case: `bulk_b${param}`, unit: 'ns', per: 'object', group: 'bulk', param,
  side, variant: side, backend: 'uml', flavor: 'normal', round: boot, position: 0, boot, samples,
});
const results = Results.parse({
  schemaVersion: 2, runId: 'r', class: 'ok',
  sides: [{ name: 'baseline', variant: 'baseline', cmdline: [] }, { name: 'patched', variant: 'patched', cmdline: [] }],
  boots: [], tests: [], notRun: [],
  metrics: [m('slab', 'baseline', 8, 0, [10, 11]), m('slab', 'patched', 8, 1, [10, 12]), m('qmempool', 'patched', 8, 1, [4, 5]), m('slab', 'patched', 16, 1, [9, 9.5]), m('qmempool', 'patched', 16, 1, [3, 3.5])],
});

describe('charts and CSV', () => {
  it('groups by backend and group, x by parameter, suites and sides as series', () => {
    const [c] = chartData(results);
    expect(c!.file).toBe('uml-bulk.svg');
    expect(c!.rows.map((r) => `${r.x}:${r.series}`)).toEqual(['8:qmempool · patched', '8:slab · baseline', '8:slab · patched', '16:qmempool · patched', '16:slab · patched']);
    expect(c!.rows[0]).toMatchObject({ center: 4.5, lo: 4.5, hi: 4.5, boots: 1, interval: 'range' });
  });

  it('draws each packet scenario on its own chart (ns per packet and per segment do not share an axis)', () => {
    const net = (c: string, per: string, side: 'baseline' | 'patched', boot: number, v: number): Metric => ({
      name: `net/${c}`, suite: 'net', case: c, unit: 'ns', per, group: 'net', param: 1,
      side, variant: side, backend: 'tcg', flavor: 'normal', round: boot, position: 0, boot, samples: [v],
    });
    const r = Results.parse({ ...results, metrics: [net('pktgen_drop', 'packet', 'baseline', 0, 300), net('pktgen_drop', 'packet', 'patched', 1, 290), net('tcp_stream', 'segment', 'baseline', 0, 7000)] });
    const charts = chartData(r);
    expect(charts.map((c) => [c.file, c.rows.length])).toEqual([['tcg-net_pktgen_drop.svg', 2], ['tcg-net_tcp_stream.svg', 1]]);
    expect(charts[1]!.yTitle).toMatch(/^ns per segment/);
  });

  it('renders an SVG with vega, headlessly', async () => {
    const svg = await renderSvg(chartData(results)[0]!);
    expect(svg).toMatch(/^<svg /);
    expect(svg).toContain('bulk on uml');
    expect((svg.match(/<path[^>]*aria-roledescription="bar"/g) ?? []).length + (svg.match(/role-mark[^"]*mark-rect/g) ?? []).length).toBeGreaterThan(0);
  }, 30_000);

  it('writes one CSV row per case per boot', () => {
    const lines = resultsCsv(results).trim().split('\n');
    expect(lines[0]).toBe('run,side,variant,backend,flavor,round,position,boot,suite,case,group,param,unit,per,loops,samples,median,min,max,peer');
    expect(lines).toHaveLength(6);
    expect(lines[1]).toBe('r,baseline,baseline,uml,normal,0,0,0,slab,bulk_b8,bulk,8,ns,object,,2,10.5,10,11,');
  });

  it('keeps the axis title short and the error bars visible over their bars', () => {
    const c = chartData(results)[0]!;
    expect(c.yTitle).toBe('ns per object');
    const spec = chartSpec(c) as { layer: { mark: { type: string; color?: string; opacity?: number } }[] };
    expect(spec.layer[0]!.mark).toMatchObject({ type: 'bar', opacity: 0.55 });
    expect(spec.layer[1]!.mark).toMatchObject({ type: 'errorbar', color: '#222' });
  });

  it('draws the forest plot of a recorded run: one row per comparison, threshold band, coloured by verdict', async () => {
    const { results: r } = await regenerate(join(__dirname, '..', 'fixtures', 'run-bench-uml'));
    const rows = forestRows(r);
    expect(rows).toHaveLength(12);
    const skb = rows.find((x) => x.label === 'uml · skb/alloc_free · patched vs baseline')!;
    expect(skb).toMatchObject({ panel: 'sides', verdict: 'no significant change', bandLo: 0.97, bandHi: 1.03 });
    expect(skb.ratio).toBeCloseTo(0.919, 3);
    expect(skb.lo).toBeCloseTo(0.861, 3);
    expect(rows.filter((x) => x.panel === 'peers').map((x) => x.verdict)).toEqual(['slower', 'faster', 'faster', 'faster']);
    const svg = await renderSpecSvg(forestSpec(rows));
    expect(svg).toContain('Every comparison of the run');
    expect(svg).toContain('cases against their peer in the same boot');
    expect(svg).toContain('uml · slab/pattern_n256_softirq · patched vs baseline'); // not cut short
  }, 30_000);
});
