/**
 * Boot stage: build the guest's argument vector from a typed request (QEMU
 * kvm/tcg/icount, or UML), stream its console into the log file, and stop it
 * on the sentinel, on a crash report, on silence or on the overall timeout.
 * It returns raw facts only (the lines, how it ended, wall time, exit code):
 * judging them is classify.ts's job. No guest process outlives this
 * function: the whole process group is killed.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { QkError } from '../plumbing/errors.ts';
import { ConsoleWatcher } from './console.ts';
import type { BootEnding } from './classify.ts';
import { killGroup, trackChild, untrackChild } from '../plumbing/proc.ts';
import type { Backend } from '../analysis/results.ts';
import type { ImageResult } from './image.ts';
import type { QemuRun, TcgThreads } from './qemu.ts';
import { freeUdpPorts, netCmdline, virtioQemuArgs, VirtioHost, wantsVirtio, type NetSpec, type VirtioPorts } from './net.ts';

export type QemuBackend = Exclude<Backend, 'uml'>;

export interface GuestParams {
  readonly run: string;
  readonly variant: string;
  readonly backend: Backend;
  readonly flavor?: string;
  /** In-tree KUnit modules (without .ko) for init to load first. */
  readonly kunit?: readonly string[];
  /** Module names (without .ko) for init to load in order. */
  readonly modules: readonly string[];
  readonly provoke?: Provoke;
  readonly probe?: boolean;
  /** Which boot of the same kernel and command line this is (1 = first). */
  readonly attempt?: number;
  /** The side (tree + command line) this boot belongs to. */
  readonly side?: string;
  /** Cases the qk_bench* modules run (their `set` parameter). */
  readonly benchSet?: BenchSet;
  /** Packet scenarios (qemu/net/net.sh) to run after the modules. */
  readonly net?: NetSpec;
}

/** headline: the cases the report leads with; full: every case and sweep. */
export const BENCH_SETS = ['headline', 'full'] as const;
export type BenchSet = (typeof BENCH_SETS)[number];

/** Deliberate failures, for testing the host's handling of them. */
export const PROVOKE = ['hang', 'warn', 'oops', 'oops-once'] as const;
export type Provoke = (typeof PROVOKE)[number];

export function guestCmdline(p: GuestParams, image: ImageResult): string[] {
  const args = [`qk_run=${p.run}`, `qk_variant=${p.variant}`, `qk_backend=${p.backend}`, `qk_moddir=${image.moduleDir}`];
  if (image.kind === 'hostfs') args.push(`qk_hostdir=${image.path}`);
  if (p.side && p.side !== p.variant) args.push(`qk_side=${p.side}`);
  if (p.flavor && p.flavor !== 'normal') args.push(`qk_flavor=${p.flavor}`);
  if (p.kunit && p.kunit.length > 0) args.push(`qk_kunit=${p.kunit.join(',')}`);
  if (p.modules.length > 0) args.push(`qk_modules=${p.modules.join(',')}`);
  if (p.benchSet && p.modules.length > 0) args.push(`qk_benchset=${p.benchSet}`);
  if (p.net) args.push(...netCmdline(p.net));
  if (p.provoke) args.push(`qk_provoke=${p.provoke}`);
  if (p.probe) args.push('qk_probe=1');
  if (p.attempt !== undefined) args.push(`qk_attempt=${p.attempt}`);
  for (const a of args) {
    if (/\s/.test(a)) throw new QkError('usage-error', `guest parameter '${a}' contains white space, which the kernel command line cannot carry`, { hint: 'use a --work-dir and -o path without spaces' });
  }
  return args;
}

export interface QemuSpec {
  readonly backend: QemuBackend;
  /** `-L` directories: the firmware and data of the QEMU that runs (a registry QEMU's own; none for the host's). */
  readonly firmware?: readonly string[];
  /** TCG only: multi-threaded (one host thread per vCPU) or round-robin. */
  readonly tcgThreads?: TcgThreads;
  readonly kernel: string;
  readonly initrd: string;
  readonly smp: number;
  readonly memoryMB: number;
  readonly cmdline: readonly string[];
}

/**
 * Accelerator arguments per backend. icount needs single-threaded TCG;
 * plain TCG runs single-threaded unless true parallelism is asked for: the
 * vCPUs still take turns (SMP code paths, KCSAN) but the multi-threaded
 * emulator's cross-CPU code-patching race cannot crash the guest.
 */
export function qemuAccel(backend: QemuBackend, tcgThreads: TcgThreads = 'single'): string[] {
  switch (backend) {
    case 'kvm':
      return ['-accel', 'kvm', '-cpu', 'host'];
    case 'tcg':
      return ['-accel', `tcg,thread=${tcgThreads}`, '-cpu', 'max'];
    case 'icount':
      return ['-accel', 'tcg,thread=single', '-icount', 'shift=0,align=off,sleep=off', '-cpu', 'max'];
  }
}

/**
 * Kernel arguments every guest of a backend gets. TCG guests (tcg, icount)
 * skip the kernel's IO-APIC timer check, which a loaded host can make fail
 * ("IO-APIC + timer doesn't work!", a panic in early boot).
 */
