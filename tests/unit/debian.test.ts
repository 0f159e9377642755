import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatSources, isDebOf, missingPackage, newestFirst, parseDeb822Sources, parseMadison, parseOneLineSources, registrySources, signatureFailures } from '../../scripts/lib/pipeline/debian.ts';
import { parseSourceSpec, sourceLabel } from '../../scripts/lib/pipeline/source.ts';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'apt');
const fixture = (name: string) => readFileSync(join(FIX, name), 'utf8');

// A host's sources as Debian 12 writes them (deb822), with a placeholder mirror.
const HOST_DEB822 = `Types: deb
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://mirror.example/debian
Suites: bookworm
Components: main
`;

describe('the Debian registry: sources', () => {
  it("reads the host's deb822 and one-line sources, deb entries only", () => {
    const s = parseDeb822Sources(HOST_DEB822);
    expect(s).toEqual([
      { uri: 'http://mirror.example/debian', suites: ['bookworm', 'bookworm-updates'], components: ['main'], signedBy: '/usr/share/keyrings/debian-archive-keyring.gpg' },
      { uri: 'http://mirror.example/debian-security', suites: ['bookworm-security'], components: ['main'], signedBy: '/usr/share/keyrings/debian-archive-keyring.gpg' },
    ]);
    expect(parseOneLineSources('# x\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main contrib\ndeb-src http://m.example/debian bookworm main\n')).toEqual([
      { uri: 'http://m.example/debian', suites: ['bookworm'], components: ['main', 'contrib'], signedBy: '/k.gpg' },
    ]);
  });

  it("discovers suites through the mirror's aliases on the host's own mirror, never on the security mirror", () => {
    const text = formatSources(registrySources(parseDeb822Sources(HOST_DEB822), 'bookworm'));
    const lines = text.trim().split('\n');
    for (const suite of ['stable', 'stable-backports', 'testing', 'unstable', 'bookworm-backports', 'bookworm', 'bookworm-security']) {
      expect(lines.filter((l) => l.split(' ')[3] === suite)).toHaveLength(1);
    }
    expect(lines.filter((l) => l.includes('debian-security'))).toEqual(['deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example/debian-security bookworm-security main']);
    expect(lines.every((l) => l.startsWith('deb [signed-by=/'))).toBe(true);
    expect(() => registrySources([], 'bookworm')).toThrow(/name no Debian mirror/);
  });
});

describe('the Debian registry: lookups on recorded apt output', () => {
  it('takes the newest version of a package from whichever suite has it', async () => {
    const all = parseMadison(fixture('madison-linux-source.txt'));
    expect(all).toHaveLength(16);
    const newest = async (pkg: string) => (await newestFirst(all.filter((v) => v.pkg === pkg).reverse()))[0];
    expect(await newest('linux-source-7.3')).toMatchObject({ version: '7.3.4-1~bpo13+1', suite: 'stable-backports' });
    // unstable's 7.2.13 over testing's 7.2.12; dpkg ordering, not string ordering (7.2.9 < 7.2.13).
    expect(await newest('linux-source-7.2')).toMatchObject({ version: '7.2.13-1', suite: 'unstable' });
    // A security update (~deb12u1) of 6.12.118 over trixie's 6.12.117.
    expect(await newest('linux-source-6.12')).toMatchObject({ version: '6.12.118-1~deb12u1', suite: 'bookworm-security' });
  });

  it("finds the .deb apt-get download wrote, an epoch spelled %3a in its name", () => {
    expect(isDebOf('linux-source-7.3_7.3.4-1~bpo13+1_all.deb', 'linux-source-7.3', '7.3.4-1~bpo13+1')).toBe(true);
    expect(isDebOf('qemu-system-x86_1%3a10.0.2+ds-2+deb13u1~bpo12+1_amd64.deb', 'qemu-system-x86', '1:10.0.2+ds-2+deb13u1~bpo12+1')).toBe(true);
    expect(isDebOf('qemu-system-x86_1%3a7.2+dfsg-7_amd64.deb', 'qemu-system-x86', '1:10.0.2+ds-2+deb13u1~bpo12+1')).toBe(false);
    // Another package whose name starts the same way is not it.
    expect(isDebOf('qemu-system-x86-xen_1%3a10.0.2+ds-2_amd64.deb', 'qemu-system-x86', '1:10.0.2+ds-2')).toBe(false);
  });

  it('names the versions the registry has when one is missing', () => {
    const family = { prefix: 'linux-source-', what: 'kernel sources', flag: (n: string) => `debian:${n.slice('linux-source-'.length)}` };
    const e = missingPackage('linux-source-5.99', ['linux-source-7.3', 'linux-source-6.12', 'linux-source-6.1', 'linux-source-7.2', 'linux-source-all'], family);
    expect(e.runClass).toBe('usage-error');
    expect(e.message).toBe('the Debian registry has no linux-source-5.99');
    expect(e.hint).toBe('kernel sources it has: debian:6.1, debian:6.12, debian:7.2, debian:7.3');
  });

  it('finds the suite whose signature failed in apt-get update output', () => {
    expect(signatureFailures(fixture('update-nopubkey.txt'))).toEqual([
      { suite: 'stable-backports', line: expect.stringMatching(/^W: GPG error: .*NO_PUBKEY/) },
    ]);
    expect(signatureFailures('Hit:1 http://mirror.example/debian stable InRelease\nReading package lists...\n')).toEqual([]);
  });

  it('spells bases as debian or debian:X.Y, and nothing else', () => {
    expect(parseSourceSpec('debian:7.3')).toEqual({ kind: 'debian', release: '7.3' });
    expect(parseSourceSpec('debian')).toEqual({ kind: 'debian' });
    expect(sourceLabel(parseSourceSpec('debian:6.12'))).toBe('debian:6.12');
    expect(() => parseSourceSpec('debian:7')).toThrow(/not a kernel release/);
    expect(() => parseSourceSpec('ubuntu:24.04')).toThrow(/expected debian or debian:X.Y/);
  });
});
