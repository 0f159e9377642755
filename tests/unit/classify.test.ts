import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classify, confirm, crashSignature, logLines, needsConfirmation, type AttemptVerdict } from '../../scripts/lib/pipeline/classify.ts';
import { parseConsoleLog } from '../../scripts/lib/commands/parsecmd.ts';
import { assembleResults, type AttemptFacts } from '../../scripts/lib/pipeline/recorder.ts';

const fixture = (name: string) => readFileSync(join(__dirname, '..', 'fixtures', name), 'utf8');

const facts = (seq: number, attempt: number, ending: AttemptFacts['ending'] = 'exited'): AttemptFacts => ({
  factsVersion: 1, seq, attempt, side: 'baseline', variant: 'baseline', backend: 'tcg', flavor: 'normal', arch: 'x86_64', round: 0, position: 0,
  consoleLog: `logs/console-baseline-tcg-r0${attempt > 1 ? `-a${attempt}` : ''}.log`, ending, wallMs: 1000, exitCode: 0, argv: ['qemu-system-x86_64', '-append', 'a b'], kernelCmdline: 'a b',
});

describe('one classifier for live and offline', () => {
  it('a malformed QK-BENCH line fails the boot, live and offline alike (regression)', () => {
    const lines = ['QK-BEGIN {"proto":1}', 'QK-BENCH {"suite":"slab","case":"x","unit":"ns"}', 'QK-END {"status":0}'];
    const live = classify(lines, 'exited');
    expect(live.verdict.class).toBe('test-failure');
    expect(live.verdict.reason).toMatch(/1 malformed guest protocol line/);
    expect(live.protocolErrors[0]!.error).toMatch(/does not match the schema/);
    const offline = parseConsoleLog(lines.join('\n') + '\n');
    expect(offline.verdict).toEqual(live.verdict);
    const results = assembleResults({ runId: 'r', errorClass: undefined, sides: [], notRun: [], attempts: [{ facts: facts(0, 1), lines }] });
    expect(results.boots[0]!.class).toBe('test-failure');
    expect(results.metrics).toHaveLength(0);
  });

  it('names the failed packet scenario and its counter in a failed boot\'s reason', () => {
    const c = classify(logLines(fixture('net-drop-unset-uml.log')), 'exited');
    expect(c.verdict.class).toBe('test-failure');
    expect(c.verdict.reason).toBe('the guest init reported status 1 (net/pktgen_drop: sample 1: the raw-table DROP rule counted 0 of 100000 packets: they did not take the drop path)');
    expect(c.bench.map((b) => [b.case, b.status])).toEqual([['pktgen_drop', 'error'], ['tcp_stream', 'ok']]);
  });

  it('gives the guest init\'s own error as the reason of a failed status', () => {
    const lines = logLines(fixture('boot-ok-tcg.log'));
    const begin = lines.findIndex((l) => l.includes('QK-BEGIN'));
    const failed = [
      ...lines.slice(0, begin + 1),
      '[    0.9] qk-init: kmemleak scan done',
      'qk-init: error: the guest has 1 NUMA node(s), and the run asked for 2 (qk_numa): is CONFIG_NUMA (and ACPI NUMA) in this kernel?',
      'QK-END {"status":3}',
    ];
    const c = classify(failed, 'exited');
    expect(c.verdict.class).toBe('test-failure');
    expect(c.verdict.reason).toBe('the guest init reported status 3 (the guest has 1 NUMA node(s), and the run asked for 2 (qk_numa): is CONFIG_NUMA (and ACPI NUMA) in this kernel?)');
  });

  it('reads a recorded good boot into metrics, KTAP and a clean verdict', () => {
    const lines = logLines(fixture('boot-ok-tcg.log'));
    const c = classify(lines, 'exited');
    expect(c.verdict.class).toBe('ok');
    expect(c.bench.length).toBeGreaterThan(0);
    expect(c.signature).toBeUndefined();
  });
});

