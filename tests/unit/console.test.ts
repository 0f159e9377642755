import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { matchFinding, parseProtoLine, stripPrintkPrefix, worstClass } from '../../scripts/lib/pipeline/console.ts';
import { classify } from '../../scripts/lib/pipeline/classify.ts';
import { parseConsoleLog } from '../../scripts/lib/commands/parsecmd.ts';

const fixture = (name: string) => readFileSync(join(__dirname, '..', 'fixtures', name), 'utf8');

describe('console classification on recorded guest logs', () => {
  // Each fixture was captured from a real guest of ours (see tests/fixtures/README.md).
  const cases: ReadonlyArray<[string, string, RegExp]> = [
    ['boot-ok-tcg.log', 'ok', /reported success/],
    ['boot-ok-uml.log', 'ok', /reported success/],
    ['panic-no-init-tcg.log', 'panic', /Kernel panic - not syncing/],
    ['panic-no-init-uml.log', 'panic', /Kernel panic - not syncing/],
    ['oops-tcg.log', 'oops', /BUG: kernel NULL pointer dereference|Oops/],
    ['warning-tcg.log', 'warning', /WARNING: CPU: \d+ PID: \d+ at/],
    ['hang-tcg.log', 'hang', /silent/],
  ];
  for (const [file, cls, reason] of cases) {
    it(`${file} → ${cls}`, () => {
      const p = parseConsoleLog(fixture(file));
      expect(p.verdict.class).toBe(cls);
      expect(p.verdict.reason).toMatch(reason);
    });
  }

  it('an ok boot carries the benchmark line and the KUnit example suite', () => {
    const p = parseConsoleLog(fixture('boot-ok-tcg.log'));
    expect(p.bench.map((b) => `${b.suite}/${b.case}`)).toContain('slab/kmem_cache_alloc_free_256');
    expect(p.bench[0]!.samples?.length).toBeGreaterThan(0);
    expect(p.verdict.guestStatus).toBe(0);
    expect(p.ktap.counts.pass).toBeGreaterThan(0);
  });
});

describe('crash report patterns', () => {
  // Report openers as the kernel prints them (lib/Kconfig.kasan reports,
  // kernel/locking/lockdep.c, kernel/kcsan/report.c, mm/kmemleak.c).
  const lines: ReadonlyArray<[string, string]> = [
    ['[   12.345678] Kernel panic - not syncing: Fatal exception', 'panic'],
    ['[    3.1] BUG: KASAN: slab-use-after-free in qmempool_free+0x1c/0x80', 'kasan'],
    ['BUG: KCSAN: data-race in alf_mpmc_enqueue / alf_mpmc_dequeue', 'kcsan'],
    ['WARNING: possible circular locking dependency detected', 'lockdep'],
    ['WARNING: inconsistent lock state', 'lockdep'],
    ['Oops: general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] PREEMPT SMP', 'oops'],
    ['BUG: sleeping function called from invalid context at mm/slub.c:4123', 'bug'],
    ['kernel BUG at lib/alf_queue.c:42!', 'bug'],
    ['[    1.702150] BUG qmempool_kunit (Tainted: G                 N): Objects remaining on __kmem_cache_shutdown()', 'slub'],
    ['BUG kmalloc-64 (Not tainted): Redzone overwritten', 'slub'],
    ['kmemleak: 3 new suspected memory leaks (see /sys/kernel/debug/kmemleak)', 'kmemleak'],
    ['UBSAN: shift-out-of-bounds in lib/alf_queue.c:10:5', 'ubsan'],
    ['WARNING: CPU: 1 PID: 73 at mm/slub.c:100 kmem_cache_free+0x1/0x2', 'warning'],
    ['watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [insmod:80]', 'soft-lockup'],
    ['rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:', 'rcu-stall'],
    ['INFO: task kworker/0:1:12 blocked for more than 120 seconds.', 'hung-task'],
  ];
  for (const [line, kind] of lines) {
    it(`${kind}: ${line.slice(0, 50)}`, () => expect(matchFinding(line)).toBe(kind));
  }

  it('does not flag ordinary lines', () => {
    for (const l of ['[    0.1] Linux version 6.12.117', 'x86/fpu: Supporting XSAVE feature', 'ok 1 example_simple_test', 'printk: console [ttyS0] enabled', 'NOTE: BUG: is not at the start']) {
      expect(matchFinding(l)).toBeUndefined();
    }
  });

  it('the worst class wins', () => {
    expect(worstClass(['warning', 'panic', 'oops'])).toBe('panic');
    expect(worstClass(['ok', 'test-failure'])).toBe('test-failure');
    expect(worstClass([])).toBe('ok');
  });

  it('strips printk time and caller prefixes', () => {
    expect(stripPrintkPrefix('[    1.234567] [    T1] hello\r')).toBe('hello');
    expect(stripPrintkPrefix('plain')).toBe('plain');
  });
});

