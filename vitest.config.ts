// The project's own test run (`npm test`). Commands that start vitest use vitest.commands.config.ts.
import { defineConfig } from 'vitest/config';
import { INCLUDE, shared } from './vitest.shared.ts';

/**
 * Files that build the two-site lab: one at a time, after the self-contained ones. Two side by side made
 * the handshake bounds of wg/6 and wg/10 (8.1 s after a rotation) miss on 2 cores: a false fail.
 */
const LAB = ['suites/e2e/**/*.test.ts', 'src/lab/**/*.test.ts', 'src/sites/**/*.test.ts', 'src/cli/e2e.test.ts'];

/**
 * Files that judge a target against wall-clock deadlines (hostile servers, stalls, KPI runs, replication
 * catch-up, key-control agents): one at a time, last, with no other test file competing for the CPU — on
 * 2 cores a second worker made a hostile case's first Status and the hsm-sync cut-link test miss their
 * deadlines.
 */
const TIMED = [
  'suites/hostile/**/*.test.ts',
  'suites/kpi/**/*.test.ts',
  'src/kpi/engine.test.ts',
  'src/kpi/run.test.ts',
  'src/cli/kpi.test.ts',
  'src/cli/conformance-stall.test.ts',
  'mocks/hsm-sync/agent.test.ts',
  'mocks/keyctl/**/*.test.ts',
  'src/report/leak-scan.test.ts',
  // Chromium rendering a 4 MB single-file report took over a minute beside another test file on 2 cores.
  'src/report/browser.test.ts',
];

export default defineConfig({
  test: {
    ...shared,
    projects: [
      {
        extends: true,
        // Self-contained files (mocks on loopback, in-process suites, CLIs against mocks): two at a time.
        test: { name: 'unit', include: INCLUDE, exclude: [...LAB, ...TIMED], maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'lab', include: LAB, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
      {
        extends: true,
        test: { name: 'timed', include: TIMED, maxWorkers: 1, sequence: { groupOrder: 2 } },
      },
    ],
  },
});
