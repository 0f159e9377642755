/**
 * run.mjs flags that say exactly what the options say: the commands that
 * start run.mjs in a child (bisection, nightly) make typed options and hand
 * the child runArgv(options); its parser must read the same options back.
 */
import { describe, expect, it } from 'vitest';
import { optionsFromArgv } from '../../scripts/lib/commands/cli.ts';
import { runArgv, sourceArgv } from '../../scripts/lib/commands/runargv.ts';
import { buildRunOptions, runDefaults, type RunOptions } from '../../scripts/lib/pipeline/options.ts';
import { QkError } from '../../scripts/lib/plumbing/errors.ts';

/**
 * Every option, none at its default, so that a setting runArgv leaves out
 * fails the round trip. Typed so that an option added to RunOptions must be
 * added here too (bases are the pipeline's, resolved after the flags).
 */
const everything: Required<Omit<RunOptions, 'bases'>> = {
  source: { kind: 'tree', path: '/src/linux', ref: 'v6.12' },
  seriesDir: '/s/kernel-patches',
  otherSeries: 'HEAD~3',
  sides: [
    { name: 'old', variant: 'other', cmdline: [] },
    { name: 'on', variant: 'patched', cmdline: ['skb_qmempool=on', 'init_on_alloc=1'] },
    { name: 's73', variant: 'baseline', cmdline: [], base: 'debian:7.3' },
    { name: 'd73', variant: 'patched', cmdline: ['skb_qmempool=on'], base: 'debian:7.3', profile: 'distro' },
  ],
  aaControl: 'all',
  backends: ['tcg', 'uml'],
  smp: 4,
  memoryMB: 2048,
  numaNodes: 2,
  bootTimeoutS: 1800,
  silenceTimeoutS: 300,
  boots: 6,
  jobs: 37,
  outputDir: '/o',
  workDir: '/w',
  runId: 'r-1',
  profile: 'full',
  flavors: ['normal', 'debug'],
  extraFragments: ['/f/a.config', '/f/b.config'],
  extraCmdline: ['quiet', 'x=1'],
  modules: ['qk_bench_queue', 'qk_bench'],
  benchSet: 'full',
  net: { scenarios: ['drop', 'udp'], count: 5000, samples: 3, bytes: 65536, vframes: 1000, vseconds: 2, break: 'udp' },
  provoke: 'oops-once',
  tcgThreads: 'multi',
  umlCpu: 0,
  qemu: 'host',
  buildHugepages: 'off',
  lockWaitS: 0,
  allowInstall: false,
  stopAfter: 'build',
  argv: [],
};

describe('run options and run.mjs flags', () => {
  it('reads back every option from the flags runArgv gives', () => {
    const d = runDefaults();
    // None at its default: else leaving its flag out would go unseen.
    for (const [k, v] of Object.entries(d)) expect(everything[k as keyof typeof everything], k).not.toEqual(v);
    const argv = runArgv(everything);
    expect(optionsFromArgv(argv)).toEqual({ ...everything, argv });
  });

  it('gives only what differs from the defaults, and the sides, A/A control and run id always', () => {
    const o = buildRunOptions({ runId: 'r' });
    expect(runArgv(o)).toEqual(['--variants', 'baseline,patched', '--aa-control', 'cheap', '--run-id', 'r']);
    expect(optionsFromArgv(runArgv(o))).toEqual({ ...o, argv: runArgv(o) });
    const nightly = buildRunOptions({ source: { kind: 'debian', release: '7.3' }, sides: [{ name: 'baseline', variant: 'baseline', cmdline: [] }], backends: ['icount'], boots: 1, aaControl: 'none', runId: 'n' });
    expect(runArgv(nightly)).toEqual(['--source', 'debian:7.3', '--variants', 'baseline', '--backend', 'icount', '--boots', '1', '--aa-control', 'none', '--run-id', 'n']);
  });

  it('spells each kind of kernel source as run.mjs reads it', () => {
    for (const source of [{ kind: 'debian' }, { kind: 'debian', release: '7.3' }, { kind: 'tarball', path: '/t/linux.tar.xz' }, { kind: 'tree', path: '/src/linux' }, { kind: 'git', url: 'https://example.invalid/linux.git', ref: 'v6.18' }] as const) {
      expect(optionsFromArgv([...sourceArgv(source), '--run-id', 'r']).source, JSON.stringify(source)).toEqual(source);
    }
  });

  it('refuses what no flag can say', () => {
    const base = buildRunOptions({ runId: 'r' });
    expect(() => runArgv({ ...base, extraCmdline: ['a b'] })).toThrow(QkError);
    expect(() => runArgv({ ...base, sides: [{ name: 'on', variant: 'patched', cmdline: ['x= 1'] }] })).toThrow(/white space/);
    expect(() => runArgv({ ...base, sides: [{ name: 'b-aa', variant: 'baseline', cmdline: [], twinOf: 'b' }] })).toThrow(/A\/A twin/);
    expect(() => runArgv({ ...base, bases: {} })).toThrow(/resolved bases/);
  });

  it('a mistake in run.mjs flags given to another command is a usage error naming the flag', () => {
    const e = (() => {
      try {
        optionsFromArgv(['--bogus']);
      } catch (x) {
        return x;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(QkError);
    expect((e as QkError).runClass).toBe('usage-error');
    expect((e as QkError).message).toMatch(/--bogus/);
    expect(() => optionsFromArgv(['--smp', 'two'])).toThrow(/--smp must be an integer/);
  });
});
