/**
 * Packet scenarios: what the guest runs (qemu/net/net.sh, with pktgen and
 * the dummy driver from the kernel's own build, qk_skbpool.ko from module/
 * and the qk-net helper built here), and how a run asks for them (qk_net*
 * parameters on the kernel command line).
 */
import { createSocket } from 'node:dgram';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { QkError } from '../plumbing/errors.ts';
import { REPO_ROOT } from '../plumbing/paths.ts';
import { compiledTool } from './tools.ts';

export const NET_DIR = join(REPO_ROOT, 'qemu', 'net');
export const NET_SCRIPT = join(NET_DIR, 'net.sh');
const QK_NET_SOURCE = join(NET_DIR, 'qk-net.c');

/**
 * pktgen into dummy0: dropped in the raw table, forwarded, delivered to UDP;
 * the TCP control; a UDP flood from the host through virtio-net (QEMU only),
 * dropped or forwarded.
 */
export const NET_SCENARIOS = ['drop', 'forward', 'udp', 'tcp', 'virtio_drop', 'virtio_forward'] as const;
export type NetScenario = (typeof NET_SCENARIOS)[number];

/** The kernel's own modules the scenarios load (CONFIG_NET_PKTGEN=m, CONFIG_DUMMY=m in common.config). */
export const NET_KERNEL_MODULES = ['pktgen', 'dummy'] as const;

export interface NetSpec {
  readonly scenarios: readonly NetScenario[];
  /** pktgen packets per sample. */
  readonly count: number;
  /** Samples per scenario and boot. */
  readonly samples: number;
  /** Bytes per TCP sample. */
  readonly bytes: number;
  /** Frames per virtio flood, and at most this many seconds of it. */
  readonly vframes: number;
  readonly vseconds: number;
  /** Leave this scenario's path unset, to check that its check fails. */
  readonly break?: NetScenario;
}

export const NET_DEFAULTS = { count: 100_000, samples: 5, bytes: 128 << 20, vframes: 200_000, vseconds: 5 } as const;

/** The qk_net* words of the kernel command line. */
export function netCmdline(n: NetSpec): string[] {
  if (n.scenarios.length === 0) return [];
  return [
    `qk_net=${n.scenarios.join(',')}`,
    `qk_net_count=${n.count}`,
    `qk_net_samples=${n.samples}`,
    `qk_net_bytes=${n.bytes}`,
    ...(wantsVirtio(n) ? [`qk_net_vcount=${n.vframes}`, `qk_net_vseconds=${n.vseconds}`] : []),
    ...(n.break ? [`qk_net_break=${n.break}`] : []),
  ];
}

/**
 * The guest's helper (UDP sink, TCP stream, clock), linked statically so
 * that it runs in the initramfs and in UML alike; built once per source
 * (tools.ts; kernels of a run finish side by side and share the build).
 */
export async function buildQkNet(workDir: string, logFile: string): Promise<string> {
  try {
    return await compiledTool(workDir, { name: 'qk-net', source: QK_NET_SOURCE, gccArgs: ['-O2', '-Wall', '-Wextra', '-Werror', '-static'], what: 'building the guest helper qk-net (gcc -static)' }, logFile);
  } catch (e) {
    throw new QkError('missing-dependency', `cannot build the guest helper ${QK_NET_SOURCE} statically`, {
      hint: 'it needs gcc and the static C library: apt-get install gcc libc6-dev',
      logFile,
      cause: e,
    });
  }
}

/* ---- virtio-net floods from the host ------------------------------------ */

/** QEMU's -netdev dgram socket and ours: both on 127.0.0.1, nothing leaves the host. */
export interface VirtioPorts {
  readonly qemu: number;
  readonly host: number;
}

/** The guest's virtio-net MAC (net.sh expects it). */
export const VIRTIO_GUEST_MAC = '52:54:00:12:34:56';

export function wantsVirtio(n: NetSpec | undefined): boolean {
  return n?.scenarios.some((s) => s.startsWith('virtio_')) ?? false;
}

/** QEMU arguments for a virtio-net NIC on a UDP socket pair bound to loopback. */
export function virtioQemuArgs(p: VirtioPorts): string[] {
  return [
    '-netdev', `dgram,id=qknet,local.type=inet,local.host=127.0.0.1,local.port=${p.qemu},remote.type=inet,remote.host=127.0.0.1,remote.port=${p.host}`,
    // No option ROM: the kernel is booted directly, and iPXE need not be installed.
    '-device', `virtio-net-pci,netdev=qknet,mac=${VIRTIO_GUEST_MAC},romfile=`,
  ];
}

/** Two free UDP ports on 127.0.0.1 (bound and released: another process could take one meanwhile, then QEMU says so). */
export async function freeUdpPorts(): Promise<VirtioPorts> {
  const one = () =>
    new Promise<number>((resolve, reject) => {
      const s = createSocket('udp4');
      s.once('error', reject);
      s.bind(0, '127.0.0.1', () => {
        const port = s.address().port;
        s.close(() => resolve(port));
      });
    });
  const qemu = await one();
  let host = await one();
  while (host === qemu) host = await one();
  return { qemu, host };
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const IP_RE = /^\d{1,3}(\.\d{1,3}){3}$/;

/** The flood a guest's QK-NET line asks for, checked field by field; undefined if malformed. */
export function floodArgs(d: Record<string, unknown>, p: VirtioPorts): string[] | undefined {
  const int = (v: unknown, max: number) => (typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= max ? String(v) : undefined);
  const str = (v: unknown, re: RegExp) => (typeof v === 'string' && re.test(v) ? v : undefined);
  const f = [int(d['count'], 100_000_000), int(d['max_seconds'], 600), str(d['src_mac'], MAC_RE), str(d['dst_mac'], MAC_RE), str(d['src'], IP_RE), str(d['dst'], IP_RE), int(d['port'], 65535), str(d['ctrl'], IP_RE), int(d['ctrl_port'], 65535)];
  if (f.some((x) => x === undefined)) return undefined;
  return ['flood', String(p.qemu), String(p.host), ...(f as string[])];
}

/**
 * Runs the floods a guest asks for, one at a time, each bounded by its
 * frame count and seconds; its output goes to the boot's host log.
 */
export class VirtioHost {
  private running: Promise<void> = Promise.resolve();
  private kill: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly helper: string,
    private readonly ports: VirtioPorts,
    private readonly logFile: string,
  ) {}

  request(d: Record<string, unknown>): void {
    const args = floodArgs(d, this.ports);
    this.running = this.running.then(async () => {
      if (!args) {
        await appendFile(this.logFile, `malformed flood request, ignored: ${JSON.stringify(d)}\n`);
        return;
      }
      if (this.stopped) return;
      await appendFile(this.logFile, `$ ${this.helper} ${args.join(' ')}\n`);
      const child = execa(this.helper, args, { reject: false, all: true, timeout: (Number(args[4]) + 30) * 1000 });
      this.kill = () => child.kill('SIGKILL');
      const r = await child;
      this.kill = undefined;
      await appendFile(this.logFile, `${r.all ?? ''}\nexit ${r.exitCode ?? r.signal ?? '?'}\n`);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.kill?.();
    await this.running.catch(() => undefined);
  }
}
