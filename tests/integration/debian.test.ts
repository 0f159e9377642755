/**
 * The Debian registry for real, through the code path run.mjs uses: a
 * private apt configuration in the suite's work directory, the newest
 * version found across suites, a small package (linux-config-7.3, about
 * 1 MB) downloaded and extracted, a release the registry lacks, and a
 * keyring that cannot verify the archive.
 */
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { DebianRegistry, hostSources } from '../../scripts/lib/pipeline/debian.ts';
import { QkError } from '../../scripts/lib/plumbing/errors.ts';
import { sha256File } from '../../scripts/lib/plumbing/fsutil.ts';
import { captureLogger } from '../../scripts/lib/plumbing/log.ts';
import { resolveSource } from '../../scripts/lib/pipeline/source.ts';

const qk = inject('qk');
const CONFIGS = { prefix: 'linux-config-', what: 'kernel configs', flag: (n: string) => n };

describe('the Debian registry', () => {
  const log = captureLogger();
  const logFile = join(qk.out, 'debian-registry.log');

  it('fetches a small package: newest version across suites, signature and hash checked, extracted, recorded', async () => {
    const reg = new DebianRegistry(await mkdtemp(join(qk.work, 'debian-')), { log, logFile });
    const v = await reg.lookup('linux-config-7.3', CONFIGS);
    expect(v.version).toMatch(/^7\.3\./);
    const p = await reg.fetch(v);
    expect(p).toMatchObject({ pkg: 'linux-config-7.3', version: v.version, suite: v.suite });
    expect(p.sha256).toBe(await sha256File(p.deb));
    expect(existsSync(join(p.root, 'usr', 'src', 'linux-config-7.3', 'config.amd64_none_cloud-amd64.xz'))).toBe(true);
    // Fetched once: the second time it is the record, even with the lists gone stale.
    expect(await reg.fetch(v)).toEqual(p);
    expect(await reg.fetched('linux-config-7.3')).toEqual(p);
  });

  it('names the kernel sources it has when a release is missing, before anything is built', async () => {
    const e = await resolveSource({ kind: 'debian', release: '5.99' }, { workDir: await mkdtemp(join(qk.work, 'debian-')), log, logFile }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(QkError);
    expect((e as QkError).runClass).toBe('usage-error');
    expect((e as QkError).message).toBe('the Debian registry has no linux-source-5.99');
    expect((e as QkError).hint).toMatch(/^kernel sources it has: .*debian:6\.12.*debian:7\.3/);
  });

  it('refuses the archive when the keyring cannot verify its signature', async () => {
    // The host's own mirror, but a keyring holding none of the keys that sign today's suites.
    const host = await hostSources();
    const main = host.find((s) => !s.suites.some((x) => x.endsWith('-security')))!;
    const wrong = { ...main, suites: ['stable-backports'], signedBy: '/usr/share/keyrings/debian-archive-removed-keys.gpg' };
    const reg = new DebianRegistry(await mkdtemp(join(qk.work, 'debian-')), { log, logFile, sources: async () => ({ sources: [wrong], codename: 'none' }) });
    const e = await reg.update().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(QkError);
    expect((e as QkError).runClass).toBe('infra-error');
    expect((e as QkError).message).toMatch(/signature could not be verified for .*stable-backports/);
  });
});
