/**
 * Night records for the history page tests: four nights of one base kernel,
 * two metrics (an absolute icount figure and a within-run ratio on tcg), a
 * regression finding injected on one metric of the third night, and each
 * night's report.md in a directory beside the records, where nightly puts it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Night, type NightMetric } from '../../scripts/lib/ci/night.ts';

export const BASE = 'debian-6.12';
export const ABS_KEY = 'slab/reuse@baseline';
export const RATIO_KEY = 'skb/alloc_free: patched vs baseline';
/** The night whose record carries a regression of ABS_KEY. */
export const REGRESSED = '2026-12-03';
export const NIGHTS = ['2026-12-01', '2026-12-02', '2026-12-03', '2026-12-04'] as const;

const abs = (v: number): NightMetric => ({
  key: ABS_KEY, name: 'slab/reuse', backend: 'icount', kind: 'absolute', unit: 'ns', value: v, lo: v - 2, hi: v + 3, figures: [v - 2, v, v + 3],
});
const ratio = (v: number): NightMetric => ({
  key: RATIO_KEY, name: 'skb/alloc_free', backend: 'tcg', kind: 'ratio', unit: '×', value: v, lo: v - 0.03, hi: v + 0.04, figures: [v - 0.02, v, v + 0.01],
});

/** One night record; `over` replaces whole fields. */
export function night(n: string, i: number, over: Partial<Night> = {}): Night {
  const regressed = n === REGRESSED;
  return Night.parse({
    version: 1, night: n, base: BASE, startedAt: `${n}T02:00:00Z`, wallMs: 3_600_000,
    kernel: { version: `6.12.${110 + i}`, description: `Debian linux-source-6.12 6.12.${110 + i}` },
    tool: { commit: 'abc1234' },
    series: { hash: 'f00d', patches: ['0001-mm-qmempool.patch'] },
    runDir: `results/nightly-${n}`,
    report: `${n}/report.md`,
    trees: [
      { variant: 'baseline', apply: 'skip', build: 'pass', boot: 'pass', kunit: 'pass' },
      { variant: 'patched', apply: 'pass', build: 'pass', boot: 'pass', kunit: i === 3 ? 'fail' : 'pass' },
    ],
    tests: [{ name: 'kunit.qmempool.alloc', status: 'pass' }],
    metrics: [abs(regressed ? 140 : 100 + i), ratio(0.8 + i * 0.01)],
    crashes: [],
    findings: regressed ? [{ kind: 'regression', key: ABS_KEY, message: 'slab/reuse@baseline 140 ns, was 101 ns (+39%)' }] : [],
    result: regressed ? 'regression' : i === 3 ? 'infra' : 'ok',
    exitCode: regressed ? 1 : i === 3 ? 2 : 0,
    ...over,
  });
}

/** Write the records (and their reports) into <history>/<base>/; returns that directory. */
export async function writeNights(history: string, nights: readonly Night[]): Promise<string> {
  const dir = join(history, BASE);
  await mkdir(dir, { recursive: true });
  for (const n of nights) {
    await writeFile(join(dir, `${n.night}.json`), JSON.stringify(n, null, 2));
    await mkdir(join(dir, n.night), { recursive: true });
    await writeFile(join(dir, n.night, 'report.md'), `# nightly ${n.night}\n\nresult: ${n.result}\n`);
  }
  return dir;
}

export const fourNights = (): Night[] => NIGHTS.map((n, i) => night(n, i));
