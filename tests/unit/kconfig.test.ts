import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkConfig, compareVersions, describeMismatch, mergeRequests, parseKconfig, resolveFragment } from '../../scripts/lib/pipeline/kconfig.ts';
import { CONFIG_DIR } from '../../scripts/lib/pipeline/kbuild.ts';

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
    const { kbuildModules } = await import('../../scripts/lib/pipeline/kbuild.ts');
    expect(kbuildModules('# c\nobj-m += qk_bench.o\nobj-m += qk_a.o qk_b.o\nqk_big-y := x.o y.o\nobj-y += z.o\n')).toEqual(['qk_bench.o', 'qk_a.o', 'qk_b.o']);
  });
});

describe('version conditions in fragments', () => {
  const requested = (file: string, version: string) =>
    parseKconfig(resolveFragment(readFileSync(join(CONFIG_DIR, file), 'utf8'), version, file), file).map((e) => `${e.option}=${e.value}`);

  it('asks 6.12 for per-CPU partial slabs and no legacy-tables option, 7.3 the other way round', () => {
    expect(requested('x86_64.config', '6.12.118')).toContain('CONFIG_SLUB_CPU_PARTIAL=y');
    expect(requested('x86_64.config', '7.3.4')).not.toContain('CONFIG_SLUB_CPU_PARTIAL=y');
    expect(requested('common.config', '6.12.118')).not.toContain('CONFIG_NETFILTER_XTABLES_LEGACY=y');
    expect(requested('common.config', '6.1.158')).not.toContain('CONFIG_IP_NF_IPTABLES_LEGACY=y');
    expect(requested('common.config', '7.3.4')).toEqual(expect.arrayContaining(['CONFIG_NETFILTER_XTABLES_LEGACY=y', 'CONFIG_IP_NF_IPTABLES_LEGACY=y', 'CONFIG_IP_NF_RAW=y']));
    // Everything else is asked of every version alike.
    expect(requested('common.config', '6.12.118')).toEqual(requested('common.config', '7.3.4').filter((o) => !/LEGACY/.test(o)));
  });

  it('keeps line numbers, so a dropped option is still named by file and line', () => {
    const text = '# qk-if version >= 7.0\nCONFIG_A=y\n# qk-else\nCONFIG_B=y\n# qk-endif\nCONFIG_C=y\n';
    expect(parseKconfig(resolveFragment(text, '7.3.4', 'f'), 'f').map((e) => `${e.option}:${e.line}`)).toEqual(['CONFIG_A:2', 'CONFIG_C:6']);
    expect(parseKconfig(resolveFragment(text, '6.12.9', 'f'), 'f').map((e) => `${e.option}:${e.line}`)).toEqual(['CONFIG_B:4', 'CONFIG_C:6']);
    const nested = '# qk-if version >= 6.0\n# qk-if version < 7.0\nCONFIG_X=y\n# qk-endif\n# qk-endif\n';
    expect(parseKconfig(resolveFragment(nested, '6.12', 'f'), 'f')).toHaveLength(1);
    expect(parseKconfig(resolveFragment(nested, '7.0.0', 'f'), 'f')).toHaveLength(0);
    expect(parseKconfig(resolveFragment(nested, '5.15', 'f'), 'f')).toHaveLength(0);
  });

  it('compares versions as numbers, with 7.0-rc1 counting as 7.0', () => {
    expect(compareVersions('6.12.118', '6.2')).toBe(1);
    expect(compareVersions('6.9', '6.17')).toBe(-1);
    expect(compareVersions('7.0.0-rc1', '7.0')).toBe(0);
  });

  it('refuses unbalanced or unknown directives with file and line', () => {
    expect(() => resolveFragment('# qk-if version >= 7.0\nCONFIG_A=y\n', '7.3', 'f')).toThrow(/f:1: qk-if without its qk-endif/);
    expect(() => resolveFragment('CONFIG_A=y\n# qk-endif\n', '7.3', 'f')).toThrow(/f:2: qk-endif without/);
    expect(() => resolveFragment('# qk-if arch == um\n', '7.3', 'f')).toThrow(/f:1: .* is not a condition/);
    expect(() => resolveFragment('# qk-if version > 7\n# qk-else\n# qk-else\n# qk-endif\n', '7.3', 'f')).toThrow(/f:3: qk-else without/);
  });
});
