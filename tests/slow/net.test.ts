/**
 * The slow tier's packet load (`npm run net`): every pktgen scenario on uml
 * and tcg and the virtio floods on tcg, 8 interleaved rounds of four sides
 * (baseline, off, on, on with init_on_alloc=1), each sample proven by its
 * counters; results.json, report.md and the charts carry the figures and
 * the sides' verdicts.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { runScriptArgs, runTool } from '../integration/tool.ts';

const qk = inject('qk');


describe('packet load', () => {
  it('runs every scenario for 8 rounds on three sides and init_on_alloc, with verdicts and charts', async () => {
    const args = await runScriptArgs('net');
    const r = await runTool(qk, `slow-net-${Date.now().toString(36)}`, args);
    expect(r.exitCode, r.output.slice(-3000)).toBe(0);
    const res = await r.results();
    const sides = ['baseline', 'off', 'on', 'on_init'];
    const cases: Record<string, string[]> = {
      uml: ['pktgen_drop', 'pktgen_forward', 'pktgen_udp', 'tcp_stream'],
      tcg: ['pktgen_drop', 'pktgen_forward', 'pktgen_udp', 'tcp_stream', 'virtio_drop', 'virtio_forward'],
    };
    for (const [backend, names] of Object.entries(cases)) {
      for (const side of sides) {
        for (const c of names) {
          const rounds = res.metrics.filter((m) => m.backend === backend && m.side === side && m.case === c).map((m) => m.round);
          expect(rounds.sort(), `${backend} ${side} ${c}`).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
        }
      }
    }
    const report = await readFile(join(r.runDir, 'report.md'), 'utf8');
    for (const c of ['pktgen_drop', 'pktgen_forward']) {
      for (const backend of ['uml', 'tcg']) {
        expect(report).toMatch(new RegExp(`\\| net/${c} \\| ${backend} \\| on vs off \\| [\\d.]+ / [\\d.]+ ns \\| [\\d.]+× \\[[\\d.]+–[\\d.]+\\] [\\d.]+% \\| 8 \\| [\\d.<]+ \\| (faster|slower|no meaningful change|no significant change|inconclusive)`));
      }
    }
    const charts = await readdir(join(r.runDir, 'charts'));
    for (const c of cases['tcg']!) expect(charts).toContain(`tcg-net_${c}.svg`);
  }, 4 * 3600_000);
});
