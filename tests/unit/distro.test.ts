import { describe, expect, it } from 'vitest';
import { chooseConfigVersion, describeChange, distroChanges, seriesOptions, upstreamVersion, withoutModules } from '../../scripts/lib/pipeline/distro.ts';
import { ARCH_SPECS, configBase } from '../../scripts/lib/pipeline/kbuild.ts';

const v = (version: string) => ({ pkg: 'linux-config-7.3', version, uri: 'u', suite: 's' });

describe("Debian's kernel configs", () => {
  it('reads the upstream version out of a Debian one', () => {
    expect(upstreamVersion('7.3.4-1~bpo13+1')).toBe('7.3.4');
    expect(upstreamVersion('1:6.12.118-1~deb12u1')).toBe('6.12.118');
    expect(upstreamVersion('6.12')).toBe('6.12');
  });

  it("takes the config of the tree's own version, else the newest and says so", () => {
    const versions = [v('7.3.5-1'), v('7.3.4-2'), v('7.3.4-1')];
    expect(chooseConfigVersion(versions, '7.3.4')).toEqual({ version: v('7.3.4-2') });
    const other = chooseConfigVersion(versions, '7.3.2');
    expect(other?.version).toEqual(v('7.3.5-1'));
    expect(other?.note).toMatch(/no linux-config-7\.3 for 7\.3\.2: Debian's config of 7\.3\.5/);
    expect(chooseConfigVersion([], '7.3.4')).toBeUndefined();
  });

  it('leaves modules out and keeps everything else', () => {
    const text = 'CONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_D="m"\nCONFIG_EM=m\n';
    expect(withoutModules(text)).toBe('CONFIG_A=y\n# CONFIG_B is not set\n# CONFIG_C is not set\nCONFIG_D="m"\n# CONFIG_EM is not set\n');
  });

  it('says why each built-in option is not as Debian has it: toolchain, modules or our fragments', () => {
    const debian = 'CONFIG_RUST=y\nCONFIG_HAVE_KVM_MSI=y\nCONFIG_KVM=m\nCONFIG_HZ=250\nCONFIG_DEBUG_INFO_BTF=y\nCONFIG_SLAB_BUCKETS=y\nCONFIG_GCC_VERSION=140200\n';
    const asIs = debian.replace('CONFIG_RUST=y\n', '').replace('140200', '120200');
    const noModules = asIs.replace('CONFIG_HAVE_KVM_MSI=y\n', '').replace('CONFIG_KVM=m\n', '');
    const final = noModules.replace('CONFIG_DEBUG_INFO_BTF=y\n', '# CONFIG_DEBUG_INFO_BTF is not set\n');
    const changes = distroChanges({ debian, asIs, noModules, final });
    expect(changes.map((c) => [c.option, c.by])).toEqual([
      ['CONFIG_RUST', 'toolchain'],
      ['CONFIG_HAVE_KVM_MSI', 'modules'],
      ['CONFIG_DEBUG_INFO_BTF', 'fragment'],
    ]);
    expect(describeChange(changes[2]!)).toBe('CONFIG_DEBUG_INFO_BTF: Debian y, here not set (our fragments set it, or what it follows from)');
  });

  it('records the options the series feels, off ones as n', () => {
    const o = seriesOptions('CONFIG_SLAB_FREELIST_HARDENED=y\nCONFIG_HZ=250\nCONFIG_KFENCE_SAMPLE_INTERVAL=0\n# CONFIG_NUMA is not set\n');
    expect(o).toMatchObject({ SLAB_FREELIST_HARDENED: 'y', HZ: '250', KFENCE_SAMPLE_INTERVAL: '0', NUMA: 'n', INIT_ON_ALLOC_DEFAULT_ON: 'n' });
  });

  it('builds distro and rt from Debian on x86_64; UML takes distro as a fragment and refuses rt', () => {
    expect(configBase({ arch: 'x86_64', flavor: 'normal' }, 'distro').debian).toBe('cloud-amd64');
    expect(configBase({ arch: 'x86_64', flavor: 'normal' }, 'rt').debian).toBe('rt-amd64');
    expect(configBase({ arch: 'x86_64', flavor: 'normal' }, 'rt').cannotHave?.options).toContain('CONFIG_NETFILTER_XTABLES_LEGACY');
    expect(configBase({ arch: 'um', flavor: 'normal' }, 'distro').fragments).toContain('um-distro.config');
    expect(configBase({ arch: 'um', flavor: 'normal' }, 'rt').unsupported).toMatch(/PREEMPT_RT/);
    // Checker flavors keep their own base whatever the profile.
    expect(configBase({ arch: 'x86_64', flavor: 'debug' }, 'distro')).toBe(ARCH_SPECS.x86_64.checker);
  });
});
