import { describe, expect, it } from 'vitest';
import { buildCommand, optionsFromFlags } from '../../scripts/lib/commands/cli.ts';
import { newRunId } from '../../scripts/lib/plumbing/paths.ts';
import { QkError } from '../../scripts/lib/plumbing/errors.ts';
import { netCmdline } from '../../scripts/lib/pipeline/net.ts';
import { buildRunOptions } from '../../scripts/lib/pipeline/options.ts';

function parse(argv: string[]) {
  const cmd = buildCommand();
  cmd.parse(argv, { from: 'user' });
  return optionsFromFlags(cmd.opts(), argv);
}

describe('command line', () => {
  it('has working defaults', () => {
    const o = parse([]);
    expect(o.backends).toEqual(['auto', 'uml']);
    expect(o.sides).toEqual([{ name: 'baseline', variant: 'baseline', cmdline: [] }, { name: 'patched', variant: 'patched', cmdline: [] }]);
    // TCG threading follows the QEMU (qemu.ts tcgThreadsFor) unless asked for; the QEMU is the registry's when it can be.
    expect(o.tcgThreads).toBeUndefined();
    expect(o.qemu).toBe('auto');
    expect(o.source).toEqual({ kind: 'debian' });
    expect(o.allowInstall).toBe(true);
    expect(o.smp).toBe(2);
  });

  it('has the defaults of the one options builder, which every command uses', () => {
    expect(parse(['--run-id', 'r'])).toEqual(buildRunOptions({ runId: 'r', argv: ['--run-id', 'r'] }));
    // What a caller leaves out (series check: no benchmark module) is filled in the same way.
    expect(buildRunOptions({ modules: [] })).toMatchObject({ aaControl: 'none', smp: 2, boots: 8, qemu: 'auto', allowInstall: true, extraCmdline: [], sides: [{ name: 'baseline' }, { name: 'patched' }] });
    expect(buildRunOptions({ otherSeries: 'HEAD' }).sides.map((s) => s.name)).toEqual(['baseline', 'patched', 'other']);
  });

  it('takes sources, lists and numbers', () => {
    const o = parse(['--tree', '/src/linux', '--ref', 'v6.12', '--backend', 'icount,uml,icount', '--smp', '4', '--no-install', '--append', 'foo=1  bar']);
    expect(o.source).toEqual({ kind: 'tree', path: '/src/linux', ref: 'v6.12' });
    expect(o.backends).toEqual(['icount', 'uml']);
    expect(o.smp).toBe(4);
    expect(o.numaNodes).toBeUndefined();
    expect(parse(['--smp', '4', '--numa', '2']).numaNodes).toBe(2);
    expect(o.allowInstall).toBe(false);
    expect(o.extraCmdline).toEqual(['foo=1', 'bar']);
  });

  const bad: ReadonlyArray<[string[], RegExp]> = [
    [['--backend', 'nope'], /unknown value 'nope'/],
    [['--variants', ''], /needs at least one/],
    [['--smp', '0'], /--smp must be an integer/],
    [['--smp', 'two'], /--smp must be an integer/],
    [['--config-profile', 'rt'], /--config-profile rt: UML cannot build PREEMPT_RT/],
    [['--numa', '3'], /--numa 3 needs the same number of CPUs on every node, and --smp is 2/],
    [['--numa', '2', '--smp', '3'], /--smp is 3/],
    [['--numa', '2', '--memory', '200'], /leaves a node less than 128 MiB/],
    [['--numa', '9', '--smp', '16'], /--numa must be an integer/],
    [['--tree', 'a', '--tarball', 'b'], /choose one kernel source/],
    [['--git', 'https://example.invalid/linux.git'], /--git needs --ref/],
    [['--ref', 'v6.12'], /--ref goes with/],
    [['--run-id', 'a b'], /--run-id/],
    [['--modules', 'x;rm'], /not a module name/],
    [['--net', 'drop,flood'], /--net: unknown value 'flood'/],
    [['--net', 'drop', '--net-break', 'udp'], /--net-break udp: that scenario is not in --net/],
    [['--net', 'all', '--net-count', '10'], /--net-count must be an integer from 1000/],
    [['--side', 'on=patched a=1', '--variants', 'baseline'], /--variants or --side/],
    [['--side', 'on'], /NAME=TREE/],
    [['--source', 'debian:7.3', '--tree', '/x'], /choose one kernel source: --source/],
    [['--source', 'debian:7.3', '--ref', 'v7.3'], /--ref goes with/],
    [['--source', 'mainline'], /expected debian or debian:X.Y/],
    [['--side', 'off=patched:skb_qmempool=off'], /kernel arguments now follow the kernel after a space/],
  ];
  for (const [argv, msg] of bad) {
    it(`rejects ${argv.join(' ') || '(empty)'}`, () => {
      let err: unknown;
      try {
        parse(argv);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(QkError);
      expect((err as QkError).exitCode).toBe(2);
      expect((err as Error).message).toMatch(msg);
    });
  }

  it('takes the QEMU and an explicit TCG threading', () => {
    const o = parse(['--qemu', 'host', '--tcg-threads', 'single']);
    expect(o.qemu).toBe('host');
    expect(o.tcgThreads).toBe('single');
    expect(parse(['--qemu', 'registry', '--tcg-threads', 'multi'])).toMatchObject({ qemu: 'registry', tcgThreads: 'multi' });
    expect(() => parse(['--qemu', 'newest'])).toThrow(/--qemu/);
    const help = buildCommand().helpInformation();
    expect(help).toMatch(/--qemu <which>/);
    expect(help).toMatch(/Default: multi with QEMU >= 10/);
  });

  it('asks for packet scenarios, and for none by default', () => {
    expect(parse([]).net).toBeUndefined();
    const o = parse(['--net', 'all', '--modules', 'none', '--net-count', '5000', '--net-break', 'forward']);
    expect(o.modules).toEqual([]);
    expect(o.net).toEqual({ scenarios: ['drop', 'forward', 'udp', 'tcp', 'virtio_drop', 'virtio_forward'], count: 5000, samples: 5, bytes: 128 << 20, vframes: 200_000, vseconds: 5, break: 'forward' });
    expect(netCmdline(o.net!)).toEqual(['qk_net=drop,forward,udp,tcp,virtio_drop,virtio_forward', 'qk_net_count=5000', 'qk_net_samples=5', `qk_net_bytes=${128 << 20}`, 'qk_net_vcount=200000', 'qk_net_vseconds=5', 'qk_net_break=forward']);
    expect(parse(['--net', 'udp,drop,udp']).net?.scenarios).toEqual(['udp', 'drop']);
  });

  it('takes sides on one tree with different command lines', () => {
    const o = parse(['--side', 'off=patched skb_qmempool=off', '--side', 'on=patched skb_qmempool=on']);
    expect(o.sides.map((s) => `${s.name}:${s.variant}:${s.cmdline.join(' ')}`)).toEqual(['off:patched:skb_qmempool=off', 'on:patched:skb_qmempool=on']);
  });

  it('takes a Debian registry base, and sides on another base', () => {
    expect(parse(['--source', 'debian:7.3']).source).toEqual({ kind: 'debian', release: '7.3' });
    const o = parse(['--side', 's612=baseline', '--side', 's73=baseline@debian:7.3', '--side', 'same=baseline@debian']);
    // A side on the run's own source (here the installed 6.12, spelled debian) names no base: one tree.
    expect(o.sides).toEqual([
      { name: 's612', variant: 'baseline', cmdline: [] },
      { name: 's73', variant: 'baseline', cmdline: [], base: 'debian:7.3' },
      { name: 'same', variant: 'baseline', cmdline: [] },
    ]);
    expect(parse(['--source', 'debian:7.3', '--side', 'a=baseline@debian:7.3', '--side', 'b=baseline@debian']).sides.map((s) => s.base)).toEqual([undefined, 'debian']);
  });

  it('makes sortable, unique run ids', () => {
    const id = newRunId(new Date(Date.UTC(2026, 10, 27, 1, 2, 3)));
    expect(id).toMatch(/^20261127-010203-[a-z0-9]{1,4}$/);
    expect(newRunId()).not.toBe(newRunId());
  });
});
