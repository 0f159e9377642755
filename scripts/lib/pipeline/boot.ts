/**
 * Boot stage: build the guest's argument vector from a typed request (QEMU
 * kvm/tcg/icount, or UML), stream its console into the log file, and stop it
 * on the sentinel, on a crash report, on silence or on the overall timeout.
 * It returns raw facts only (the lines, how it ended, wall time, exit code):
 * judging them is classify.ts's job. No guest process outlives this
 * function: the whole process group is killed.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
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
  /** QEMU guests with --numa: the NUMA nodes init must find, else it fails the boot (a kernel without NUMA or SRAT would measure one node). */
  readonly numaNodes?: number;
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
  if (p.numaNodes !== undefined && p.numaNodes > 1) args.push(`qk_numa=${p.numaNodes}`);
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
  /** NUMA nodes (numaArgs); absent or 1: no -numa options, one node. */
  readonly numaNodes?: number;
  readonly cmdline: readonly string[];
  /** The file QEMU writes the serial console to (consoleFileOf); absent: its stdout. */
  readonly consoleFile?: string;
}

/**
 * Where a QEMU guest's serial console goes while the boot runs: a regular
 * file beside the console log, which runGuest follows and copies into the
 * log. QEMU writes a serial byte to its backend without waiting; when the
 * write does not go through (a pipe that is full), it retries a few times
 * and then drops the byte, and what the guest writes meanwhile overruns the
 * UART's FIFO. With four TCG guests at once on 2 cores, `-serial stdio`
 * lost characters in 49 of 200 console logs ("o 1 example_simple_test";
 * 3 of them read as failed KUnit cases) and in 9 of 40 on a re-run; the
 * file lost none in 120. A write to a regular file does not wait for a
 * reader.
 */
export function consoleFileOf(consoleLog: string): string {
  return consoleLog.replace(/\.log$/, '') + '.serial';
}

/** QEMU's -chardev value for a file backend; a comma in an option value is written twice. */
function chardevFile(file: string): string {
  return `file,id=qkcon,path=${file.replace(/,/g, ',,')}`;
}

/** A QEMU argument vector (qemuArgs) with its serial console moved to another file: to boot one vector again and again, each boot into its own file. */
export function withConsoleFile(args: readonly string[], file: string): string[] {
  const i = args.findIndex((a, k) => args[k - 1] === '-chardev' && a.startsWith('file,id=qkcon,'));
  if (i < 0) throw new Error('no -chardev file,id=qkcon in the argument vector');
  return args.map((a, k) => (k === i ? chardevFile(file) : a));
}

/**
 * A boot's argument vector as a person runs it again by hand: the serial
 * console on the terminal (`-serial stdio`) rather than in the file the
 * boot followed.
 */
export function interactiveArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '-chardev' && argv[i + 1]?.startsWith('file,id=qkcon,')) {
      i++;
    } else if (argv[i] === '-serial' && argv[i + 1] === 'chardev:qkcon') {
      out.push('-serial', 'stdio');
      i++;
    } else {
      out.push(argv[i]!);
    }
  }
  return out;
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
    ...(s.consoleFile === undefined ? ['-serial', 'stdio'] : ['-chardev', chardevFile(s.consoleFile), '-serial', 'chardev:qkcon']),
    '-monitor', 'none',
    '-no-reboot',
    '-machine', 'q35',
    ...qemuAccel(s.backend, s.tcgThreads),
    '-smp', smpValue(s.smp, s.numaNodes ?? 1),
    '-m', `${s.memoryMB}M`,
    ...numaArgs(s.numaNodes ?? 1, s.smp, s.memoryMB),
    '-kernel', s.kernel,
    '-initrd', s.initrd,
    '-append', ['console=ttyS0', 'panic=-1', 'rdinit=/init', ...backendCmdline(s.backend), ...s.cmdline].join(' '),
  ];
}

