import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // One Dawn device per worker; lavapipe is CPU-bound, so few workers run fastest.
    pool: 'forks',
    // Leak checks call gc() first, so tensors an earlier test dropped without dispose() are
    // finalized before the count is taken, not in the middle of it.
    execArgv: ['--expose-gc'],
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