export function backendCmdline(backend: QemuBackend): string[] {
  return backend === 'kvm' ? [] : ['no_timer_check'];
}

export function qemuArgs(s: QemuSpec): string[] {
  return [
    ...(s.firmware ?? []).flatMap((d) => ['-L', d]),
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-serial', 'stdio',
    '-monitor', 'none',
    '-no-reboot',
    '-machine', 'q35',
    ...qemuAccel(s.backend, s.tcgThreads),
    '-smp', String(s.smp),
    '-m', `${s.memoryMB}M`,
    '-kernel', s.kernel,
    '-initrd', s.initrd,
    '-append', ['console=ttyS0', 'panic=-1', 'rdinit=/init', ...backendCmdline(s.backend), ...s.cmdline].join(' '),
  ];
}

export interface UmlSpec {
  readonly kernel: string;
  readonly init: string;
  readonly memoryMB: number;
  readonly cmdline: readonly string[];
}

export function umlArgs(s: UmlSpec): string[] {
  return [
    `mem=${s.memoryMB}M`,
    'root=/dev/root',
    'rootfstype=hostfs',
    'rootflags=/',
    'ro',
    `init=${s.init}`,
    'con=null',
    'con0=null,fd:1',
    'panic=-1',
    ...s.cmdline,
  ];
}

/** One boot, as the pipeline asks for it; the argument vector is built here. */
export interface BootRequest {
  readonly backend: Backend;
  readonly kernel: string;
  readonly image: ImageResult;
  readonly smp: number;
  readonly memoryMB: number;
  /** What the guest init is asked to do (qk_* parameters). */
  readonly guest: GuestParams;
  /** Kernel arguments after the guest's own: the series', the side's, the user's. */
  readonly extraCmdline: readonly string[];
  readonly tcgThreads: TcgThreads;
  /** The QEMU that runs QEMU backends (binary and -L directories); absent: the host's qemu-system-x86_64 on PATH. */
  readonly qemu?: QemuRun | undefined;
  /** UML: the TMPDIR its memory file goes in (umltmp.ts: exec-capable, checked); absent: UML's own choice ($TMPDIR, /dev/shm). */
  readonly umlTmpDir?: string | undefined;
  /** UML: the host CPU the guest (one vCPU, several host threads) is pinned to with taskset; absent: not pinned. */
  readonly umlCpu?: number | undefined;
  /**
   * The KVM probe: one vCPU and 512 MiB, and init only reports that it
   * started (qk_probe=1).
   */
  readonly probe?: boolean;
  readonly consoleLog: string;
  /** The qk-net helper that floods virtio-net from the host (packet scenarios). */
  readonly netHelper?: string;
  /** End the boot when the console says nothing for this long. */
  readonly silenceMs: number;
  /** End the boot after this long in any case. */
  readonly timeoutMs: number;
  /** After a crash report, keep reading this long for the rest of it. */
  readonly graceMs?: number;
  /**
   * After the QK-END sentinel, give the guest this long to power off by
   * itself, then stop it: a kernel without ACPI power-off only halts.
   */
  readonly afterEndMs?: number;
  readonly signal?: AbortSignal;
}

type CommandRequest = Pick<BootRequest, 'backend' | 'kernel' | 'image' | 'smp' | 'memoryMB' | 'guest' | 'extraCmdline' | 'tcgThreads' | 'probe' | 'qemu' | 'umlTmpDir' | 'umlCpu'> & {
  /** A virtio-net NIC on these loopback UDP ports (QEMU backends). */
  readonly virtioPorts?: VirtioPorts;
};

/** The kernel command line of a request: guest parameters first, then the extra arguments. */
export function kernelCmdline(r: CommandRequest): string[] {
  return [...guestCmdline({ ...r.guest, ...(r.probe ? { probe: true } : {}) }, r.image), ...r.extraCmdline];
}

/** The program and arguments that run a request (also what the reproducer prints). */
export function bootCommand(r: CommandRequest): { cmd: string; args: string[]; cmdline: string[] } {
  const cmdline = kernelCmdline(r);
  const smp = r.probe ? 1 : r.smp;
  const memoryMB = r.probe ? 512 : r.memoryMB;
  if (r.backend === 'uml') {
    const args = umlArgs({ kernel: r.kernel, init: r.image.init, memoryMB, cmdline });
    // Through taskset(1) and env(1), so the facts' argument vector and the reproducer carry the pinning and the TMPDIR too.
    const argv = [
      ...(r.umlCpu === undefined ? [] : ['taskset', '-c', String(r.umlCpu)]),
      ...(r.umlTmpDir === undefined ? [] : ['env', `TMPDIR=${r.umlTmpDir}`]),
      r.kernel,
      ...args,
    ];
    return { cmd: argv[0]!, args: argv.slice(1), cmdline };
  }
  return {
    cmd: r.qemu?.binary ?? 'qemu-system-x86_64',
    args: [...qemuArgs({ backend: r.backend, tcgThreads: r.tcgThreads, ...(r.qemu ? { firmware: r.qemu.firmware } : {}), kernel: r.kernel, initrd: r.image.path, smp, memoryMB, cmdline }), ...(r.virtioPorts ? virtioQemuArgs(r.virtioPorts) : [])],
    cmdline,
  };
}

