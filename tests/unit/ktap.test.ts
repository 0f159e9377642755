import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseKtap, parseStressDiagnostics, suiteOfCase } from '../../scripts/lib/pipeline/ktap.ts';
import { classify } from '../../scripts/lib/pipeline/classify.ts';

const fixture = (name: string) => readFileSync(join(__dirname, '..', 'fixtures', name), 'utf8').split('\n');

describe('KTAP parser', () => {
  it('parses nested suites with skips amid console noise', () => {
    const r = parseKtap([
      '[    0.500000] KTAP version 1',
      '[    0.500001] 1..2',
      '[    0.500002]     KTAP version 1',
      '[    0.500003]     # Subtest: alpha',
      '[    0.500004]     # module: alpha_test',
      '[    0.500005]     1..3',
      '[    0.500006] random: crng init done',
      '[    0.500007]     ok 1 alpha_one',
      '[    0.500008]     ok 2 alpha_two # SKIP not on this arch',
      '[    0.500009]         KTAP version 1',
      '[    0.500010]         # Subtest: alpha_params',
      '[    0.500011]         ok 1 p=1',
      '[    0.500012]         not ok 2 p=2',
      '[    0.500013]     not ok 3 alpha_params',
      '[    0.500014] # alpha: pass:1 fail:1 skip:1 total:3',
      '[    0.500015] not ok 1 alpha',
      '[    0.500016]     KTAP version 1',
      '[    0.500017]     # Subtest: beta',
      '[    0.500018]     1..1',
      '[    0.500019]     ok 1 beta_one',
      '[    0.500020] ok 2 beta',
    ]);
    expect(r.tests.map((t) => [t.name, t.status])).toEqual([
      ['alpha', 'fail'],
      ['beta', 'pass'],
    ]);
    expect(r.cases.map((c) => `${c.suite}.${c.name}:${c.status}`)).toEqual([
      'alpha.alpha_one:pass',
      'alpha.alpha_two:skip',
      'alpha/alpha_params.p=1:pass',
      'alpha/alpha_params.p=2:fail',
      'beta.beta_one:pass',
    ]);
    expect(r.cases[1]!.reason).toBe('not on this arch');
    expect(r.counts).toEqual({ pass: 3, fail: 1, skip: 1, crashed: 0 });
  });

  it('reads a result line that came after userspace text on the same console line', () => {
    const r = parseKtap([
      '[    0.500000] KTAP version 1',
      '[    0.500001] 1..1',
      '[    0.500002]     # Subtest: alpha',
      '[    0.500003]     1..2',
      'qk-init: loading qk_te[    0.500004]     not ok 1 alpha_one',
      'st',
      '[    0.500005]     ok 2 alpha_two',
      '[    0.500006] not ok 1 alpha',
    ]);
    expect(r.cases.map((c) => `${c.name}:${c.status}`)).toEqual(['alpha_one:fail', 'alpha_two:pass']);
    expect(r.counts).toEqual({ pass: 1, fail: 1, skip: 0, crashed: 0 });
  });

  it('marks a suite cut short by a crash as crashed, counting the missing cases', () => {
    const r = parseKtap([
      'KTAP version 1',
      '1..1',
      '    KTAP version 1',
      '    # Subtest: gamma',
      '    1..3',
      '    ok 1 gamma_one',
      'BUG: kernel NULL pointer dereference, address: 0000000000000000',
      'Kernel panic - not syncing: Fatal exception',
    ]);
    expect(r.tests[0]).toMatchObject({ name: 'gamma', status: 'crashed' });
    expect(r.counts).toEqual({ pass: 1, fail: 0, skip: 0, crashed: 2 });
  });

  it('counts planned top-level tests that never appeared', () => {
    const r = parseKtap(['KTAP version 1', '1..2', 'ok 1 first']);
    expect(r.counts.pass).toBe(1);
    expect(r.missing).toBe(1);
    expect(r.counts.crashed).toBe(1);
  });

  it('finds nothing in a log without KTAP', () => {
    const r = parseKtap(['Linux version 6.12', 'Run /init as init process']);
    expect(r.cases).toEqual([]);
    expect(r.counts).toEqual({ pass: 0, fail: 0, skip: 0, crashed: 0 });
  });

  it('parses the KUnit example suite from a real tcg boot', () => {
    const r = parseKtap(fixture('boot-ok-tcg.log'));
    const example = r.tests.find((t) => t.name === 'example');
    expect(example?.status).toBe('pass');
    expect(r.counts.fail).toBe(0);
    expect(r.counts.skip).toBeGreaterThan(0);
    expect(r.cases.some((c) => c.name === 'example_skip_test' && c.status === 'skip')).toBe(true);
  });
});

describe('stress diagnostics', () => {
  it('reads key=value totals printed by a KUnit case', () => {
    const d = parseStressDiagnostics([
      '[    5.1]     # alf_mpmc_stress: initializing',
      '[    9.2]     # alf_mpmc_stress: stress: cpus=2 producers=2 consumers=2 elements=2000000 bulk=yes',
      '[    9.3]     ok 7 alf_mpmc_stress',
    ]);
    expect(d).toEqual([{ case: 'alf_mpmc_stress', values: { cpus: 2, producers: 2, consumers: 2, elements: 2000000 }, line: 2 }]);
  });

  it('turns result=pass|failed into passed=1|0', () => {
    const d = parseStressDiagnostics([
      '    # alf_test_mpmc_stress: stress: cpus=4 producers=4 consumers=4 elements=10000000 moved=10000000 result=pass',
      '    # qmp_test_stress: stress: cpus=4 producers=4 consumers=4 elements=100 moved=99 softirq=5 result=failed',
    ]);
    expect(d.map((x) => x.values['passed'])).toEqual([1, 0]);
    expect(d[0]!.values['moved']).toBe(10000000);
  });
});

describe('stress records name their suite', () => {
  // qmempool's stress is KUNIT_CASE_PARAM (one run per round): its results are subtests, so the case is no leaf.
  const log = [
    'KTAP version 1',
    '1..2',
    '    KTAP version 1',
    '    # Subtest: alf_queue',
    '    1..1',
    '    # alf_test_mpmc_stress: stress: cpus=2 producers=2 consumers=2 elements=1000 moved=1000 result=pass',
    '    ok 1 alf_test_mpmc_stress',
    'ok 1 alf_queue',
    '    KTAP version 1',
    '    # Subtest: qmempool',
    '    1..1',
    '        KTAP version 1',
    '        # Subtest: qmp_test_stress',
    '        # qmp_test_stress: stress: cpus=2 producers=2 consumers=2 elements=500 moved=500 softirq=3 result=pass',
    '        ok 1 round 1',
    '        # qmp_test_stress: stress: cpus=2 producers=2 consumers=2 elements=500 moved=500 softirq=4 result=pass',
    '        ok 2 round 2',
    '    # qmp_test_stress: pass:2 fail:0 skip:0 total:2',
    '    ok 1 qmp_test_stress',
    'ok 2 qmempool',
  ];

  it('gives a parameterised case the suite above its parameter runs', () => {
    const c = classify(log, 'exited');
    expect(c.stress.map((s) => [s.suite, s.case])).toEqual([
      ['alf_queue', 'alf_test_mpmc_stress'],
      ['qmempool', 'qmp_test_stress'],
      ['qmempool', 'qmp_test_stress'],
    ]);
    expect(suiteOfCase(parseKtap(log), 'nope')).toBeUndefined();
  });
});
