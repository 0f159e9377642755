/**
 * The slow tier's PREEMPT_RT kernel (issue 24): Debian's own 7.3 RT config
 * built with the series, which protects its per-CPU arrays with a
 * local_lock_t and no longer depends on !PREEMPT_RT. The series' KUnit
 * suites must pass there, with the per-CPU lock case run, not skipped (on
 * PREEMPT_RT it sees the lock without lockdep). 7.x has no legacy iptables
 * on PREEMPT_RT: the scenario that drops with a raw-table rule is reported
 * skipped with that reason, and forwarding still runs. Debian's RT config
 * compiles thousands of objects (about 40 minutes on 2 cores with a cold
 * ccache), which is why it lives here and not in `npm test`.
 */
import { describe, expect, inject, it } from 'vitest';
import { runTool } from '../integration/tool.ts';
import { cleanKunitConsoles } from './kunitboots.ts';

const qk = inject('qk');
const tool = (name: string, args: string[]) => runTool(qk, `slow-${name}-${Date.now().toString(36)}`, args);
const SHORT_NET = ['--net-count', '20000', '--net-samples', '2'];

describe('the PREEMPT_RT kernel', () => {
  it("builds 7.3 from Debian's RT config with the series, passes the series' suites there, and skips the raw-table drop with its reason", async () => {
    const r = await tool('rt73', ['--source', 'debian:7.3', '--config-profile', 'rt', '--backend', 'tcg', '--variants', 'patched', '--boots', '1', '--modules', 'none', '--net', 'drop,forward', ...SHORT_NET]);
    expect(r.exitCode, r.output.slice(-3000)).toBe(0);
    const m = await r.manifest();
    const patched = m.variants['patched']?.builds['x86_64'];
    expect(patched?.profile).toBe('rt');
    expect(patched?.distro?.file).toBe('config.amd64_none_rt-amd64');
    expect(patched?.seriesOptions?.['PREEMPT_RT']).toBe('y');
    const res = await r.results();
    for (const lines of await cleanKunitConsoles(r.runDir, res, 'patched')) {
      // The lock case ran and passed: a skip would say "# SKIP".
      expect(lines.some((l) => /^\s*ok \d+ qmp_test_pcp_lock\s*$/.test(l))).toBe(true);
    }
    // No legacy iptables on a 7.x RT kernel: the raw-table drop is skipped, with the reason.
    const drop = res.benchStatus.filter((s) => s.case === 'pktgen_drop');
    expect(drop.length).toBeGreaterThan(0);
    for (const s of drop) {
      expect(s.status).toBe('skip');
      expect(s.reason).toMatch(/no legacy iptables/);
    }
    // Forwarding needs no iptables and runs, proven by its counters.
    const fwd = res.metrics.filter((x) => x.case === 'pktgen_forward');
    expect(fwd.length).toBeGreaterThan(0);
    for (const x of fwd) for (const c of x.guest!['counters'] as Record<string, number>[]) expect(c['ip_forwarded']).toBe(20000);
  });
});