/** What a boot produced: raw facts, judged by classify(). */
export interface BootRun {
  readonly lines: readonly string[];
  readonly ending: BootEnding;
  readonly wallMs: number;
  readonly exitCode: number | undefined;
  readonly cmd: readonly string[];
  /** The kernel command line the guest got. */
  readonly cmdline: readonly string[];
}

/** Test seam: a boot run from an explicit argument vector. */
export interface BootSpec extends Pick<BootRequest, 'consoleLog' | 'silenceMs' | 'timeoutMs' | 'graceMs' | 'afterEndMs' | 'signal'> {
  readonly cmd: string;
  readonly args: readonly string[];
  /** A QK-NET line: the guest asks the host for a virtio-net flood. */
  readonly onNet?: (data: Record<string, unknown>) => void;
}

export async function boot(req: BootRequest): Promise<BootRun> {
  // Virtio floods: a NIC on loopback UDP ports, and the host's sender on cue.
  const virtio = wantsVirtio(req.guest.net) && req.backend !== 'uml' && !req.probe && req.netHelper !== undefined;
  const ports = virtio ? await freeUdpPorts() : undefined;
  const { cmd, args, cmdline } = bootCommand({ ...req, ...(ports ? { virtioPorts: ports } : {}) });
  const host = ports && req.netHelper ? new VirtioHost(req.netHelper, ports, req.consoleLog.replace(/\.log$/, '') + '.host.log') : undefined;
  try {
    return { ...(await runGuest({ ...req, cmd, args, ...(host ? { onNet: (d: Record<string, unknown>) => host.request(d) } : {}) })), cmdline };
  } finally {
    await host?.stop();
  }
}

export async function runGuest(spec: BootSpec): Promise<Omit<BootRun, 'cmdline'>> {
  await mkdir(dirname(spec.consoleLog), { recursive: true });
  const log = createWriteStream(spec.consoleLog, { flags: 'w' });
  const watcher = new ConsoleWatcher();
  const t0 = Date.now();
  let ending: BootEnding = 'exited';
  let child;
  try {
    child = execa(spec.cmd, spec.args, {
      all: true,
      buffer: false,
      reject: false,
      detached: true,
      cleanup: true,
      stdin: 'ignore',
      killSignal: 'SIGKILL',
    });
  } catch (e) {
    throw new QkError('infra-error', `could not start ${spec.cmd}`, { cause: e });
  }
  trackChild(child.pid);
  const pid = child.pid;
  let silenceTimer: NodeJS.Timeout | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  let endTimer: NodeJS.Timeout | undefined;
  const stop = (why: BootEnding): void => {
    if (ending === 'exited') ending = why;
    killGroup(pid);
  };
  const armSilence = (): void => {
    clearTimeout(silenceTimer);
    silenceTimer = setTimeout(() => stop('silence'), spec.silenceMs);
  };
  const total = setTimeout(() => stop('timeout'), spec.timeoutMs);
  const onAbort = (): void => stop('exited');
  spec.signal?.addEventListener('abort', onAbort);
  armSilence();
  try {
    const rl = createInterface({ input: child.all! });
    const reading = (async () => {
      for await (const line of rl) {
        log.write(line + '\n'); // write first, parse second
        armSilence();
        for (const ev of watcher.push(line)) {
          if (ev.type === 'finding' && graceTimer === undefined) {
            // Let the rest of the report (backtrace, end trace) reach the log.
            graceTimer = setTimeout(() => stop('finding'), spec.graceMs ?? 3000);
          }
          if (ev.type === 'net') spec.onNet?.(ev.data);
          if (ev.type === 'end' && endTimer === undefined) {
            endTimer = setTimeout(() => stop('exited'), spec.afterEndMs ?? 10_000);
          }
        }
      }
    })();
    const res = await child;
    await reading;
    if (spec.signal?.aborted) throw new QkError('interrupted', 'interrupted');
    if (res.failed && (res as { code?: string }).code === 'ENOENT') {
      throw new QkError('missing-dependency', `${spec.cmd} is not installed`, { hint: 'apt-get install qemu-system-x86' });
    }
    // A guest that reported a crash and then exited still ended by the finding.
    const how = ending === 'exited' && watcher.findings.length > 0 ? 'finding' : ending;
    return { lines: watcher.lines, ending: how, wallMs: Date.now() - t0, exitCode: res.exitCode, cmd: [spec.cmd, ...spec.args] };
  } finally {
    clearTimeout(silenceTimer);
    clearTimeout(graceTimer);
    clearTimeout(endTimer);
    clearTimeout(total);
    spec.signal?.removeEventListener('abort', onAbort);
    killGroup(pid);
    untrackChild(pid);
    await new Promise<void>((r) => log.end(() => r()));
  }
}
