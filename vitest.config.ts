import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Simulator tests run many seeds synchronously; on a loaded 2-core machine they take minutes.
    testTimeout: 300_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
