// The project's own test run (`npm test`). Commands that start vitest use vitest.commands.config.ts.
import { defineConfig } from 'vitest/config';
import { INCLUDE, shared } from './vitest.shared.ts';

/**
 * Files that build a lab, observe WireGuard timers, or judge a target against wall-clock deadlines
 * (hostile servers, stalls, KPI runs, replication catch-up). They run one at a time, after everything
 * else, so no other test file competes with them for the CPU: on 2 cores a second worker made wg/13's
 * recovery, a hostile case's first Status and the hsm-sync cut-link test miss their deadlines.
 */
const TIMED = [
  'suites/e2e/**/*.test.ts',
  'suites/hostile/**/*.test.ts',
  'suites/kpi/**/*.test.ts',
  'src/lab/**/*.test.ts',
  'src/sites/**/*.test.ts',
  'src/kpi/engine.test.ts',
  'src/kpi/run.test.ts',
  'src/cli/e2e.test.ts',
  'src/cli/kpi.test.ts',
  'src/cli/conformance-stall.test.ts',
  'mocks/hsm-sync/agent.test.ts',
  'mocks/keyctl/**/*.test.ts',
  'src/report/leak-scan.test.ts',
];

export default defineConfig({
  test: {
    ...shared,
    projects: [
      {
        extends: true,
        // Self-contained files (mocks on loopback, in-process suites, CLIs against mocks): two at a time.
        test: { name: 'unit', include: INCLUDE, exclude: TIMED, maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'timed', include: TIMED, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
