import { defineConfig } from 'vitest/config';
import { reportersFor } from './src/report/reporters.ts';

const reports = process.env.QKD_REPORTS_DIR ?? 'reports';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'mocks/**/*.test.ts', 'suites/**/*.test.ts'],
    setupFiles: ['allure-vitest/setup', './vitest.setup.ts'],
    // Deadlines for hangs, not measurements: tests that spawn CLIs took up to 32 s under `npm run test:load`
    // on a 2-core machine, so the defaults leave room for several times that.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default', ...reportersFor(reports)],
  },
});
