import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['tests/unit/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.test.ts'],
          // One work and output directory for the suite, and the README run built once.
          globalSetup: ['tests/integration/setup.ts'],
          // Real kernel builds and boots: minutes, not seconds.
          testTimeout: 80 * 60_000,
          hookTimeout: 80 * 60_000,
          fileParallelism: false,
          sequence: { concurrent: false },
        },
      },
      {
        test: {
          name: 'slow',
          include: ['tests/slow/**/*.test.ts'],
          // Checker kernels built cold: half an hour on 2 cores.
          testTimeout: 120 * 60_000,
          hookTimeout: 120 * 60_000,
          globalSetup: ['tests/integration/setup.ts'],
          fileParallelism: false,
          sequence: { concurrent: false },
        },
      },
    ],
  },
});
