import { describe, expect, it } from 'vitest';
import { checkConfig, describeMismatch, mergeRequests, parseKconfig } from '../../scripts/lib/kconfig.ts';

const finalConfig = `
CONFIG_SLUB=y
# CONFIG_SLUB_TINY is not set
CONFIG_NR_CPUS=64
CONFIG_CMDLINE="console=ttyS0"
CONFIG_DUMMY=m
`;

describe('kconfig fragments', () => {
  it('parses set, unset and ignores other comments', () => {
    const e = parseKconfig('# a comment\nCONFIG_A=y\n# CONFIG_B is not set\n\nCONFIG_C="x y"\n', 'f');
    expect(e.map((x) => [x.option, x.value, x.line])).toEqual([
      ['CONFIG_A', 'y', 2],
      ['CONFIG_B', 'n', 3],
      ['CONFIG_C', '"x y"', 5],
    ]);
  });

  it('a later fragment overrides an earlier one', () => {
    const want = mergeRequests([parseKconfig('CONFIG_A=y\n', 'a'), parseKconfig('# CONFIG_A is not set\n', 'b')]);
    expect(want.get('CONFIG_A')).toMatchObject({ value: 'n', source: 'b' });
  });

  it('accepts a final .config that has everything asked', () => {
    const want = mergeRequests([parseKconfig('CONFIG_SLUB=y\n# CONFIG_SLUB_TINY is not set\n# CONFIG_ABSENT is not set\nCONFIG_NR_CPUS=64\nCONFIG_CMDLINE="console=ttyS0"\nCONFIG_DUMMY=m\n', 'common.config')]);
    expect(checkConfig(want, finalConfig)).toEqual([]);
  });

  it('names every option Kconfig dropped or changed', () => {
    const want = mergeRequests([parseKconfig('CONFIG_KASAN=y\nCONFIG_DUMMY=y\n# CONFIG_SLUB is not set\n', 'debug.config')]);
    const bad = checkConfig(want, finalConfig);
    expect(bad.map((b) => b.option)).toEqual(['CONFIG_KASAN', 'CONFIG_DUMMY', 'CONFIG_SLUB']);
    expect(describeMismatch(bad[0]!)).toBe('CONFIG_KASAN=y (asked by debug.config:1) is not set in the final .config');
    expect(describeMismatch(bad[1]!)).toContain('is =m');
    expect(describeMismatch(bad[2]!)).toContain('CONFIG_SLUB not set');
  });
});

describe('module/Kbuild', () => {
  it('lists the modules, not the objects of a multi-object module', async () => {
    const { kbuildModules } = await import('../../scripts/lib/kbuild.ts');
    expect(kbuildModules('# c\nobj-m += qk_bench.o\nobj-m += qk_a.o qk_b.o\nqk_big-y := x.o y.o\nobj-y += z.o\n')).toEqual(['qk_bench.o', 'qk_a.o', 'qk_b.o']);
  });
});
