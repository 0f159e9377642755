import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bootCommand } from '../../scripts/lib/pipeline/boot.ts';
import { floodArgs, freeUdpPorts, netCmdline, NET_DEFAULTS, VirtioHost, virtioQemuArgs, wantsVirtio } from '../../scripts/lib/pipeline/net.ts';
import type { ImageResult } from '../../scripts/lib/pipeline/image.ts';
import { useTempDir } from './tempdir.ts';

const image: ImageResult = { kind: 'initramfs', path: '/img/initramfs.cpio', init: '/init', moduleDir: '/qk/modules', key: 'k', cached: true };
const spec = (scenarios: string[]) => ({ ...NET_DEFAULTS, scenarios: scenarios as never });
const request = { run: 'r', variant: 'baseline', backend: 'tcg', modules: [] } as const;
const guestLine = { flood: 'virtio_drop', sample: 1, count: 20000, max_seconds: 2, src_mac: '52:54:00:00:00:01', dst_mac: '52:54:00:12:34:56', src: '203.0.113.7', dst: '10.99.1.1', port: 9, ctrl: '10.99.1.1', ctrl_port: 7 };

describe('packet scenarios: what the guest is asked', () => {
  const tmp = useTempDir('qk-net-');

  it('passes the virtio flood size only when a virtio scenario runs', () => {
    expect(netCmdline(spec(['drop']))).toEqual(['qk_net=drop', 'qk_net_count=100000', 'qk_net_samples=5', `qk_net_bytes=${128 << 20}`]);
    expect(netCmdline(spec(['drop', 'virtio_forward']))).toContain('qk_net_vcount=200000');
    expect(wantsVirtio(spec(['tcp']))).toBe(false);
    expect(wantsVirtio(undefined)).toBe(false);
  });

  it('gives QEMU a virtio-net NIC on loopback UDP ports, and UML nothing', () => {
    const ports = { qemu: 40001, host: 40002 };
    const args = bootCommand({ backend: 'tcg', kernel: '/k', image, smp: 2, memoryMB: 1024, guest: { ...request, net: spec(['virtio_drop']) }, extraCmdline: [], tcgThreads: 'single', virtioPorts: ports }).args;
    expect(args.slice(-4)).toEqual(virtioQemuArgs(ports));
    expect(args.join(' ')).toContain('dgram,id=qknet,local.type=inet,local.host=127.0.0.1,local.port=40001,remote.type=inet,remote.host=127.0.0.1,remote.port=40002');
    expect(args.join(' ')).toContain('virtio-net-pci,netdev=qknet,mac=52:54:00:12:34:56,romfile=');
    const uml = bootCommand({ backend: 'uml', kernel: '/k', image: { ...image, kind: 'hostfs', init: '/i/init' }, smp: 1, memoryMB: 512, guest: { ...request, backend: 'uml', net: spec(['virtio_drop']) }, extraCmdline: [], tcgThreads: 'single' });
    expect(uml.args.join(' ')).not.toContain('netdev');
  });

  it('turns a guest\'s flood request into the helper\'s arguments, and refuses anything else', () => {
    const ports = { qemu: 40001, host: 40002 };
    expect(floodArgs(guestLine, ports)).toEqual(['flood', '40001', '40002', '20000', '2', '52:54:00:00:00:01', '52:54:00:12:34:56', '203.0.113.7', '10.99.1.1', '9', '10.99.1.1', '7']);
    for (const bad of [{ count: -1 }, { count: 1e9 }, { max_seconds: 0 }, { src_mac: '52:54:00;rm -rf' }, { dst: '10.99.1.1 --x' }, { port: '9' }, { ctrl_port: 70000 }]) {
      expect(floodArgs({ ...guestLine, ...bad }, ports), JSON.stringify(bad)).toBeUndefined();
    }
  });

  it('finds two distinct free loopback ports', async () => {
    const p = await freeUdpPorts();
    expect(p.qemu).not.toBe(p.host);
    expect(p.qemu).toBeGreaterThan(0);
  });

  it('logs a malformed request instead of running the helper', async () => {
    const log = join(tmp(), 'host.log');
    const h = new VirtioHost('/nonexistent/qk-net', { qemu: 1, host: 2 }, log);
    h.request({ ...guestLine, count: 'lots' });
    await h.stop();
    expect(await readFile(log, 'utf8')).toMatch(/^malformed flood request, ignored: /);
  });
});
