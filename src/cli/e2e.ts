// `qkd-harness e2e`: the end-to-end suites (suites/e2e: WireGuard PSK agreement, rekey alignment, faults, HSM replication over the tunnel) against the lab (built by the suites)
// or against a real deployment's sites from a target profile (read through their `exec` prefixes).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { REPO_ROOT } from '../lab/node.ts';
import { labUnavailable } from '../lab/prerequisites.ts';
import { loadTargetProfile } from '../target/load.ts';
import { targetSites } from '../sites/target-run.ts';
import { CannotRunError, EXIT, UsageError } from './exit.ts';

interface E2eOptions {
  lab?: boolean;
  target?: string;
  rotations?: string;
  interval?: string;
  natural?: boolean;
  reports: string;
}

async function e2e(o: E2eOptions): Promise<void> {
  if (o.lab && o.target) throw new UsageError('give either --lab or --target FILE, not both');
  const env: Record<string, string | undefined> = { QKD_REPORTS_DIR: resolve(o.reports), QKD_E2E_TARGET: undefined };
  if (o.target) {
    const profile = loadTargetProfile(o.target); // usage errors name the file and field
    targetSites(profile);
    env.QKD_E2E_TARGET = resolve(o.target);
  } else {
    const why = labUnavailable();
    if (why) throw new CannotRunError(`the lab cannot run here: ${why}`);
  }
  if (o.rotations !== undefined) {
    if (!/^\d+$/.test(o.rotations) || Number(o.rotations) < 1) throw new UsageError(`--rotations must be a positive integer, got "${o.rotations}"`);
    env.QKD_E2E_ROTATIONS = o.rotations;
  }
  if (o.interval !== undefined) {
    if (!(Number(o.interval) > 0)) throw new UsageError(`--interval must be a positive number of seconds, got "${o.interval}"`);
    env.QKD_E2E_INTERVAL = o.interval;
  }
  if (o.natural) env.QKD_E2E_HANDSHAKES = 'natural';
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  const suites = join(REPO_ROOT, 'suites', 'e2e');
  if (!existsSync(suites)) throw new CannotRunError(`${suites} is missing`);
  const { startVitest } = await import('vitest/node');
  const vitest = await startVitest('test', [suites], { root: REPO_ROOT, config: join(REPO_ROOT, 'vitest.config.ts'), watch: false, run: true });
  let failed = false;
  for (const file of vitest.state.getFiles()) {
    if (file.result?.state === 'fail' || (file.result?.errors?.length ?? 0) > 0) failed = true;
  }
  await vitest.close();
  process.exitCode = failed ? EXIT.unexpected : EXIT.ok;
}

export function register(program: Command): void {
  program
    .command('e2e')
    .description('end-to-end suites: WireGuard PSK agreement, rekey alignment, HSM replication over the tunnel; faults (lab only)')
    .option('--lab', 'build the two-site lab (the default)')
    .option('--target <file>', 'a target profile whose `sites` (exec prefix, wireguard interface/peer, probe) name a real deployment')
    .option('--rotations <n>', 'rotations to observe (default 2)')
    .option('--interval <seconds>', 'key-control INTERVAL: the lab uses it; for a target, what it is configured with')
    .option('--natural', "wait for WireGuard's own rekey instead of bringing it forward (lab)")
    .option('--reports <dir>', 'where junit.xml and allure-results go', 'reports')
    .action((o: E2eOptions) => e2e(o));
}
