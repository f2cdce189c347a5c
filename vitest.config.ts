import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts', 'drivers/**/*.test.ts', 'src/**/*.test.ts'],
    // CI runs on 2 cores; the native addons (better-sqlite3) are fine in forks.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
