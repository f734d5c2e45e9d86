// `qkd-harness kpi [--target FILE]`: key-delivery KPIs (latency, HTTP capacity, key supply, concurrent
// clients, head-of-line blocking, exhaustion and recovery, soak) → summary.json, charts, Allure results.
// Without --target it measures the embedded mock KME pair (started as a child process). Progress on stderr.
import { Option, type Command } from 'commander';
import { runKpi } from '../kpi/run.ts';
import { PHASES, type Phase } from '../kpi/scenarios.ts';
import { formatKpiTable } from '../kpi/report.ts';
import { UsageError } from './exit.ts';

interface Options {
  target?: string;
  duration: number;
  concurrency: number;
  rate: number;
  samples: number;
  soak?: boolean;
  soakDuration: number;
  only?: string;
  json?: boolean;
  out: string;
}

function positive(flag: string, max: number, integer = true) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || n > max || (integer && !Number.isInteger(n))) throw new UsageError(`${flag} must be a ${integer ? 'whole ' : ''}number above 0 and at most ${max}, got "${v}"`);
    return n;
  };
}

function phases(v: string): Phase[] {
  const list = v.split(',').map((p) => p.trim()).filter(Boolean);
  const bad = list.filter((p) => !(PHASES as readonly string[]).includes(p));
  if (bad.length || !list.length) throw new UsageError(`--only takes phases from ${PHASES.join(', ')}, got "${v}"`);
  return list as Phase[];
}

export function register(program: Command): void {
  program
    .command('kpi')
    .description('measure key-delivery KPIs (latency, capacity, key supply, concurrency, exhaustion, head-of-line blocking) against a target profile (default: the embedded mock KME pair)')
    .option('--target <file>', 'target profile (YAML); its kpi: section holds the thresholds')
    .option('--duration <s>', 'length of each load phase in seconds', positive('--duration', 86_400, false), 10)
    .option('--concurrency <n>', 'connections of the load phases = concurrent clients', positive('--concurrency', 1000), 10)
    .option('--rate <r>', 'paced requests per second of the service-continuity and soak phases', positive('--rate', 100_000, false), 20)
    .option('--samples <n>', 'requests per latency scenario (also bounded by --duration)', positive('--samples', 1_000_000), 200)
    .option('--soak', 'add the soak phase (nightly): latency drift and harness memory over time windows')
    .option('--soak-duration <s>', 'length of the soak phase in seconds', positive('--soak-duration', 7 * 86_400, false), 1800)
    .addOption(new Option('--only <phases>', `comma-separated phases to run: ${PHASES.join(', ')}`))
    .option('--json', 'print summary.json on stdout instead of the table')
    .option('--out <dir>', 'where summary.json, charts/ and allure-results/ go', 'reports/kpi')
    .action(async (o: Options) => {
      const only = o.only === undefined ? undefined : phases(o.only);
      if (only?.includes('soak') && !o.soak) throw new UsageError('--only soak needs --soak (the soak phase is for nightly runs)');
      const ctrl = new AbortController();
      const stop = () => ctrl.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const { summary, exitCode } = await runKpi({
          ...(o.target ? { target: o.target } : {}),
          durationS: o.duration,
          concurrency: o.concurrency,
          ratePerS: o.rate,
          samples: o.samples,
          soak: Boolean(o.soak),
          soakS: o.soakDuration,
          ...(only ? { only } : {}),
          out: o.out,
          progress: (line) => process.stderr.write(`${line}\n`),
          signal: ctrl.signal,
        });
        if (o.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
        else process.stdout.write(`${formatKpiTable(summary, process.stdout.columns || 120)}\nreports: ${o.out}/summary.json, ${o.out}/charts/, ${o.out}/allure-results\n`);
        for (const r of summary.results) if (r.outcome === 'error' && exitCode === 3) process.stderr.write(`qkd-harness: ${r.id}: ${r.message}\n`);
        process.exitCode = exitCode;
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}
