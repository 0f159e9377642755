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
          // Real kernel builds and boots: minutes, not seconds.
          testTimeout: 80 * 60_000,
          hookTimeout: 80 * 60_000,
          fileParallelism: false,
          sequence: { concurrent: false },
        },
      },
    ],
  },
});
