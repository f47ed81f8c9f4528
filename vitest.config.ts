import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['host/**/*.test.ts', 'apps/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Network tests start real servers (NSD, the resolver itself); two cores, two workers.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
