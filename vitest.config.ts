import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    // Real-kernel tests wait on netlink events and hold-downs of a few seconds.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Real-kernel tests assert verdict timings (hold-down + 250 ms); a CPU-heavy file in
    // parallel (10k connections, reset storms) would make those flaky on 2 cores, and the
    // suite is mostly waiting anyway, so files run one at a time.
    fileParallelism: false,
  },
});
