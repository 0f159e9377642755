import { describe, expect, it } from 'vitest';
import { archesFor, bootPlan, kernelName, targetsFor, parseSide, planRun, sidesFromVariants } from '../../scripts/lib/pipeline/plan.ts';
import { reproduceCommand } from '../../scripts/lib/pipeline/pipeline.ts';
import { bootCommand, guestCmdline, numaArgs, qemuArgs, smpValue, umlArgs } from '../../scripts/lib/pipeline/boot.ts';
import { shellQuote } from '../../scripts/lib/plumbing/quote.ts';
import { parseSeriesFile, parseArgsFile, failedFilesFromAm, amSummary } from '../../scripts/lib/pipeline/series.ts';
import { cpioList, parentDirs, parseLdd } from '../../scripts/lib/pipeline/image.ts';
import { parseKernelVersion } from '../../scripts/lib/pipeline/source.ts';
import { compilerErrors, defconfigTargets, fragmentPaths, targetName } from '../../scripts/lib/pipeline/kbuild.ts';
import type { ImageResult } from '../../scripts/lib/pipeline/image.ts';
import { coverLetterDescription } from '../../scripts/lib/series/edit.ts';
import { copyHeaders } from '../../scripts/lib/series/mail.ts';
import { parseCheckpatchTotals } from '../../scripts/lib/series/check.ts';

const image: ImageResult = { kind: 'initramfs', path: '/x/initramfs.cpio', init: '/init', moduleDir: '/qk/modules', key: 'k', cached: false };

