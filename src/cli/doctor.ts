// `qkd-harness doctor [--fix]`: is this host ready for the harness, the lab, the HSM leg and the browser
// check of the report? Exit 0 when everything but optional parts is there, 3 when something is missing; `--fix` (root, apt)
// installs the missing Debian packages and checks again.
import { spawnSync } from 'node:child_process';
import type { Command } from 'commander';
import { missingPackages, runChecks, type Check } from '../doctor/checks.ts';
import { CannotRunError, EXIT, UsageError } from './exit.ts';

const APT_TIMEOUT_MS = 15 * 60_000;

function table(checks: Check[]): string {
  const w = Math.max(...checks.map((c) => c.name.length));
  const mark = (c: Check) => (c.ok ? 'ok     ' : c.needed === 'report-check' ? 'absent ' : 'MISSING');
  return checks.map((c) => `${mark(c)}  ${c.name.padEnd(w)}  ${c.detail}${c.ok ? '' : c.needed === 'report-check' ? '  [optional: the headless-browser check of the HTML report]' : `  [needed for: ${c.needed}]`}`).join('\n');
}

function aptInstall(packages: string[]): void {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const argv of [['apt-get', 'update', '-qq'], ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...packages]]) {
    process.stdout.write(`$ ${argv.join(' ')}\n`);
    const r = spawnSync(argv[0]!, argv.slice(1), { stdio: 'inherit', env, timeout: APT_TIMEOUT_MS });
    if (r.error || r.status !== 0) throw new CannotRunError(`${argv.slice(0, 2).join(' ')} failed (${r.error?.message ?? `exit ${r.status}`})`);
  }
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check the prerequisites (Node, root, tun, wireguard-go, wg, ip, nft, softhsm2, the PKCS#11 binding, chromium); --fix installs missing Debian packages as root')
    .option('--fix', 'install the missing Debian packages with apt-get (root)')
    .option('--json', 'print the checks as JSON')
    .action((o: { fix?: boolean; json?: boolean }) => {
      let checks = runChecks();
      if (o.fix) {
        const pkgs = missingPackages(checks);
        if (pkgs.length) {
          if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new UsageError(`--fix installs packages (${pkgs.join(' ')}) and needs root`);
          if (spawnSync('apt-get', ['--version'], { timeout: 10_000 }).status !== 0) throw new CannotRunError(`--fix needs apt-get (Debian or Ubuntu); install by hand: ${pkgs.join(' ')}`);
          aptInstall(pkgs);
          checks = runChecks();
        }
      }
      if (o.json) process.stdout.write(JSON.stringify(checks, null, 2) + '\n');
      else {
        process.stdout.write(table(checks) + '\n');
        const pkgs = missingPackages(checks);
        if (pkgs.length) process.stdout.write(`\nmissing Debian packages: ${pkgs.join(' ')} (qkd-harness doctor --fix installs them as root)\n`);
      }
      // The browser check of the report is optional: without it everything else still runs.
      process.exitCode = checks.every((c) => c.ok || c.needed === 'report-check') ? EXIT.ok : EXIT.cannotRun;
    });
}
