// Test options shared by the project's own test run (vitest.config.ts) and the runs the CLI starts
// (vitest.commands.config.ts: `conformance`, `e2e`).
import { reportersFor } from './src/report/reporters.ts';

export const INCLUDE = ['src/**/*.test.ts', 'mocks/**/*.test.ts', 'suites/**/*.test.ts'];

export const shared = {
  setupFiles: ['allure-vitest/setup', './vitest.setup.ts'],
  // Deadlines for hangs, not measurements: tests that spawn CLIs took up to 32 s under `npm run test:load`
  // on a 2-core machine, so the defaults leave room for several times that.
  testTimeout: 120_000,
  hookTimeout: 120_000,
  reporters: ['default', ...reportersFor(process.env.QKD_REPORTS_DIR ?? 'reports')] as Array<string | [string, Record<string, unknown>]>,
};
