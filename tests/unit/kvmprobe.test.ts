/**
 * The KVM probe with a stand-in QEMU (QK_KVM_PROBE_QEMU, for tests only), so
 * both of its outcomes are tested on any host: `auto` takes kvm when the
 * probe boot reaches userspace and tcg when it does not; an explicit
 * `--backend kvm` is probed too, and a probe that hangs ends the run as
 * `kvm-unusable` (exit 3), never as a kernel hang.
 */
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PROBE_QEMU_ENV, probeKvm, resolveBackends, type BackendRequest, type Built, type Kernel } from '../../scripts/lib/pipeline/pipeline.ts';
import { QkError } from '../../scripts/lib/plumbing/errors.ts';
import type { Manifest } from '../../scripts/lib/pipeline/recorder.ts';
import { useTempDir } from './tempdir.ts';

const LIMITS = { silenceMs: 1500, timeoutMs: 5000 };
const quiet = { info: () => undefined, progress: () => ({ update: () => undefined, stop: () => undefined }) } as never;

/** A stand-in for qemu-system-x86_64: prints a guest's console, as the guest init of a working probe would, or hangs. */
const GUESTS = {
  works: ['echo "Linux version 6.12.0 (probe)"', "echo 'QK-BEGIN {\"proto\":1,\"run\":\"t\",\"variant\":\"probe\",\"backend\":\"kvm\"}'", "echo 'QK-END {\"status\":0}'"],
  hangs: ['echo "Decompressing Linux... Parsing ELF... done."', 'exec sleep 60'],
  fails: ['echo "qemu-system-x86_64: error: failed to set MSR 0x38d to 0x0" >&2', 'exit 1'],
} as const;

async function standIn(dir: string, guest: keyof typeof GUESTS): Promise<string> {
  const path = join(dir, `qemu-${guest}`);
  await writeFile(path, ['#!/bin/sh', `echo "$@" > ${JSON.stringify(join(dir, `args-${guest}`))}`, ...GUESTS[guest], ''].join('\n'));
  await chmod(path, 0o755);
  return path;
}

function setup(dir: string, backends: BackendRequest['backends']) {
  const kernel = {
    plan: { variant: 'baseline', target: { arch: 'x86_64', flavor: 'normal' } },
    kb: { image: join(dir, 'bzImage') },
    image: { kind: 'initramfs', path: join(dir, 'initramfs.cpio'), init: '/init', moduleDir: '/lib/modules', key: 'k', cached: true },
  } as unknown as Kernel;
  const built: Built = { kernels: [kernel] };
  const req: BackendRequest = { runId: 't', backends, probeSide: { variant: 'baseline' }, tcgThreads: 'single' };
  const stages: string[] = [];
  const rec = {
    logs: join(dir, 'logs'),
    manifest: {} as Manifest,
    stage: <T>(name: string, _tags: unknown, fn: () => Promise<T>) => (stages.push(name), fn()),
    save: async () => undefined,
  };
  return { built, req, rec, stages };
}

describe('the KVM probe, with a stand-in QEMU', () => {
  const dir = useTempDir('qk-kvmprobe-');
  afterEach(() => {
    delete process.env[PROBE_QEMU_ENV];
  });

  it('is usable when the probe boot reaches userspace and ends with status 0', async () => {
    process.env[PROBE_QEMU_ENV] = await standIn(dir(), 'works');
    const { built } = setup(dir(), ['auto']);
    const r = await probeKvm(built.kernels[0]!, 't', undefined, join(dir(), 'probe.log'), new AbortController().signal, LIMITS);
    expect(r).toEqual({ ok: true, reason: 'probe reached userspace' });
    // The probe asks for KVM, one vCPU and the probe's init.
    const args = await readFile(join(dir(), 'args-works'), 'utf8');
    expect(args).toMatch(/-enable-kvm|accel kvm/);
    expect(args).toContain('qk_probe=1');
  });

  it('auto takes kvm when the probe works, tcg when it hangs, and says why', async () => {
    process.env[PROBE_QEMU_ENV] = await standIn(dir(), 'works');
    const ok = setup(dir(), ['auto', 'uml']);
    const a = await resolveBackends(ok.req, ok.built, ok.rec, quiet, new AbortController().signal, LIMITS);
    expect(a.backends).toEqual(['kvm', 'uml']);
    expect(ok.rec.manifest.backends?.note).toBe('auto: KVM probe reached userspace, using kvm');

    process.env[PROBE_QEMU_ENV] = await standIn(dir(), 'hangs');
    const bad = setup(dir(), ['auto', 'uml']);
    const b = await resolveBackends(bad.req, bad.built, bad.rec, quiet, new AbortController().signal, LIMITS);
    expect(b.backends).toEqual(['tcg', 'uml']);
    expect(bad.rec.manifest.backends?.note).toBe('auto: KVM not usable (the probe boot hung (no console output for 1.5 s)), using tcg');
    expect(bad.stages).toEqual(['kvm-probe']);
  });

  it('--backend kvm is probed first: a probe that hangs is "kvm unusable" (exit 3), not a kernel hang', async () => {
    process.env[PROBE_QEMU_ENV] = await standIn(dir(), 'hangs');
    const s = setup(dir(), ['kvm']);
    const e = await resolveBackends(s.req, s.built, s.rec, quiet, new AbortController().signal, LIMITS).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(QkError);
    const q = e as QkError;
    expect(q.runClass).toBe('kvm-unusable');
    expect(q.exitCode).toBe(3);
    expect(q.message).toBe('--backend kvm: KVM is not usable on this host (the probe boot hung (no console output for 1.5 s)); nothing was booted');
    expect(q.logFile).toBe(join(s.rec.logs, 'console-kvm-probe.log'));
    expect(s.stages).toEqual(['kvm-probe']);
  });

  it('--backend kvm with a probe QEMU that refuses: kvm unusable, with QEMU\'s own words', async () => {
    process.env[PROBE_QEMU_ENV] = await standIn(dir(), 'fails');
    const s = setup(dir(), ['tcg', 'kvm']);
    const e = (await resolveBackends(s.req, s.built, s.rec, quiet, new AbortController().signal, LIMITS).then(() => undefined, (x: unknown) => x)) as QkError;
    expect(e.runClass).toBe('kvm-unusable');
    expect(e.message).toContain('qemu-system-x86_64: error: failed to set MSR 0x38d');
  });

  it('--backend kvm whose probe works boots on kvm', async () => {
    process.env[PROBE_QEMU_ENV] = await standIn(dir(), 'works');
    const s = setup(dir(), ['kvm']);
    expect((await resolveBackends(s.req, s.built, s.rec, quiet, new AbortController().signal, LIMITS)).backends).toEqual(['kvm']);
  });
});
