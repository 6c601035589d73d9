import { defineConfig } from 'vitest/config';

// Lives in tests/ because the top level of the repository is fixed (see README). Integration tests start real
// servers (Dovecot, an SMTP sink, Chromium), so files run in forks with generous timeouts.
export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
    minWorkers: 1,
  },
});