/** A NUMA guest's CPUs must divide evenly into its nodes (one socket each). */
function checkNuma(nodes: number, smp: number): void {
  if (!Number.isInteger(nodes) || nodes > smp || smp % nodes !== 0) {
    throw new QkError('usage-error', `--numa ${nodes} needs the same number of CPUs on every node, and the guest has ${smp} (--smp)`, { hint: `give --smp a multiple of ${nodes}` });
  }
}

/**
 * -smp's value: with NUMA nodes, one socket per node, so that the kernel
 * does not find CPUs of two nodes sharing a last-level cache (QEMU's default
 * topology puts every CPU in one socket, which the scheduler's topology
 * check warns about).
 */
export function smpValue(smp: number, nodes: number): string {
  if (nodes <= 1) return String(smp);
  checkNuma(nodes, smp);
  return `${smp},sockets=${nodes},cores=${smp / nodes},threads=1`;
}

/**
 * A guest of `nodes` NUMA nodes: the vCPUs split into contiguous, even
 * shares (a socket each, smpValue), the memory into even shares (the last
 * node takes what does not divide), each node's memory its own RAM backend,
 * as QEMU's firmware describes it to the kernel in the ACPI SRAT. One node:
 * no options at all, QEMU's default.
 */
export function numaArgs(nodes: number, smp: number, memoryMB: number): string[] {
  if (nodes <= 1) return [];
  checkNuma(nodes, smp);
  const out: string[] = [];
  const cpuShare = smp / nodes;
  const memShare = Math.floor(memoryMB / nodes);
  for (let n = 0; n < nodes; n++) {
    const first = n * cpuShare;
    const last = first + cpuShare - 1;
    const mem = n === nodes - 1 ? memoryMB - memShare * (nodes - 1) : memShare;
    out.push('-object', `memory-backend-ram,id=qknode${n},size=${mem}M`);
    out.push('-numa', `node,nodeid=${n},cpus=${first === last ? first : `${first}-${last}`},memdev=qknode${n}`);
  }
  return out;
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
  /** QEMU backends: NUMA nodes (numaArgs); UML has one. */
  readonly numaNodes?: number;
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

type CommandRequest = Pick<BootRequest, 'backend' | 'kernel' | 'image' | 'smp' | 'memoryMB' | 'numaNodes' | 'guest' | 'extraCmdline' | 'tcgThreads' | 'probe' | 'qemu' | 'umlTmpDir' | 'umlCpu'> & {
  /** A virtio-net NIC on these loopback UDP ports (QEMU backends). */
  readonly virtioPorts?: VirtioPorts;
  /** QEMU backends: the serial console into this file (consoleFileOf), not stdout. */
  readonly consoleFile?: string;
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
    args: [
      ...qemuArgs({ backend: r.backend, tcgThreads: r.tcgThreads, ...(r.qemu ? { firmware: r.qemu.firmware } : {}), ...(r.consoleFile ? { consoleFile: r.consoleFile } : {}), kernel: r.kernel, initrd: r.image.path, smp, memoryMB, ...(r.probe || r.numaNodes === undefined ? {} : { numaNodes: r.numaNodes }), cmdline }),
      ...(r.virtioPorts ? virtioQemuArgs(r.virtioPorts) : []),
    ],
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
  /** The guest's console is written to this file, not to stdout: follow it (consoleFileOf). */
  readonly consoleFile?: string;
}

export async function boot(req: BootRequest): Promise<BootRun> {
  // Virtio floods: a NIC on loopback UDP ports, and the host's sender on cue.
  const virtio = wantsVirtio(req.guest.net) && req.backend !== 'uml' && !req.probe && req.netHelper !== undefined;
  const ports = virtio ? await freeUdpPorts() : undefined;
  const consoleFile = req.backend === 'uml' ? undefined : consoleFileOf(req.consoleLog);
  const { cmd, args, cmdline } = bootCommand({ ...req, ...(ports ? { virtioPorts: ports } : {}), ...(consoleFile ? { consoleFile } : {}) });
  const host = ports && req.netHelper ? new VirtioHost(req.netHelper, ports, req.consoleLog.replace(/\.log$/, '') + '.host.log') : undefined;
  try {
    return { ...(await runGuest({ ...req, cmd, args, ...(consoleFile ? { consoleFile } : {}), ...(host ? { onNet: (d: Record<string, unknown>) => host.request(d) } : {}) })), cmdline };
  } finally {
    await host?.stop();
  }
}

/**
 * Follows a file another process appends to, line by line: polled, since
 * inotify does not see writes through another process's descriptor on
 * every filesystem. `stop()` reads what is left and hands over a last line
 * without its newline.
 */
class FileFollower {
  private offset = 0;
  private partial = '';
  private readonly decoder = new StringDecoder('utf8');
  private readonly buf = Buffer.alloc(1 << 16);
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> = Promise.resolve();

  private constructor(private readonly fh: FileHandle, private readonly onLine: (line: string) => void) {}

  /** Creates (empties) the file and starts following it. */
  static async start(path: string, onLine: (line: string) => void, everyMs = 20): Promise<FileFollower> {
    await writeFile(path, '');
    const f = new FileFollower(await open(path, 'r'), onLine);
    f.timer = setInterval(() => void f.poll(), everyMs);
    return f;
  }

  private poll(): Promise<void> {
    this.busy = this.busy.then(async () => {
      for (;;) {
        const { bytesRead } = await this.fh.read(this.buf, 0, this.buf.length, this.offset);
        if (bytesRead === 0) return;
        this.offset += bytesRead;
        const lines = (this.partial + this.decoder.write(this.buf.subarray(0, bytesRead))).split('\n');
        this.partial = lines.pop() ?? '';
        for (const l of lines) this.onLine(l.replace(/\r$/, ''));
      }
    });
    return this.busy;
  }

  private stopped = false;

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    await this.poll();
    const rest = this.partial + this.decoder.end();
    if (rest !== '') this.onLine(rest.replace(/\r$/, ''));
    this.partial = '';
    await this.fh.close();
  }
}

