import { defineConfig } from 'vitest/config';

// Reports land under reports/ (git-ignored): JUnit for CI gates, allure-results for the HTML report.
const reports = process.env.QKD_REPORTS_DIR ?? 'reports';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'mocks/**/*.test.ts', 'suites/**/*.test.ts'],
    setupFiles: ['allure-vitest/setup', './vitest.setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: [
      'default',
      ['junit', { outputFile: `${reports}/junit.xml` }],
      ['allure-vitest/reporter', { resultsDir: `${reports}/allure-results` }],
    ],
  },
});
