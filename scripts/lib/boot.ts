/**
 * Boot stage: start the guest (QEMU kvm/tcg/icount, or UML), stream its
 * console into the log file first and the classifier second, and stop it on
 * the sentinel, on a crash report, on silence or on the overall timeout. No
 * guest process outlives this function: the whole process group is killed.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { QkError } from './errors.ts';
import { ConsoleWatcher, type ConsoleVerdict, verdict } from './console.ts';
import { parseKtap, type KtapResult } from './ktap.ts';
import { killGroup, trackChild, untrackChild } from './proc.ts';
import type { Backend } from './results.ts';
import type { ImageResult } from './image.ts';

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
  readonly provoke?: 'hang' | 'warn' | 'oops';
  readonly probe?: boolean;
}

export function guestCmdline(p: GuestParams, image: ImageResult): string[] {
  const args = [`qk_run=${p.run}`, `qk_variant=${p.variant}`, `qk_backend=${p.backend}`, `qk_moddir=${image.moduleDir}`];
  if (image.kind === 'hostfs') args.push(`qk_hostdir=${image.path}`);
  if (p.flavor && p.flavor !== 'normal') args.push(`qk_flavor=${p.flavor}`);
  if (p.kunit && p.kunit.length > 0) args.push(`qk_kunit=${p.kunit.join(',')}`);
  if (p.modules.length > 0) args.push(`qk_modules=${p.modules.join(',')}`);
  if (p.provoke) args.push(`qk_provoke=${p.provoke}`);
  if (p.probe) args.push('qk_probe=1');
  return args;
}

export interface QemuSpec {
  readonly backend: QemuBackend;
  readonly kernel: string;
  readonly initrd: string;
  readonly smp: number;
  readonly memoryMB: number;
  readonly cmdline: readonly string[];
}

/** Accelerator arguments per backend. icount needs single-threaded TCG. */
export const QEMU_ACCEL = {
  kvm: ['-accel', 'kvm', '-cpu', 'host'],
  tcg: ['-accel', 'tcg,thread=multi', '-cpu', 'max'],
  icount: ['-accel', 'tcg,thread=single', '-icount', 'shift=0,align=off,sleep=off', '-cpu', 'max'],
} as const satisfies Record<QemuBackend, readonly string[]>;

export function qemuArgs(s: QemuSpec): string[] {
  return [
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-serial', 'stdio',
    '-monitor', 'none',
    '-no-reboot',
    '-machine', 'q35',
    ...QEMU_ACCEL[s.backend],
    '-smp', String(s.smp),
    '-m', `${s.memoryMB}M`,
    '-kernel', s.kernel,
    '-initrd', s.initrd,
    '-append', ['console=ttyS0', 'panic=-1', 'rdinit=/init', ...s.cmdline].join(' '),
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

export interface BootSpec {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly consoleLog: string;
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

export interface BootOutcome {
  readonly verdict: ConsoleVerdict;
  readonly ktap: KtapResult;
  readonly watcher: ConsoleWatcher;
  readonly wallMs: number;
  readonly ending: 'exited' | 'silence' | 'timeout' | 'finding';
  readonly exitCode: number | undefined;
}

export async function boot(spec: BootSpec): Promise<BootOutcome> {
  await mkdir(dirname(spec.consoleLog), { recursive: true });
  const log = createWriteStream(spec.consoleLog, { flags: 'w' });
  const watcher = new ConsoleWatcher();
  const t0 = Date.now();
  let ending: BootOutcome['ending'] = 'exited';
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
  const stop = (why: BootOutcome['ending']): void => {
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
          if (ev.type === 'end' && endTimer === undefined) {
            endTimer = setTimeout(() => stop('exited'), spec.afterEndMs ?? 10_000);
          }
        }
      }
    })();
    const res = await child;
    await reading;
    const ktap = parseKtap(watcher.lines);
    const failed = ktap.counts.fail + ktap.counts.crashed;
    if (spec.signal?.aborted) throw new QkError('interrupted', 'interrupted');
    if (res.failed && (res as { code?: string }).code === 'ENOENT') {
      throw new QkError('missing-dependency', `${spec.cmd} is not installed`, { hint: 'apt-get install qemu-system-x86' });
    }
    // A guest that reported a crash and then exited still ended by the finding.
    const how = ending === 'exited' && watcher.findings.length > 0 ? 'finding' : ending;
    return {
      verdict: verdict(watcher, how, failed),
      ktap,
      watcher,
      wallMs: Date.now() - t0,
      ending: how,
      exitCode: res.exitCode,
    };
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