export async function runGuest(spec: BootSpec): Promise<Omit<BootRun, 'cmdline'>> {
  await mkdir(dirname(spec.consoleLog), { recursive: true });
  const log = createWriteStream(spec.consoleLog, { flags: 'w' });
  const watcher = new ConsoleWatcher();
  const t0 = Date.now();
  let ending: BootEnding = 'exited';
  let silenceTimer: NodeJS.Timeout | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  let endTimer: NodeJS.Timeout | undefined;
  let pid: number | undefined;
  const stop = (why: BootEnding): void => {
    if (ending === 'exited') ending = why;
    killGroup(pid);
  };
  const armSilence = (): void => {
    clearTimeout(silenceTimer);
    silenceTimer = setTimeout(() => stop('silence'), spec.silenceMs);
  };
  // Every line of the guest's console, and of the emulator's own output, in the order they arrive.
  const onLine = (line: string): void => {
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
  };
  const follower = spec.consoleFile === undefined ? undefined : await FileFollower.start(spec.consoleFile, onLine);
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
    await follower?.stop();
    throw new QkError('infra-error', `could not start ${spec.cmd}`, { cause: e });
  }
  trackChild(child.pid);
  pid = child.pid;
  const total = setTimeout(() => stop('timeout'), spec.timeoutMs);
  const onAbort = (): void => stop('exited');
  spec.signal?.addEventListener('abort', onAbort);
  armSilence();
  try {
    const rl = createInterface({ input: child.all! });
    const reading = (async () => {
      for await (const line of rl) onLine(line);
    })();
    const res = await child;
    await reading;
    await follower?.stop();
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
    await follower?.stop();
    await new Promise<void>((r) => log.end(() => r()));
    // Every line is in the log now; the raw file would only double it.
    if (spec.consoleFile !== undefined) await rm(spec.consoleFile, { force: true });
  }
}
