// `qkd-harness conformance --target FILE`: the ETSI 014 suites against any target profile.
import type { Command } from 'commander';
import { loadTargetProfile, type LoadedProfile } from '../target/load.ts';
import { clientFor, closeClients } from '../target/clients.ts';
import { KmeTransportError } from '../kme/errors.ts';
import { loadExpectations } from '../conformance/expectations.ts';
import { loadCatalogue } from '../conformance/catalogue.ts';
import { runConformance } from '../conformance/run.ts';
import { coverageText, formatTable } from '../conformance/summary.ts';
import { parseShard } from '../run/shard.ts';
import { CannotRunError, EXIT, UsageError } from './exit.ts';

interface Options {
  target?: string;
  strict?: boolean;
  grep?: string;
  expectations?: string;
  shard?: string;
  reports: string;
}

/**
 * Fails fast, in one sentence, when the target cannot be reached at all (exit 3). A KME that answers
 * (any response head, even when the body then fails) is reachable, and a certificate without the
 * configured kme_id is qkd014/4/7's finding (the role clients do not verify it): both go on to the run.
 */
async function preflight(profile: LoadedProfile): Promise<void> {
  const master = clientFor(profile, 'master')!;
  try {
    await master.client.status(profile.saes.slave.id);
  } catch (err) {
    if (!(err instanceof KmeTransportError)) throw err;
    if (err.responseStatus !== undefined) return; // it answered: the run judges what followed
    const hint = err.kind === 'server-identity-mismatch' ? ` (set kmes.${master.kmeName}.servername to a name the certificate carries, or use a URL with one)` : '';
    throw new CannotRunError(`cannot reach KME ${master.kmeName} of ${profile.name} as ${master.saeId}: ${err.message}${hint}`);
  } finally {
    await closeClients([master]);
  }
}

export async function conformance(o: Options): Promise<number> {
  if (o.grep && !/^[a-z0-9]+(\/[0-9.]*)*$/.test(o.grep)) throw new UsageError(`--grep takes a requirement ID prefix such as qkd014/5.3, not "${o.grep}"`);
  if (o.grep && !loadCatalogue('etsi014').some((r) => r.id.startsWith(o.grep!))) throw new UsageError(`--grep ${o.grep} matches no requirement of the ETSI 014 catalogue (qkd-harness list shows them)`);
  const shard = o.shard === undefined ? undefined : parseShard(o.shard);
  let targetName = 'embedded mock KME pair';
  let profile: 'strict' | 'lenient' = o.strict ? 'strict' : 'lenient';
  let expectations = o.expectations;
  if (o.target) {
    const p = loadTargetProfile(o.target); // exit 2 on a bad profile, before anything runs
    targetName = p.name;
    if (!o.strict) profile = p.profile;
    expectations ??= p.expectations;
    await preflight(p);
  }
  if (expectations) loadExpectations(expectations); // exit 2 on a bad file, before anything runs
  const { summary, harnessErrors } = await runConformance({ target: o.target, targetName, profile, grep: o.grep, expectations: o.expectations, reports: o.reports, ...(shard ? { shard } : {}) });
  process.stdout.write(formatTable(summary, process.stdout.columns || 120) + '\n');
  if (summary.coverage) process.stdout.write(coverageText(summary.coverage) + '\n');
  for (const stale of summary.results.filter((r) => r.stale)) process.stdout.write(`note: ${stale.id} was expected as ${stale.expected} and is now ${stale.outcome}: update the expectations\n`);
  if (harnessErrors.length) {
    process.stderr.write(harnessErrors.map((e) => `qkd-harness: ${e}`).join('\n') + '\n');
    return EXIT.cannotRun;
  }
  if (summary.results.length === 0) {
    process.stderr.write('qkd-harness: no requirement was evaluated\n');
    return EXIT.cannotRun;
  }
  process.stdout.write(`reports: ${o.reports}/summary.json, ${o.reports}/junit.xml, ${o.reports}/allure-results\n`);
  return summary.results.some((r) => r.unexpected) ? EXIT.unexpected : EXIT.ok;
}

export function register(program: Command): void {
  program
    .command('conformance')
    .description('run the ETSI GS QKD 014 conformance suite against a target profile (default: the embedded mock KME pair)')
    .option('--target <file>', 'target profile (YAML)')
    .option('--strict', 'strict profile: exact messages and status codes, SHOULDs count')
    .option('--grep <prefix>', 'only requirements whose ID starts with this prefix, e.g. qkd014/5.4')
    .option('--expectations <file>', 'expected outcomes for this implementation (fixtures/expectations/<name>.yaml)')
    .option('--shard <i/n>', 'one of n slices of the suite files (merge the slices with report --merge)')
    .option('--reports <dir>', 'where summary.json, junit.xml and allure-results go', 'reports')
    .action(async (o: Options) => {
      process.exitCode = await conformance(o);
    });
}
