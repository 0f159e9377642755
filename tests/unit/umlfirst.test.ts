/** When a run builds and boots its UML kernels first, for a headline in minutes. */
import { describe, expect, it } from 'vitest';
import { umlFirst } from '../../scripts/lib/pipeline/pipeline.ts';
import { planRun, sidesFromVariants } from '../../scripts/lib/pipeline/plan.ts';
import type { Backend } from '../../scripts/lib/analysis/results.ts';

const plan = (backends: (Backend | 'auto')[]) =>
  planRun({ backends: backends as Backend[], flavors: ['normal'], sides: sidesFromVariants(['baseline', 'patched']), workDir: '/w', outputDir: '/o' });

describe('UML first', () => {
  it('applies when a run boots uml and a QEMU backend', () => {
    for (const b of [['auto', 'uml'], ['tcg', 'uml'], ['uml', 'tcg', 'icount']] as (Backend | 'auto')[][]) {
      expect(umlFirst({ backends: b as Backend[] }, plan(b)), b.join(',')).toBe(true);
    }
  });
  it('not with one kind of backend, or when nothing boots', () => {
    expect(umlFirst({ backends: ['uml'] }, plan(['uml']))).toBe(false);
    expect(umlFirst({ backends: ['tcg'] }, plan(['tcg']))).toBe(false);
    expect(umlFirst({ backends: ['tcg', 'uml'], stopAfter: 'build' }, plan(['tcg', 'uml']))).toBe(false);
  });
});
