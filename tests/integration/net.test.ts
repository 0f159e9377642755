/**
 * The packet scenarios' machinery on a short run (the figures need the slow
 * tier's rounds): pktgen drop, forward and UDP delivery and the TCP control
 * on the three sides, on uml and tcg, and the virtio-net floods from the
 * host on tcg; a scenario whose path is left unset fails with the reason
 * its counters give.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { runTool } from './tool.ts';

const qk = inject('qk');
let n = 0;
const tool = (name: string, args: string[]) => runTool(qk, `it-${name}-${Date.now().toString(36)}${n++}`, args);
const SHORT = ['--modules', 'none', '--boots', '1', '--net-count', '20000', '--net-samples', '2', '--net-bytes', '4194304', '--net-virtio-frames', '20000', '--net-virtio-seconds', '2', '--aa-control', 'none'];

describe('packet scenarios', () => {
  it('runs every scenario on baseline, off and on, on uml and tcg, each proven by its counters', async () => {
    const r = await tool('net', ['--backend', 'uml,tcg', '--net', 'all', '--side', 'base=baseline', '--side', 'off=patched skb_qmempool=off', '--side', 'on=patched skb_qmempool=on', ...SHORT]);
    expect(r.exitCode, r.output.slice(-3000)).toBe(0);
    const res = await r.results();
    // UML has no virtio-net: those two are skipped there, with the reason.
    expect(res.benchStatus.map((s) => `${s.backend}:${s.side}:${s.case}:${s.status}`).sort()).toEqual(
      ['base', 'off', 'on'].flatMap((side) => [`uml:${side}:virtio_drop:skip`, `uml:${side}:virtio_forward:skip`]).sort(),
    );
    expect(res.benchStatus[0]!.reason).toMatch(/no virtio-net device: QEMU backends only/);
    for (const backend of ['uml', 'tcg'] as const) {
      for (const side of ['base', 'off', 'on']) {
        const ms = res.metrics.filter((m) => m.backend === backend && m.side === side && m.suite === 'net');
        const pktgen = ['pktgen_drop', 'pktgen_forward', 'pktgen_udp', 'tcp_stream'];
        expect(ms.map((m) => m.case).sort(), `${backend} ${side}`).toEqual(backend === 'tcg' ? [...pktgen, 'virtio_drop', 'virtio_forward'] : pktgen);
        for (const m of ms) {
          expect(m.samples.length).toBe(2);
          for (const s of m.samples) expect(s).toBeGreaterThan(0);
          // The sk_buff pool as the guest found it: absent without the series, else as switched.
          expect((m.guest?.['pool'] as { state?: string }).state, `${backend} ${side} ${m.case}`).toBe(side === 'base' ? 'absent' : side);
        }
        const counters = (c: string) => ms.find((m) => m.case === c)!.guest!['counters'] as Record<string, number>[];
        for (const c of counters('pktgen_drop')) expect(c['raw_drop']).toBe(20000);
        for (const c of counters('pktgen_forward')) {
          expect(c['ip_forwarded']).toBe(20000);
          expect(c['dummy1_tx']).toBeGreaterThanOrEqual(20000);
        }
        for (const c of counters('pktgen_udp')) {
          expect(c['udp_delivered']! + c['udp_in_errors']!).toBe(20000);
          expect(c['udp_rcvbuf_errors']!).toBeLessThanOrEqual(c['udp_in_errors']!);
        }
        for (const c of counters('tcp_stream')) expect(c['tcp_out_segments']).toBeGreaterThan(4194304 / 1500);
        if (backend !== 'tcg') continue;
        // Each step of the flood is counted: sent by the host, dropped at QEMU's socket, received, taken the path.
        for (const [c, path] of [['virtio_drop', 'drop'], ['virtio_forward', 'forward']] as const) {
          for (const x of counters(c)) {
            expect(x['host_sent']).toBe(20000);
            expect(x['host_frames']).toBe(20008); // and the start and last markers
            // What did not reach the guest is split between QEMU's socket and QEMU itself: whole frames, each part at most all the lost ones.
            const lost = 20008 - x['guest_frames']!;
            for (const k of ['qemu_socket_drops', 'lost_in_qemu']) {
              expect(Number.isInteger(x[k]), k).toBe(true);
              expect(x[k], k).toBeGreaterThanOrEqual(0);
              expect(x[k], k).toBeLessThanOrEqual(lost);
            }
            expect(x['qemu_socket_drops']! + x['lost_in_qemu']!).toBe(lost);
            expect(x['guest_rx']).toBeGreaterThan(0);
            expect(x[path]).toBe(x['guest_rx']);
          }
        }
      }
    }
    const report = await readFile(join(r.runDir, 'report.md'), 'utf8');
    expect(report).toMatch(/## Packet scenarios/);
    expect(report).toMatch(/\| net\/pktgen_drop \| tcg \| on \| [\d.]+ packet \| [\d,]+ \| 1 × 2 \| raw_drop 40000 \| \d+ \| on \|/);
    expect(report).toMatch(/\| net\/pktgen_forward \| uml \| on vs off \|/);
    expect(report).toMatch(/pktgen settings: `\{"xmit_mode":"netif_receive".*"clone_skb":0,"burst":1/);
  }, 1800_000);

  it('fails a scenario whose packets did not take its path, naming the counter, exit 1', async () => {
    const r = await tool('net-break', ['--backend', 'uml', '--variants', 'baseline', '--net', 'drop,forward', '--net-break', 'drop', ...SHORT]);
    expect(r.exitCode, r.output.slice(-3000)).toBe(1);
    const res = await r.results();
    expect(res.boots.map((b) => b.class)).toEqual(['test-failure']);
    expect(res.boots[0]!.reason).toContain('net/pktgen_drop: sample 1: the raw-table DROP rule counted 0 of 20000 packets');
    expect(res.benchStatus.map((s) => [s.case, s.status])).toEqual([['pktgen_drop', 'error']]);
    // The other scenario still ran and passed its own check.
    expect(res.metrics.map((m) => m.case)).toEqual(['pktgen_forward']);
  }, 900_000);
});
