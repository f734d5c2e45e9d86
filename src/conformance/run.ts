// Runs the ETSI 014 suites through vitest (so JUnit and Allure reporters apply) against one target and
// gathers the per-requirement results into reports/summary.json.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TestSpecification } from 'vitest/node';
import { propertySeed } from '../report/seed.ts';
import { shardText, type Shard } from '../run/shard.ts';
import { reportersFor } from '../report/reporters.ts';
import { ENV } from './target.ts';
import { clauseCoverage, sortRows, type ResultRow, type Summary } from './summary.ts';
import { exchangeCoverage } from '../kme/exchange-log.ts';
import type { ProfileName } from './verdict.ts';
import { PACKAGE_ROOT } from '../util/entry.js';

export const ROOT = resolve(PACKAGE_ROOT);
export const ETSI014_SUITES = join(ROOT, 'suites', 'etsi014');

export interface ConformanceOptions {
  /** Target profile file; undefined = the embedded mock pair. */
  target?: string;
  targetName: string;
  profile: ProfileName;
  grep?: string;
  expectations?: string;
  reports: string;
  /** One slice of the suite files (vitest --shard). */
  shard?: Shard;
}

export interface ConformanceRun {
  summary: Summary;
  /** vitest reported failures that are not requirement outcomes (a suite that could not start). */
  harnessErrors: string[];
}

export async function runConformance(o: ConformanceOptions): Promise<ConformanceRun> {
  const reports = resolve(o.reports);
  mkdirSync(reports, { recursive: true });
  const resultsFile = join(reports, 'conformance-results.jsonl');
  const keyIdsFile = join(reports, 'key-ids.jsonl');
  rmSync(resultsFile, { force: true });
  rmSync(keyIdsFile, { force: true });
  // allure-results, junit.xml and summary.json of an earlier run are removed by the reporters themselves
  // (src/report/fresh-results.ts) when vitest starts.
  const stallsFile = join(reports, 'conformance-stalls.jsonl'); // the run budget's shared record (src/kme/run-budget.ts)
  rmSync(stallsFile, { force: true });
  const exchangesFile = join(reports, 'exchanges.jsonl'); // status codes per endpoint (src/kme/exchange-log.ts)
  rmSync(exchangesFile, { force: true });
  const env: Record<string, string | undefined> = {
    [ENV.target]: o.target ? resolve(o.target) : undefined,
    [ENV.strict]: o.profile === 'strict' ? '1' : '0',
    [ENV.grep]: o.grep,
    [ENV.expectations]: o.expectations ? resolve(o.expectations) : undefined,
    [ENV.results]: resultsFile,
    [ENV.keyIds]: keyIdsFile,
    [ENV.runStarted]: String(Date.now()),
    [ENV.stalls]: stallsFile,
    [ENV.exchanges]: exchangesFile,
    QKD_REPORTS_DIR: reports,
  };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  const started = new Date().toISOString();
  const { startVitest, BaseSequencer } = await import('vitest/node');
  // The embedded mock is started per suite file, so files may run in parallel. A real target is one
  // shared KMS: its files run one at a time, the pool-emptying exhaustion file last.
  class SharedTargetSequencer extends BaseSequencer {
    override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
      const sorted = [...files].sort((a, b) => a.moduleId.localeCompare(b.moduleId));
      return [...sorted.filter((f) => !f.moduleId.includes('exhaustion')), ...sorted.filter((f) => f.moduleId.includes('exhaustion'))];
    }
  }
  const vitest = await startVitest('test', [ETSI014_SUITES], {
    root: ROOT,
    config: join(ROOT, 'vitest.commands.config.ts'),
    watch: false,
    run: true,
    reporters: reportersFor(reports),
    ...(o.shard ? { shard: shardText(o.shard) } : {}),
    // One worker process runs its files one after another without a fresh module graph per file: half
    // the wall time of a run (each file's import took about a second), and no state is module-wide
    // except what the run shares on purpose (the stall record of src/kme/run-budget.ts).
    isolate: false,
    ...(o.target ? { fileParallelism: false, sequence: { sequencer: SharedTargetSequencer } } : {}),
  });
  const harnessErrors: string[] = [];
  for (const file of vitest.state.getFiles()) {
    for (const err of file.result?.errors ?? []) harnessErrors.push(`${file.name}: ${String(err.message).split('\n')[0]}`);
    const walk = (tasks: typeof file.tasks): void => {
      for (const t of tasks) {
        if (t.type === 'suite') {
          for (const err of t.result?.errors ?? []) harnessErrors.push(`${t.name}: ${String(err.message).split('\n')[0]}`);
          walk(t.tasks);
        }
      }
    };
    walk(file.tasks);
  }
  await vitest.close();
  rmSync(keyIdsFile, { force: true });
  const rows: ResultRow[] = existsSync(resultsFile)
    ? readFileSync(resultsFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as ResultRow)
    : [];
  const summary: Summary = {
    target: o.targetName,
    profile: o.profile,
    seed: propertySeed(),
    started,
    finished: new Date().toISOString(),
    coverage: { clauses: clauseCoverage(rows), endpoints: exchangeCoverage(exchangesFile) },
    results: sortRows(rows).map(({ id, level, implied, outcome, message, expected, unexpected, stale, evidence, durationMs }) => ({ id, level, ...(implied ? { implied } : {}), outcome, message, ...(expected ? { expected } : {}), unexpected, stale, ...(evidence ? { evidence } : {}), ...(durationMs !== undefined ? { durationMs } : {}) })),
  };
  rmSync(exchangesFile, { force: true });
  writeFileSync(join(reports, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  return { summary, harnessErrors };
}
