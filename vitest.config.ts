import { defineConfig } from 'vitest/config';
import { reportersFor } from './src/report/reporters.ts';

const reports = process.env.QKD_REPORTS_DIR ?? 'reports';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'mocks/**/*.test.ts', 'suites/**/*.test.ts'],
    setupFiles: ['allure-vitest/setup', './vitest.setup.ts'],
    // Deadlines for hangs, not measurements: tests that spawn CLIs took up to 32 s under `npm run test:load`
    // on a 2-core machine, so the defaults leave room for several times that.
    // Two files at a time even on CI's 2 cores (vitest's default there is one): most long tests wait on
    // processes, labs and deadlines rather than burn CPU, and they were made to hold under `npm run
    // test:load`. Labs use unique names and the stale clean-up spares labs whose owner is alive.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default', ...reportersFor(reports)],
  },
});