describe('guest protocol', () => {
  it('parses protocol lines, also after other text on the line', () => {
    expect(parseProtoLine('QK-END {"status":0}', 3)).toEqual({ kind: 'end', line: 3, data: { status: 0 } });
    expect(parseProtoLine('[ 1.0] qk_bench: QK-BENCH {"suite":"s","case":"c","unit":"ns","samples":[1]}', 1)).toMatchObject({ kind: 'bench' });
    expect(parseProtoLine('QK-BENCH {"suite":', 1)).toMatchObject({ error: expect.stringContaining('not valid JSON') });
    expect(parseProtoLine('QK-BENCHMARK results follow', 1)).toBeUndefined();
    expect(parseProtoLine('QK-BENCH {"suite":1,}', 2)).toMatchObject({ line: 2, error: expect.stringContaining('not valid JSON') });
    expect(parseProtoLine('QK-BENCH [1,2]', 2)).toMatchObject({ error: expect.stringContaining('not a JSON object') });
  });

  it('reads a protocol line that a kernel message cut into before its newline', () => {
    // Recorded on tcg (run full-mx4qhfev, round 5): init's echo, then printk, then the newline.
    const line = 'QK-BEGIN {"proto":1,"run":"full-mx4qhfev","variant":"patched","side":"patched","backend":"tcg","attempt":"1"}[    2.110735] tsc: Refined TSC clocksource calibration: 2096.010 MHz';
    expect(parseProtoLine(line, 7)).toEqual({ kind: 'begin', line: 7, data: { proto: 1, run: 'full-mx4qhfev', variant: 'patched', side: 'patched', backend: 'tcg', attempt: '1' } });
    // A payload cut short stays an error even with a kernel message after it.
    expect(parseProtoLine('QK-BENCH {"suite":"s","case"[    2.110735] tsc: x', 7)).toMatchObject({ error: expect.stringContaining('not valid JSON') });
  });

  it('a guest without the sentinel is a boot failure, a non-zero status a test failure', () => {
    const begin = 'QK-BEGIN {"proto":1}';
    expect(classify([begin], 'exited').verdict.class).toBe('boot-failure');
    expect(classify([begin, 'QK-END {"status":1}'], 'exited').verdict.class).toBe('test-failure');
    expect(classify([], 'exited').verdict.reason).toMatch(/before its init started/);
    expect(classify([], 'timeout').verdict.class).toBe('hang');
    expect(classify([begin], 'silence').verdict.class).toBe('hang');
  });

  it('failed KUnit cases make an otherwise clean boot a test failure', () => {
    const lines = ['QK-BEGIN {"proto":1}', 'KTAP version 1', '1..2', 'not ok 1 a', 'not ok 2 b', 'QK-END {"status":0}'];
    expect(classify(lines, 'exited').verdict).toMatchObject({ class: 'test-failure', reason: '2 KUnit case(s) failed' });
  });
});