describe('crash signatures', () => {
  it('name the report, the faulting function and the first reliable frames', () => {
    const lines = logLines(fixture('flake-int3-tcg.log'));
    const c = classify(lines, 'finding');
    expect(c.verdict.class).toBe('panic');
    expect(c.signature).toBe('oops: sched_clock_idle_wakeup_event | tick_irq_enter < sysvec_call_function_single < asm_sysvec_call_function_single < default_idle < default_idle_call');
    // The other recorded flake is the same race in another place or the same: either way, a signature.
    expect(classify(logLines(fixture('flake-int3-tcg-b.log')), 'finding').signature).toMatch(/^oops: /);
  });

  it('are stable across boots of the same crash (addresses and timestamps ignored)', () => {
    const a = logLines(fixture('oops-tcg.log'));
    const b = a.map((l) => l.replace(/^\[\s*[\d.]+\]/, '[ 9.999999]').replace(/ffff[0-9a-f]{12}/g, 'ffff000000000000'));
    const sa = classify(a, 'finding').signature;
    expect(sa).toMatch(/qk_provoke_init/);
    expect(classify(b, 'finding').signature).toBe(sa);
  });

  it('are absent for boots that did not crash', () => {
    expect(crashSignature([], { class: 'ok', findings: [] })).toBeUndefined();
    expect(crashSignature([], { class: 'hang', findings: [] })).toMatch(/^hang: no report/);
  });
});

describe('confirming crashes on emulated backends', () => {
  const tcg = { backend: 'tcg', flavor: 'normal' };
  const oops: AttemptVerdict = { class: 'oops', findings: [{ kind: 'oops' }], signature: 'oops: f | a < b' };
  const ok: AttemptVerdict = { class: 'ok', findings: [], signature: undefined };

  it('boots again after a panic, oops or hang on tcg only, normal kernels only', () => {
    expect(needsConfirmation(tcg, [oops])).toBe(true);
    expect(needsConfirmation(tcg, [{ ...oops, class: 'hang', findings: [] }])).toBe(true);
    expect(needsConfirmation({ backend: 'uml', flavor: 'normal' }, [oops])).toBe(false);
    expect(needsConfirmation({ backend: 'icount', flavor: 'normal' }, [oops])).toBe(false);
    expect(needsConfirmation({ backend: 'tcg', flavor: 'kcsan' }, [oops])).toBe(false);
    expect(needsConfirmation(tcg, [ok])).toBe(false);
    expect(needsConfirmation(tcg, [{ ...oops, class: 'warning', findings: [{ kind: 'warning' }] }])).toBe(false);
  });

  it('never retries a checker report away', () => {
    for (const kind of ['kasan', 'kcsan', 'lockdep', 'kmemleak', 'ubsan'] as const) {
      expect(needsConfirmation(tcg, [{ class: 'oops', findings: [{ kind }, { kind: 'oops' }], signature: 's' }]), kind).toBe(false);
    }
  });

  it('stops when the crash repeats, or when a boot comes through clean', () => {
    expect(needsConfirmation(tcg, [oops, oops])).toBe(false);
    expect(needsConfirmation(tcg, [oops, ok])).toBe(false);
    // A different crash the second time: one more boot decides.
    expect(needsConfirmation(tcg, [oops, { ...oops, signature: 'oops: g' }])).toBe(true);
    expect(needsConfirmation(tcg, [oops, { ...oops, signature: 'oops: g' }, { ...oops, signature: 'oops: h' }])).toBe(false);
  });

  it('calls a crash that did not repeat flaky and keeps one that did', () => {
    expect(confirm([oops, ok])).toEqual({ chosen: 1, flaky: { class: 'oops', signature: 'oops: f | a < b', attempt: 1 } });
    expect(confirm([oops, oops])).toEqual({ chosen: 0, flaky: undefined });
    expect(confirm([ok])).toEqual({ chosen: 0, flaky: undefined });
  });

  it('records a flaky boot with every attempt and counts the clean one', () => {
    const crash = logLines(fixture('flake-int3-tcg.log'));
    const good = logLines(fixture('boot-ok-tcg.log'));
    const r = assembleResults({ runId: 'r', errorClass: undefined, sides: [], notRun: [], attempts: [{ facts: facts(0, 1, 'finding'), lines: crash }, { facts: facts(0, 2), lines: good }] });
    expect(r.class).toBe('flaky');
    const b = r.boots[0]!;
    expect(b.class).toBe('flaky');
    expect(b.flaky).toMatchObject({ class: 'panic', attempt: 1 });
    expect(b.attempts.map((a) => [a.attempt, a.class])).toEqual([[1, 'panic'], [2, 'ok']]);
    expect(b.consoleLog).toBe('logs/console-baseline-tcg-r0-a2.log');
    expect(r.metrics.length).toBeGreaterThan(0);
    const kept = assembleResults({ runId: 'r', errorClass: undefined, sides: [], notRun: [], attempts: [{ facts: facts(0, 1, 'finding'), lines: crash }, { facts: facts(0, 2, 'finding'), lines: crash }] });
    expect(kept.class).toBe('panic');
    expect(kept.boots[0]!.flaky).toBeUndefined();
  });
});
