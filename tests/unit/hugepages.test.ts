/**
 * The compiler's huge-page preload: when a run uses it, and that it does
 * advise large anonymous mappings (the kernel marks them "hg" in smaps).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { compilerHugepages, parseThpMode } from '../../scripts/lib/pipeline/hugepages.ts';
import { captureLogger } from '../../scripts/lib/plumbing/log.ts';
import { useTempDir } from './tempdir.ts';

/** Maps argv[1] MiB of anonymous memory and prints the VmFlags of that mapping. */
const PROBE = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
int main(int argc, char **argv)
{
	size_t len = strtoul(argv[1], NULL, 0) << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char want[32], line[512];
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0;

	if (p == MAP_FAILED || !f)
		return 1;
	snprintf(want, sizeof(want), "%lx-", (unsigned long)p);
	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && strchr(line, ' ') && strchr(line, '-') < strchr(line, ' '))
			in = strncmp(line, want, strlen(want)) == 0;
		if (in && strncmp(line, "VmFlags:", 8) == 0)
			fputs(line, stdout);
	}
	return 0;
}
`;

describe('parseThpMode', () => {
  it('reads the bracketed mode of the sysfs file', () => {
    expect(parseThpMode('always [madvise] never\n')).toBe('madvise');
    expect(parseThpMode('[always] madvise never\n')).toBe('always');
    expect(parseThpMode('always madvise [never]\n')).toBe('never');
    expect(parseThpMode('always madvise never\n')).toBeUndefined();
    expect(parseThpMode('[sometimes]')).toBeUndefined();
  });
});

describe('compilerHugepages', () => {
  const tmp = useTempDir('qk-thp-');
  const modeFile = async (text: string) => {
    const f = join(tmp(), 'enabled');
    await writeFile(f, text);
    return f;
  };
  const ask = (thpFile: string, choice: 'auto' | 'off' = 'auto', env: NodeJS.ProcessEnv = {}) =>
    compilerHugepages({ choice, workDir: join(tmp(), 'work'), log: captureLogger(), logFile: join(tmp(), 'thp.log'), thpFile, env });

  it('preloads nothing where the host decides alone, or when told not to', async () => {
    for (const [text, thp] of [['[always] madvise never', 'always'], ['always madvise [never]', 'never']] as const) {
      const r = await ask(await modeFile(text));
      expect(r, text).toMatchObject({ thp, env: {} });
      expect(r.preload).toBeUndefined();
    }
    expect(await ask(join(tmp(), 'none'))).toMatchObject({ thp: 'absent', env: {} });
    const off = await ask(await modeFile('always [madvise] never'), 'off');
    expect(off).toMatchObject({ thp: 'madvise', env: {} });
    expect(off.note).toContain('--build-hugepages off');
  });

  it('with THP madvise, builds the preload and adds it to what the environment already has', async () => {
    const r = await ask(await modeFile('always [madvise] never'), 'auto', { LD_PRELOAD: '/x/other.so', GLIBC_TUNABLES: 'glibc.malloc.check=0' });
    expect(r.thp).toBe('madvise');
    expect(r.preload).toMatch(/\/work\/tools\/qk-thp-[0-9a-f]+\.so$/);
    expect(r.env).toEqual({ LD_PRELOAD: `/x/other.so:${r.preload}`, GLIBC_TUNABLES: 'glibc.malloc.check=0:glibc.malloc.hugetlb=1' });
    const alone = await ask(await modeFile('always [madvise] never'));
    expect(alone.env).toEqual({ LD_PRELOAD: r.preload, GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' });
  });

  it('leaves the preload out, with a warning, where the loader cannot take its path', async () => {
    // LD_PRELOAD splits on spaces and colons: a work directory with one would preload nothing, silently.
    const log = captureLogger();
    const r = await compilerHugepages({ choice: 'auto', workDir: join(tmp(), 'my work'), log, logFile: join(tmp(), 'thp.log'), thpFile: await modeFile('always [madvise] never'), env: {} });
    expect(r).toMatchObject({ thp: 'madvise', env: {} });
    expect(r.preload).toBeUndefined();
    expect(r.note).toMatch(/^no preload: qk-thp did not build or load \(the dynamic loader refused /);
    expect(log.lines.join('\n')).toMatch(/^warning: the compiler's huge-page preload .* did not build or load .*compiling without it, slower/m);
  });

  it("the preload advises a process's large anonymous mappings, and only those", async () => {
    const r = await ask(await modeFile('always [madvise] never'));
    const src = join(tmp(), 'probe.c');
    const probe = join(tmp(), 'probe');
    await writeFile(src, PROBE);
    await execa('gcc', ['-O2', '-o', probe, src]);
    const flags = async (mib: number, env: Record<string, string>) => (await execa(probe, [String(mib)], { env, extendEnv: false })).stdout;
    // "hg": the mapping was advised MADV_HUGEPAGE.
    expect(await flags(4, r.env)).toMatch(/^VmFlags:.* hg\b/);
    expect(await flags(4, {})).toMatch(/^VmFlags:/);
    expect(await flags(4, {})).not.toMatch(/\bhg\b/);
    expect(await flags(1, r.env)).not.toMatch(/\bhg\b/);
    expect(await readFile(join(tmp(), 'thp.log'), 'utf8')).toContain('gcc');
  });
});
