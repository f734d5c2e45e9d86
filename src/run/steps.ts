// The steps of the main job (`qkd-harness run`), each a child process with its own reports directory:
// ETSI 014 conformance, the PSK suites, and — where the host allows the lab, or the target names sites —
// the WireGuard and HSM end-to-end suites. A child is what makes a step's failure (or a hang) its own:
// it runs under a deadline and is stopped with the job on Ctrl-C.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../lab/node.ts';
import { dealt, shardText, type Shard } from './shard.ts';

/** One requirement's outcome as a step reports it. */
export interface StepResult {
  id: string;
  outcome: 'pass' | 'fail' | 'warn' | 'info' | 'skip' | 'error';
  /** Not what the run expected (fail/error without an expectation saying so): counts against the exit code. */
  unexpected: boolean;
  message?: string;
}

export interface StepPlan {
  name: 'conformance' | 'psk' | 'e2e';
  title: string;
  argv: string[];
  env?: Record<string, string>;
  /** Its reports directory (under the job's). */
  reports: string;
  /** How long it usually takes (shown as the estimate), and its deadline. */
  estimateS: number;
  deadlineS: number;
  /** Reads the step's results after it ended. @throws when the step wrote nothing readable. */
  read: (dir: string) => StepResult[];
}

const BIN = join(REPO_ROOT, 'bin', 'qkd-harness.js');
// Resolved, not under REPO_ROOT: an installed package's dependencies may sit beside it (hoisted), not in it.
const VITEST = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');

/** The end-to-end suites of the main job: agreement, rekey alignment and HSM replication (faults are for `e2e`). */
export const MAIN_E2E_SUITES = ['psk-agreement', 'rekey-alignment', 'hsm-replication'];

interface ConformanceSummary {
  results: Array<{ id: string; outcome: StepResult['outcome']; unexpected: boolean; message?: string }>;
}

function readJson<T>(file: string): T {
  if (!existsSync(file)) throw new Error(`${file} was not written`);
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

const shardArgs = (shard: Shard | undefined): string[] => (shard ? ['--shard', shardText(shard)] : []);

export function conformanceStep(reports: string, target: string | undefined, shard?: Shard): StepPlan {
  return {
    name: 'conformance',
    title: target ? `ETSI 014 conformance (${target})` : 'ETSI 014 conformance (strict, embedded mock KME pair)',
    argv: [process.execPath, BIN, 'conformance', ...(target ? ['--target', target] : ['--strict']), ...shardArgs(shard), '--reports', reports],
    reports,
    estimateS: 45,
    deadlineS: 1800,
    read: readConformanceResults,
  };
}

/** The rows of a `conformance` reports directory (its summary.json). @throws when it was not written. */
export function readConformanceResults(dir: string): StepResult[] {
  return readJson<ConformanceSummary>(join(dir, 'summary.json')).results.map((r) => ({ id: r.id, outcome: r.outcome, unexpected: r.unexpected, ...(r.message ? { message: r.message } : {}) }));
}

interface VitestJson {
  testResults: Array<{ name: string; message?: string; assertionResults: Array<{ title: string; fullName: string; status: string; failureMessages?: string[] }> }>;
}

/** Requirement ID a test name starts with (psk/9, wg/1, qkd014/5.2/1), else the name. */
const idOf = (title: string): string => /^([a-z0-9]+\/[0-9][0-9.]*(?:\/\d+)?)\s/.exec(title)?.[1] ?? title;

export function pskStep(reports: string, shard?: Shard): StepPlan {
  const json = join(reports, 'vitest.json');
  return {
    name: 'psk',
    title: 'PSK derivation (Arnika compatibility, properties, vectors)',
    argv: [process.execPath, VITEST, 'run', join(REPO_ROOT, 'suites', 'psk'), '--root', REPO_ROOT, '--config', join(REPO_ROOT, 'vitest.commands.config.ts'), ...shardArgs(shard), '--reporter=default', '--reporter=json', '--outputFile.json', json],
    env: { QKD_REPORTS_DIR: reports },
    reports,
    estimateS: 45,
    deadlineS: 900,
    read: readPskResults,
  };
}

/** The rows of a PSK step's reports directory (vitest's JSON report, vitest.json). @throws when it was not written. */
export function readPskResults(dir: string): StepResult[] {
  const out = readJson<VitestJson>(join(dir, 'vitest.json'));
  const rows: StepResult[] = [];
  for (const file of out.testResults) {
    if (!file.assertionResults.length && file.message) rows.push({ id: file.name.slice(REPO_ROOT.length + 1), outcome: 'error', unexpected: true, message: file.message.split('\n')[0]! });
    for (const t of file.assertionResults) {
      const outcome = t.status === 'passed' ? 'pass' : t.status === 'failed' ? 'fail' : 'skip';
      rows.push({ id: idOf(t.title), outcome, unexpected: outcome === 'fail', ...(t.failureMessages?.[0] ? { message: t.failureMessages[0].split('\n')[0]! } : {}) });
    }
  }
  return rows;
}

interface E2eSummaryFile {
  suites: Array<{ suite: string; outcome: string; error?: string; tests: Array<{ name: string; requirement?: string; outcome: 'pass' | 'fail' | 'skip'; message?: string }> }>;
  errors?: string[];
}

export function e2eStep(reports: string, target: string | undefined, shard?: Shard): StepPlan {
  const suites = shard ? dealt(MAIN_E2E_SUITES, shard) : MAIN_E2E_SUITES;
  return {
    name: 'e2e',
    title: target ? `WireGuard and HSM end to end (${target})` : 'WireGuard and HSM end to end (two-site lab)',
    argv: [process.execPath, BIN, 'e2e', ...(target ? ['--target', target] : ['--lab']), ...suites.flatMap((s) => ['--suite', s]), '--reports', reports],
    reports,
    // Three labs one after another, each with its rotations observed.
    estimateS: 240,
    deadlineS: 2400,
    read: readE2eResults,
  };
}

/** The rows of an `e2e` reports directory (its summary.json). @throws when it was not written. */
export function readE2eResults(dir: string): StepResult[] {
  const s = readJson<E2eSummaryFile>(join(dir, 'summary.json'));
  const rows: StepResult[] = [];
  for (const suite of s.suites) {
    if (suite.error) rows.push({ id: suite.suite, outcome: 'error', unexpected: true, message: suite.error });
    for (const t of suite.tests) rows.push({ id: t.requirement ?? t.name, outcome: t.outcome, unexpected: t.outcome === 'fail', ...(t.message ? { message: t.message } : {}) });
  }
  for (const e of s.errors ?? []) rows.push({ id: 'e2e', outcome: 'error', unexpected: true, message: e });
  return rows;
}
