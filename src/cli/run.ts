// `qkd-harness run` (also `npm start`): the main job — ETSI 014 conformance, the PSK suites, and where the
// host allows the lab (or the target names sites) the WireGuard and HSM end-to-end suites; then one
// report and a summary table (src/run/main-job.ts).
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { formatMainJob, mainJob, mainJobExit } from '../run/main-job.ts';
import { parseShard } from '../run/shard.ts';
import { UsageError } from './exit.ts';
import { buildReport } from './report.ts';

interface RunOptions {
  target?: string;
  quick?: boolean;
  verbose?: boolean;
  shard?: string;
  reports: string;
}

export function register(program: Command): void {
  program
    .command('run')
    .description('the main job: ETSI 014 conformance, the PSK suites, then (root, tun, the lab packages) the WireGuard and HSM end-to-end suites in the lab; one report and a summary table')
    .option('--target <file>', 'a real deployment: conformance against its KMEs, the end-to-end suites against its sites')
    .option('--quick', 'skip the lab / sites step (about a minute)')
    .option('--verbose', "show each step's own output as it comes")
    .option('--shard <i/n>', 'one of n slices of each step (CI jobs on several machines; merge with report --merge)')
    .option('--reports <dir>', 'where summary.json, each step\'s results and the HTML report go', 'reports')
    .action(async (o: RunOptions) => {
      if (o.target && !existsSync(o.target)) throw new UsageError(`--target ${o.target}: no such file`);
      const shard = o.shard === undefined ? undefined : parseShard(o.shard);
      const abort = new AbortController();
      const onSignal = (sig: NodeJS.Signals) => abort.abort(sig);
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, onSignal);
      const summary = await mainJob({ target: o.target, quick: o.quick, verbose: o.verbose, reports: o.reports, signal: abort.signal, ...(shard ? { shard } : {}) }, (dir) => buildReport(dir));
      process.stdout.write(formatMainJob(summary, o.reports) + '\n');
      const reason = abort.signal.reason as NodeJS.Signals | undefined;
      process.exitCode = reason ? ({ SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as Record<string, number>)[reason] ?? 130 : mainJobExit(summary);
    });
}
