import { defineConfig } from 'vitest/config';
import { reportersFor } from './src/report/reporters.ts';

const reports = process.env.QKD_REPORTS_DIR ?? 'reports';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'mocks/**/*.test.ts', 'suites/**/*.test.ts'],
    setupFiles: ['allure-vitest/setup', './vitest.setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', ...reportersFor(reports)],
  },
});