describe('planning', () => {
  it('needs x86_64 for QEMU backends and um for uml', () => {
    expect(archesFor(['auto', 'uml'])).toEqual(['x86_64', 'um']);
    expect(archesFor(['icount'])).toEqual(['x86_64']);
    expect(archesFor(['uml'])).toEqual(['um']);
  });

  it('interleaves sides, alternates who goes first and records the position', () => {
    const p = bootPlan(2, ['tcg', 'uml'], sidesFromVariants(['baseline', 'patched']));
    expect(p.map((s) => `${s.round}${s.backend[0]}${s.side.name[0]}${s.position}`)).toEqual(['0tb0', '0tp1', '0ub0', '0up1', '1tp0', '1tb1', '1up0', '1ub1']);
    expect(p.map((s) => s.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(p.every((s) => s.purpose === 'bench')).toBe(true);
  });

  it('gives KUnit suites boots of their own, once per side and backend, before the benchmark rounds', () => {
    const sides = [parseSide('base=baseline'), parseSide('off=patched skb_qmempool=off'), parseSide('on=patched')];
    const p = bootPlan(2, ['tcg', 'uml'], sides, ['normal'], ['patched']);
    expect(p.map((s) => `${s.purpose}:${s.round}:${s.backend}:${s.side.name}`)).toEqual([
      'kunit:0:tcg:off', 'kunit:0:tcg:on', 'kunit:0:uml:off', 'kunit:0:uml:on',
      'bench:0:tcg:base', 'bench:0:tcg:off', 'bench:0:tcg:on', 'bench:0:uml:base', 'bench:0:uml:off', 'bench:0:uml:on',
      'bench:1:tcg:on', 'bench:1:tcg:off', 'bench:1:tcg:base', 'bench:1:uml:on', 'bench:1:uml:off', 'bench:1:uml:base',
    ]);
    expect(p.map((s) => s.seq)).toEqual([...p.keys()]);
  });

  it('reads sides: a tree plus kernel arguments', () => {
    expect(parseSide('off=patched skb_qmempool=off')).toEqual({ name: 'off', variant: 'patched', cmdline: ['skb_qmempool=off'] });
    expect(parseSide('base=baseline')).toEqual({ name: 'base', variant: 'baseline', cmdline: [] });
    expect(parseSide('two=patched a=1  b')).toEqual({ name: 'two', variant: 'patched', cmdline: ['a=1', 'b'] });
    expect(() => parseSide('x=mainline')).toThrow(/unknown kernel tree 'mainline'/);
    expect(() => parseSide('no tree')).toThrow(/NAME=TREE/);
  });

  it('reads a side on another base, and the strings the old grammar would have misread', () => {
    expect(parseSide('s73=baseline@debian:7.3')).toEqual({ name: 's73', variant: 'baseline', cmdline: [], base: 'debian:7.3' });
    expect(parseSide('on73=patched@debian:7.3 skb_qmempool=on init_on_alloc=1')).toEqual({ name: 'on73', variant: 'patched', cmdline: ['skb_qmempool=on', 'init_on_alloc=1'], base: 'debian:7.3' });
    // A colon in an argument stays in the argument; the base is only what follows '@' in the first word.
    expect(parseSide('x=patched console=ttyS0,115200 a:b=1 foo@bar')).toEqual({ name: 'x', variant: 'patched', cmdline: ['console=ttyS0,115200', 'a:b=1', 'foo@bar'] });
    expect(parseSide('i=baseline@debian')).toEqual({ name: 'i', variant: 'baseline', cmdline: [], base: 'debian' });
    // The old spelling is refused with the new one, never read as a base.
    expect(() => parseSide('off=patched:skb_qmempool=off')).toThrow(/after a space/);
    expect(() => parseSide('s=baseline:debian:7.3')).toThrow(/after a space/);
    expect(() => parseSide('s=baseline@7.3')).toThrow(/debian or debian:X.Y/);
    expect(() => parseSide('s=baseline@debian:7')).toThrow(/not a kernel release/);
    expect(() => parseSide('s=baseline@debian:7.3:x=1')).toThrow(/not a kernel release/);
    expect(() => parseSide('s=@debian:7.3')).toThrow(/NAME=TREE/);
  });

  it('plans one tree per base and variant, and shares a tree between sides on it', () => {
    const base = { backends: ['uml'] as const, flavors: ['normal'] as const, workDir: '/w', outputDir: '/o', runId: 'r' };
    const sides = [parseSide('s612=baseline'), parseSide('s73=baseline@debian:7.3'), parseSide('s73i=baseline@debian:7.3 init_on_alloc=1'), parseSide('p=patched')];
    const p = planRun({ ...base, sides });
    expect(p.bases).toEqual(['debian:7.3']);
    expect(p.trees).toEqual([{ variant: 'baseline' }, { variant: 'patched' }, { variant: 'baseline', base: 'debian:7.3' }]);
    expect(p.kernels.map(kernelName)).toEqual(['baseline/um', 'patched/um', 'baseline@debian:7.3/um']);
    // Rounds pair the sides of both bases, side by side in time.
    expect(bootPlan(2, ['uml'], sides).map((s) => `${s.round}:${s.side.name}`)).toEqual(['0:s612', '0:s73', '0:s73i', '0:p', '1:p', '1:s73i', '1:s73', '1:s612']);
  });

  it('builds a kernel per profile its sides ask for, on the same tree', () => {
    expect(parseSide('don=patched@debian:7.3/distro skb_qmempool=on')).toEqual({ name: 'don', variant: 'patched', cmdline: ['skb_qmempool=on'], base: 'debian:7.3', profile: 'distro' });
    expect(parseSide('t=baseline/trimmed')).toEqual({ name: 't', variant: 'baseline', cmdline: [], profile: 'trimmed' });
    expect(() => parseSide('x=patched/tiny')).toThrow(/unknown config profile 'tiny'/);
    const base = { backends: ['uml', 'tcg'] as const, flavors: ['normal'] as const, workDir: '/w', outputDir: '/o', runId: 'r', profile: 'trimmed' as const };
    const sides = ['b=baseline@debian:7.3', 'on=patched@debian:7.3 skb_qmempool=on', 'db=baseline@debian:7.3/distro', 'don=patched@debian:7.3/distro skb_qmempool=on', 'same=patched@debian:7.3/trimmed'].map(parseSide);
    const p = planRun({ ...base, sides });
    expect(p.trees).toEqual([{ variant: 'baseline', base: 'debian:7.3' }, { variant: 'patched', base: 'debian:7.3' }]);
    expect(p.kernels.map(kernelName)).toEqual([
      'baseline@debian:7.3/x86_64', 'baseline@debian:7.3/x86_64/distro', 'patched@debian:7.3/x86_64', 'patched@debian:7.3/x86_64/distro',
      'baseline@debian:7.3/um', 'baseline@debian:7.3/um/distro', 'patched@debian:7.3/um', 'patched@debian:7.3/um/distro',
    ]);
    // The run's own profile named on a side is no profile of its own.
    expect(p.sides.find((s) => s.name === 'same')?.profile).toBeUndefined();
    // A profile a backend's arch cannot build is refused before anything is built.
    expect(() => planRun({ ...base, sides: [parseSide('rt=patched/rt')] })).toThrow(/--side rt: the rt profile cannot be built for um/);
    expect(planRun({ ...base, backends: ['tcg'], sides: [parseSide('rt=patched/rt')] }).kernels.map(kernelName)).toEqual(['patched/x86_64/rt']);
  });

  it('checks flag combinations before anything is built', () => {
    const base = { sides: sidesFromVariants(['baseline']), backends: ['tcg'] as const, flavors: ['normal'] as const, workDir: '/w', outputDir: '/o', runId: 'r' };
    expect(planRun(base).kernels.map((k) => `${k.variant}/${k.target.arch}`)).toEqual(['baseline/x86_64']);
    expect(() => planRun({ ...base, backends: ['auto'], flavors: ['debug'] })).toThrow(/--backend auto needs the normal flavor/);
    expect(() => planRun({ ...base, workDir: '/my runs' })).toThrow(/white space/);
    expect(() => planRun({ ...base, sides: [parseSide('a=patched'), parseSide('a=baseline')] })).toThrow(/given twice/);
    expect(() => planRun({ ...base, backends: ['uml'], flavors: ['kcsan'] })).toThrow(/nothing to build/);
    // Two sides on one tree build it once.
    const two = planRun({ ...base, sides: [parseSide('off=patched x=0'), parseSide('on=patched x=1')] });
    expect(two.variants).toEqual(['patched']);
    expect(two.kernels).toHaveLength(1);
  });

  it('boots debug flavors on QEMU backends only, and builds them for x86_64 only', () => {
    const p = bootPlan(1, ['tcg', 'uml'], sidesFromVariants(['patched']), ['normal', 'kcsan']);
    expect(p.map((s) => `${s.flavor}/${s.backend}/${s.purpose}`)).toEqual(['normal/tcg/bench', 'normal/uml/bench', 'kcsan/tcg/kunit']);
    expect(targetsFor(['x86_64', 'um'], ['normal', 'debug']).map(targetName)).toEqual(['x86_64', 'um', 'x86_64-debug']);
  });

  it('orders fragments: arch, then trimming, then extra', () => {
    const f = fragmentPaths({ arch: 'x86_64', flavor: 'debug' }, 'trimmed', { series: ['/s/kernel.config'], extra: ['/tmp/extra.config'] }).map((p) => p.split('/').pop());
    expect(f).toEqual(['common.config', 'x86_64-tiny.config', 'debug.config', 'kernel.config', 'extra.config']);
    expect(defconfigTargets({ arch: 'x86_64', flavor: 'kcsan' }, 'small')).toEqual(['tinyconfig']);
    expect(defconfigTargets({ arch: 'x86_64', flavor: 'normal' }, 'trimmed')).toEqual(['x86_64_defconfig', 'kvm_guest.config']);
    expect(defconfigTargets({ arch: 'x86_64', flavor: 'normal' }, 'small')).toEqual(['tinyconfig']);
    expect(fragmentPaths({ arch: 'x86_64', flavor: 'normal' }, 'small').map((p) => p.split('/').pop())).toEqual(['common.config', 'x86_64-small.config', 'x86_64.config']);
    expect(fragmentPaths({ arch: 'um', flavor: 'normal' }, 'small').map((p) => p.split('/').pop())).toEqual(['common.config', 'um.config', 'um-small.config']);
    expect(fragmentPaths({ arch: 'x86_64', flavor: 'normal' }, 'full').map((p) => p.split('/').pop())).toEqual(['common.config', 'x86_64.config']);
    expect(fragmentPaths({ arch: 'um', flavor: 'normal' }, 'trimmed').map((p) => p.split('/').pop())).toEqual(['common.config', 'um.config']);
  });
});

describe('argv builders', () => {
  const cmdline = guestCmdline({ run: 'r1', variant: 'baseline', backend: 'tcg', modules: ['qk_bench'] }, image);

  it('passes guest parameters as qk_* words', () => {
    expect(cmdline).toEqual(['qk_run=r1', 'qk_variant=baseline', 'qk_backend=tcg', 'qk_moddir=/qk/modules', 'qk_modules=qk_bench']);
  });

  it('tells UML guests where to mount the image directory', () => {
    const uml: ImageResult = { kind: 'hostfs', path: '/tmp/w/image-um', init: '/tmp/w/image-um/init', moduleDir: '/run/qk/modules', key: 'k', cached: true };
    expect(guestCmdline({ run: 'r', variant: 'patched', backend: 'uml', modules: [], kunit: ['alf_queue_kunit'], flavor: 'normal' }, uml)).toEqual([
      'qk_run=r', 'qk_variant=patched', 'qk_backend=uml', 'qk_moddir=/run/qk/modules', 'qk_hostdir=/tmp/w/image-um', 'qk_kunit=alf_queue_kunit',
    ]);
  });

  it('builds QEMU command lines per backend', () => {
    const base = { kernel: '/k/bzImage', initrd: '/k/i.cpio', smp: 2, memoryMB: 512, cmdline };
    const tcg = qemuArgs({ ...base, backend: 'tcg' });
    expect(tcg).toContain('tcg,thread=single');
    expect(qemuArgs({ ...base, backend: 'tcg', tcgThreads: 'multi' })).toContain('tcg,thread=multi');
    expect(tcg.slice(tcg.indexOf('-smp'), tcg.indexOf('-smp') + 2)).toEqual(['-smp', '2']);
    expect(tcg).toContain('-no-reboot');
    const append = tcg[tcg.indexOf('-append') + 1]!;
    expect(append.split(' ')).toEqual(expect.arrayContaining(['console=ttyS0', 'panic=-1', 'qk_variant=baseline']));
    const icount = qemuArgs({ ...base, backend: 'icount' });
    expect(icount).toEqual(expect.arrayContaining(['-icount', 'shift=0,align=off,sleep=off', 'tcg,thread=single']));
    const kvm = qemuArgs({ ...base, backend: 'kvm' });
    expect(kvm).toEqual(expect.arrayContaining(['-accel', 'kvm', '-cpu', 'host']));
  });

  it('numbers attempts and names sides on the command line, and refuses white space', () => {
    const c = guestCmdline({ run: 'r', variant: 'patched', side: 'off', backend: 'tcg', modules: [], attempt: 2 }, image);
    expect(c).toEqual(expect.arrayContaining(['qk_side=off', 'qk_attempt=2']));
    const spaced: ImageResult = { ...image, kind: 'hostfs', path: '/my runs/image-um' };
    expect(() => guestCmdline({ run: 'r', variant: 'baseline', backend: 'uml', modules: [] }, spaced)).toThrow(/white space/);
  });

  it('builds the argument vector inside the boot stage, and a pasteable reproducer', () => {
    const guest = { run: 'r', variant: 'baseline', backend: 'tcg' as const, modules: [], attempt: 1 };
    const b = bootCommand({ backend: 'tcg', kernel: '/k/bzImage', image, smp: 2, memoryMB: 1024, guest, extraCmdline: ['x=1'], tcgThreads: 'single' });
    expect(b.cmd).toBe('qemu-system-x86_64');
    expect(shellQuote([b.cmd, ...b.args])).toContain("-append 'console=ttyS0 panic=-1 rdinit=/init no_timer_check qk_run=r qk_variant=baseline qk_backend=tcg qk_moddir=/qk/modules qk_attempt=1 x=1'");
    // The KVM probe is a request like any other, with probe: true.
    const p = bootCommand({ backend: 'kvm', kernel: '/k/bzImage', image, smp: 2, memoryMB: 1024, guest, extraCmdline: [], tcgThreads: 'single', probe: true });
    expect(p.args.slice(p.args.indexOf('-smp'), p.args.indexOf('-smp') + 4)).toEqual(['-smp', '1', '-m', '512M']);
    expect(p.cmdline).toContain('qk_probe=1');
    const u = bootCommand({ backend: 'uml', kernel: '/k/linux', image: { ...image, init: '/w/init' }, smp: 2, memoryMB: 256, guest, extraCmdline: [], tcgThreads: 'single' });
    expect(u.cmd).toBe('/k/linux');
    expect(reproduceCommand(['--backend', 'tcg', '--run-id', 'x', '--append', 'a b'])).toMatch(/&& npx zx scripts\/run\.mjs --backend tcg --append 'a b'$/);
  });

  it('splits CPUs and memory over NUMA nodes, and tells init how many to find', () => {
    expect(numaArgs(1, 2, 1024)).toEqual([]);
    expect(numaArgs(2, 2, 1024)).toEqual([
      '-object', 'memory-backend-ram,id=qknode0,size=512M', '-numa', 'node,nodeid=0,cpus=0,memdev=qknode0',
      '-object', 'memory-backend-ram,id=qknode1,size=512M', '-numa', 'node,nodeid=1,cpus=1,memdev=qknode1',
    ]);
    // Memory that does not divide goes to the last node: the sizes add up to -m; a socket per node.
    expect(numaArgs(3, 6, 1000).filter((a) => a.startsWith('node,') || a.startsWith('memory-'))).toEqual([
      'memory-backend-ram,id=qknode0,size=333M', 'node,nodeid=0,cpus=0-1,memdev=qknode0',
      'memory-backend-ram,id=qknode1,size=333M', 'node,nodeid=1,cpus=2-3,memdev=qknode1',
      'memory-backend-ram,id=qknode2,size=334M', 'node,nodeid=2,cpus=4-5,memdev=qknode2',
    ]);
    expect(smpValue(6, 3)).toBe('6,sockets=3,cores=2,threads=1');
    expect(smpValue(2, 1)).toBe('2');
    expect(() => numaArgs(3, 2, 1024)).toThrow(/same number of CPUs on every node/);
    expect(() => smpValue(4, 3)).toThrow(/the guest has 4/);
    const guest = { run: 'r', variant: 'baseline', backend: 'tcg' as const, modules: [], numaNodes: 2 };
    const b = bootCommand({ backend: 'tcg', kernel: '/k/bzImage', image, smp: 2, memoryMB: 1024, numaNodes: 2, guest, extraCmdline: [], tcgThreads: 'single' });
    expect(b.args).toEqual(expect.arrayContaining(['-smp', '2,sockets=2,cores=1,threads=1', '-numa', 'node,nodeid=1,cpus=1,memdev=qknode1']));
    expect(b.cmdline).toContain('qk_numa=2');
    // The KVM probe boots one CPU: no nodes to split.
    const p = bootCommand({ backend: 'kvm', kernel: '/k/bzImage', image, smp: 2, memoryMB: 1024, numaNodes: 2, guest: { run: 'r', variant: 'baseline', backend: 'kvm', modules: [] }, extraCmdline: [], tcgThreads: 'single', probe: true });
    expect(p.args).not.toContain('-numa');
    expect(guestCmdline({ ...guest, numaNodes: 1 }, image)).not.toContain('qk_numa=1');
  });

  it('boots UML on a read-only hostfs root with our init', () => {
    const a = umlArgs({ kernel: '/k/linux', init: '/w/init', memoryMB: 256, cmdline: ['qk_run=r1'] });
    expect(a).toEqual(expect.arrayContaining(['mem=256M', 'rootfstype=hostfs', 'rootflags=/', 'ro', 'init=/w/init', 'qk_run=r1']));
  });
});

describe('build failures', () => {
  it('quote the compiler, not make', () => {
    const out = [
      '  CC      init/version.o',
      "/w/src/init/version.c:53:26: error: expected expression before ';' token",
      '   53 | static int qk_broken = ;',
      'make[3]: *** [/w/src/scripts/Makefile.build:229: init/version.o] Error 1',
      "ld: vmlinux.o: in function `start_kernel': undefined reference to `qk_missing'",
      'include/linux/x.h:1:10: fatal error: y.h: No such file or directory',
      'make: *** [Makefile:236: __sub-make] Error 2',
    ];
    expect(compilerErrors(out)).toEqual([out[1], out[4], out[5]]);
    expect(compilerErrors(['make: *** Error 2', 'warning: unused'])).toEqual([]);
  });
});

describe('series and git am', () => {
  it('reads a series file, skipping comments and blanks', () => {
    expect(parseSeriesFile('# the series\n0001-lib-alf_queue.patch\n\n0002-mm-qmempool.patch # note\n')).toEqual(['0001-lib-alf_queue.patch', '0002-mm-qmempool.patch']);
    expect(parseSeriesFile('')).toEqual([]);
    expect(parseArgsFile('# switch the pool on\nskb_qmempool=on  foo=1\n')).toEqual(['skb_qmempool=on', 'foo=1']);
  });

  it('names the files a failed git am complains about', () => {
    const out = [
      'Applying: lib: add alf_queue',
      'error: patch failed: lib/Makefile:35',
      'error: lib/Makefile: patch does not apply',
      'error: include/linux/nothere.h: does not exist in index',
      'CONFLICT (content): Merge conflict in net/core/skbuff.c',
      'error: sha1 information is lacking or useless (mm/Makefile).',
      'Patch failed at 0001 lib: add alf_queue',
      'When you have resolved this problem, run "git am --continue".',
    ].join('\n');
    expect(failedFilesFromAm(out)).toEqual(['lib/Makefile', 'include/linux/nothere.h', 'net/core/skbuff.c', 'mm/Makefile']);
    expect(amSummary(out)).not.toContain('git am --continue');
    expect(amSummary(out)).toContain('Patch failed at 0001');
  });
});

describe('guest image helpers', () => {
  it('parses ldd output', () => {
    const out = '\tlinux-vdso.so.1 (0x00007ffd)\n\tlibmnl.so.0 => /lib/x86_64-linux-gnu/libmnl.so.0 (0x00007f)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1)\n\t/lib64/ld-linux-x86-64.so.2 (0x2)\n';
    expect(parseLdd(out)).toEqual(['/lib/x86_64-linux-gnu/libmnl.so.0', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
  });

  it('lists parent directories shallowest first', () => {
    expect(parentDirs(['/usr/lib/x/a.so', '/bin/sh'])).toEqual(['/bin', '/usr', '/usr/lib', '/usr/lib/x']);
  });

  it('writes gen_init_cpio lists', () => {
    expect(cpioList([
      { type: 'dir', path: '/dev', mode: '0755' },
      { type: 'nod', path: '/dev/console', mode: '0600', extra: 'c 5 1' },
      { type: 'file', path: '/init', source: '/repo/qemu/init.sh', mode: '0755' },
      { type: 'slink', path: '/bin/sh', source: 'busybox', mode: '0777' },
    ])).toBe('dir /dev 0755 0 0\nnod /dev/console 0600 0 0 c 5 1\nfile /init /repo/qemu/init.sh 0755 0 0\nslink /bin/sh busybox 0777 0 0\n');
  });

  it('reads the kernel version from the Makefile', () => {
    expect(parseKernelVersion('VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 117\nEXTRAVERSION =\nNAME = Baby Opossum Posse\n')).toBe('6.12.117');
    expect(parseKernelVersion('VERSION = 6\nPATCHLEVEL = 13\nSUBLEVEL = 0\nEXTRAVERSION = -rc3\n')).toBe('6.13.0-rc3');
  });
});

describe('series export', () => {
  it('copies mail headers from another mail, folded lines included (the cover letter takes the last patch date)', () => {
    const cover = 'From 0000 Mon Sep 17 00:00:00 2001\nFrom: Someone Else\n <else@example.invalid>\nDate: Fri, 27 Nov 2026 02:00:00 +0000\nSubject: [PATCH 0/3] x\n\nbody\n';
    const last = 'From 0000 Mon Sep 17 00:00:00 2001\nFrom: qmempool-kit <qmempool-kit@localhost>\nDate: Fri, 27 Nov 2026 01:08:23 +0000\nSubject: [PATCH 3/3] y\n';
    expect(copyHeaders(cover, last, ['From', 'Date'])).toBe('From 0000 Mon Sep 17 00:00:00 2001\nFrom: qmempool-kit <qmempool-kit@localhost>\nDate: Fri, 27 Nov 2026 01:08:23 +0000\nSubject: [PATCH 0/3] x\n\nbody\n');
  });

  it('reads subject and blurb of an existing cover letter', () => {
    const text = 'From 0 Mon\nFrom: a <a@b>\nSubject: [PATCH 0/3] qmempool: a pool\n\nThe blurb.\n\nSecond paragraph.\n\nqmempool-kit (3):\n  lib: x\n';
    expect(coverLetterDescription(text)).toBe('qmempool: a pool\n\nThe blurb.\n\nSecond paragraph.\n');
    expect(coverLetterDescription('Subject: [PATCH 0/1] *** SUBJECT HERE ***\n\n*** BLURB HERE ***\n')).toBeUndefined();
  });

  it('reads checkpatch totals', () => {
    expect(parseCheckpatchTotals('total: 0 errors, 1 warnings, 2 checks, 1397 lines checked')).toEqual({ errors: 0, warnings: 1, checks: 2 });
    expect(parseCheckpatchTotals('total: 3 errors, 0 warnings, 10 lines checked')).toEqual({ errors: 3, warnings: 0, checks: 0 });
    expect(parseCheckpatchTotals('nothing')).toBeUndefined();
  });
});
