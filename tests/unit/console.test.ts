import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConsoleWatcher, matchFinding, parseProtoLine, stripPrintkPrefix, worstClass } from '../../scripts/lib/pipeline/console.ts';
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

  it('joins a protocol line a kernel record cut in two, and still sees a crash report inside a line', () => {
    // Recorded on tcg (CI, run it-numa-mxdcczwu6): the record came between two halves of init's echo.
    const lines = [
      '[    1.231897] Run /init as init process',
      'QK-BEGIN {"proto[    1.486808] input: ImExPS/2 Generic Explorer Mouse as /devices/platform/i8042/serio1/input/input2',
      '":1,"run":"it-numa-mxdcczwu6","variant":"baseline","side":"baseline","backend":"tcg","attempt":"1"}',
      '[    1.491449] input: AT Translated Set 2 keyboard as /devices/platform/i8042/serio0/input/input3',
      'QK-END {"status":0}',
    ];
    const c = classify(lines, 'exited');
    expect(c.protocolErrors).toEqual([]);
    expect(c.verdict.class).toBe('ok');
    // Kernel lines may come between the halves.
    const w = new ConsoleWatcher();
    for (const l of [lines[1]!, lines[3]!, lines[0]!, lines[2]!]) w.push(l);
    expect(w.proto).toEqual([{ kind: 'begin', line: 1, data: { proto: 1, run: 'it-numa-mxdcczwu6', variant: 'baseline', side: 'baseline', backend: 'tcg', attempt: '1' } }]);
    // A cut line whose rest never comes is an error at its own line.
    const lost = new ConsoleWatcher();
    lost.push('QK-BENCH {"suite":"s","ca[    2.000000] x');
    lost.push('[    2.100000] y');
    // Waiting for its rest, it counts as an error (a log that ends here has lost it).
    expect(lost.protoErrors).toMatchObject([{ line: 1 }]);
    lost.push('QK-BENCH {"suite":"s","case"[    2.110735] tsc: x');
    // Another protocol line instead of the rest: the first is lost (an error), the second waits.
    expect(lost.protoErrors).toMatchObject([{ line: 1 }, { line: 3, error: expect.stringContaining('not valid JSON') }]);
    const lost2 = new ConsoleWatcher();
    lost2.push('QK-END {"sta[    2.110735] tsc: x');
    expect(lost2.protoErrors).toMatchObject([{ line: 1 }]);
    lost2.push('garbage');
    expect(lost2.protoErrors).toMatchObject([{ line: 1 }]);
    expect(lost2.proto).toEqual([]);
    // A WARNING whose record cut into a protocol line is still a finding.
    const warn = new ConsoleWatcher();
    warn.push('QK-BENCH {"su[   3.000001] WARNING: CPU: 0 PID: 1 at mm/slub.c:1 f+0x1/0x2');
    expect(warn.findings).toMatchObject([{ kind: 'warning', line: 1, text: expect.stringMatching(/^WARNING: CPU: 0/) }]);
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
