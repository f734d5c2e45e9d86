// `qkd-harness e2e`: the end-to-end suites (suites/e2e: WireGuard PSK agreement, rekey alignment, faults, HSM replication over the tunnel) against the lab (built by the suites)
// or against a real deployment's sites from a target profile (read through their `exec` prefixes).
// The key control under test (--key-control builtin | exec:COMMAND, per site, --mode, --interval) is
// parsed as `lab up` parses it and handed to the suites through the environment (suites/e2e/fixture.ts).
// Per suite the console shows rotations, skew, outage and recovery figures; --reports DIR gets
// summary.json, junit.xml and allure-results, as `conformance` writes them.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { SuiteFigures } from '../../suites/e2e/fixture.ts';
import { REPO_ROOT } from '../lab/node.ts';
import { labUnavailable } from '../lab/prerequisites.ts';
import { KEY_CONTROL_ENV, keyControlsFrom, keyControlText, parseInterval, parseMode } from '../lab/key-control-options.ts';
import { loadSitesProfile } from '../target/load.ts';
import { CannotRunError, EXIT, UsageError } from './exit.ts';

interface E2eOptions {
  lab?: boolean;
  target?: string;
  keyControl?: string;
  keyControlAlice?: string;
  keyControlBob?: string;
  mode?: string;
  rotations?: string;
  interval?: string;
  natural?: boolean;
  suite: string[];
  reports: string;
}

/** What a suite wrote for the console. */
type Figures = SuiteFigures;

export interface E2eTestRow {
  name: string;
  /** The requirement ID the test name starts with (wg/1, hsm/3), if any. */
  requirement?: string;
  outcome: 'pass' | 'fail' | 'skip';
  /** Why it failed or was skipped (the check's summary: fingerprints and times only). */
  message?: string;
  durationMs?: number;
}

export interface E2eSuiteRow {
  file: string;
  suite: string;
  outcome: 'pass' | 'fail' | 'skip';
  /** A failure outside any test (a hook: the lab could not be built or observed). */
  error?: string;
  figures?: Figures;
  tests: E2eTestRow[];
}

export interface E2eSummary {
  run: 'e2e';
  source: string;
  keyControl?: Record<string, string>;
  mode?: string;
  rotations?: number;
  started: string;
  finished: string;
  suites: E2eSuiteRow[];
  /** Errors vitest caught outside any test (first line each). */
  errors?: string[];
}

/** The suite files (`psk-agreement` for suites/e2e/psk-agreement.test.ts). */
function suiteNames(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => f.slice(0, -'.test.ts'.length))
    .sort();
}

/** The environment the suites read (suites/e2e/fixture.ts); undefined entries are removed. */
function settingsEnv(o: E2eOptions): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {
    QKD_E2E_TARGET: undefined,
    QKD_E2E_ROTATIONS: undefined,
    QKD_E2E_INTERVAL: undefined,
    QKD_E2E_HANDSHAKES: undefined,
    [KEY_CONTROL_ENV.keyControl]: undefined,
    [KEY_CONTROL_ENV.keyControlAlice]: undefined,
    [KEY_CONTROL_ENV.keyControlBob]: undefined,
    [KEY_CONTROL_ENV.mode]: undefined,
  };
  const given = o.keyControl ?? o.keyControlAlice ?? o.keyControlBob ?? o.mode;
  if (o.target && given !== undefined) throw new UsageError('--key-control and --mode are for the lab: a target runs its own key control');
  const kc = keyControlsFrom(o); // usage errors name the flag, as `lab up`'s do
  if (o.keyControl !== undefined) env[KEY_CONTROL_ENV.keyControl] = keyControlText(keyControlsFrom({ keyControl: o.keyControl }).alice!);
  if (kc.alice && o.keyControlAlice !== undefined) env[KEY_CONTROL_ENV.keyControlAlice] = keyControlText(kc.alice);
  if (kc.bob && o.keyControlBob !== undefined) env[KEY_CONTROL_ENV.keyControlBob] = keyControlText(kc.bob);
  if (o.mode !== undefined) env[KEY_CONTROL_ENV.mode] = parseMode(o.mode);
  if (o.rotations !== undefined) {
    if (!/^\d+$/.test(o.rotations) || Number(o.rotations) < 1) throw new UsageError(`--rotations must be a positive integer, got "${o.rotations}"`);
    env.QKD_E2E_ROTATIONS = String(Number(o.rotations));
  }
  if (o.interval !== undefined) env.QKD_E2E_INTERVAL = String(parseInterval(o.interval));
  if (o.natural) env.QKD_E2E_HANDSHAKES = 'natural';
  return env;
}

const ms = (v: number | null): string => (v === null ? '–' : `${Math.round(v)} ms`);

/** One suite's lines for a person: figures, then the tally and what failed. */
export function formatSuite(s: E2eSuiteRow): string {
  const n = (o: E2eTestRow['outcome']) => s.tests.filter((t) => t.outcome === o).length;
  const skipped = /^(.*?) \(skipped: (.*)\)$/.exec(s.suite); // fixture.ts `titled`: the gate's reason in the title
  const out = [`${skipped?.[1] ?? s.suite}: ${s.outcome.toUpperCase()} (${n('pass')} passed, ${n('fail')} failed, ${n('skip')} skipped)`];
  const f = s.figures;
  if (f && (f.skewMs.max !== null || f.outageMs.max !== null || !f.recoveries)) {
    out.push(`  ${f.source}: ${f.rotations} rotations observed; skew p50 ${ms(f.skewMs.p50)}, max ${ms(f.skewMs.max)}; outage p50 ${ms(f.outageMs.p50)}, max ${ms(f.outageMs.max)}`);
  } else if (f) out.push(`  ${f.source}: ${f.rotations} rotations observed`);
  for (const r of f?.recoveries ?? []) out.push(`  recovery after ${r.fault}: ${r.recoveryS === null ? 'none observed' : `${r.recoveryS.toFixed(1)} s`}`);
  // Lab only (suites/e2e/fixture.ts figuresOf): set-up, the negative control, roles and wire per rotation.
  if (f?.setupMs !== undefined) out.push(`  set-up ${(f.setupMs / 1000).toFixed(1)} s; first agreed PSK with traffic ${f.firstTrafficMs == null ? 'never' : `${(f.firstTrafficMs / 1000).toFixed(1)} s`} after lab up started`);
  if (f?.negativeControl) out.push(`  ${f.negativeControl}`);
  if (f?.roles) out.push(`  roles observed: ${f.roles}`);
  if (f?.wirePerRotation) out.push(`  per rotation (p50): ${Object.entries(f.wirePerRotation).map(([p, c]) => `${p} ${c.packets ?? '–'} pkts / ${c.bytes ?? '–'} B`).join(', ')}`);
  if (s.error) out.push(`  error: ${s.error}`);
  for (const t of s.tests) if (t.outcome === 'fail') out.push(`  FAIL ${t.name}: ${t.message ?? ''}`);
  if (s.outcome === 'skip') {
    const why = skipped?.[2] ?? s.tests.find((t) => t.message)?.message;
    if (why) out.push(`  skipped: ${why}`);
  }
  // Tests skipped inside a suite that ran (e.g. wg/4 under an external key control), with their reason.
  else for (const t of s.tests) if (t.outcome === 'skip') out.push(`  skipped ${t.name.replace(/ \(skipped: .*\)$/, '')}: ${/\(skipped: (.*)\)$/.exec(t.name)?.[1] ?? t.message ?? 'no reason given'}`);
  return out.join('\n');
}

interface TaskLike {
  type: string;
  name: string;
  mode?: string;
  tasks?: TaskLike[];
  filepath?: string;
  result?: { state?: string; note?: string; duration?: number; errors?: Array<{ message?: string }> };
}

function tests(t: TaskLike): TaskLike[] {
  return t.type === 'test' ? [t] : (t.tasks ?? []).flatMap(tests);
}

/** The suite rows from vitest's task tree and the figures the suites wrote. */
function collect(files: TaskLike[], figuresDir: string): E2eSuiteRow[] {
  const figures = existsSync(figuresDir)
    ? readdirSync(figuresDir).map((f) => JSON.parse(readFileSync(join(figuresDir, f), 'utf8')) as Figures)
    : [];
  return files.map((file) => {
    const top = (file.tasks ?? []).find((t) => t.type === 'suite');
    const suite = top?.name ?? basename(file.filepath ?? file.name);
    const rows = tests(file).map((t): E2eTestRow => {
      const state = t.result?.state;
      const outcome = state === 'fail' ? 'fail' : state === 'pass' ? 'pass' : 'skip';
      const message = outcome === 'fail' ? t.result?.errors?.[0]?.message?.split('\n')[0] : t.result?.note;
      const requirement = /^([a-z0-9]+\/[0-9][0-9.]*(?:\/\d+)?)\s/.exec(t.name)?.[1];
      return { name: t.name, ...(requirement ? { requirement } : {}), outcome, ...(message ? { message } : {}), ...(t.result?.duration !== undefined ? { durationMs: Math.round(t.result.duration) } : {}) };
    });
    const hookError = [...(file.result?.errors ?? []), ...(top?.result?.errors ?? [])][0]?.message?.split('\n')[0];
    const failed = rows.some((r) => r.outcome === 'fail') || hookError !== undefined || file.result?.state === 'fail';
    const outcome = failed ? 'fail' : rows.some((r) => r.outcome === 'pass') ? 'pass' : 'skip';
    const f = figures.find((x) => suite === x.suite || suite.startsWith(`${x.suite} (`));
    return { file: basename(file.filepath ?? file.name), suite, outcome, ...(hookError ? { error: hookError } : {}), ...(f ? { figures: f } : {}), tests: rows };
  });
}

async function e2e(o: E2eOptions): Promise<void> {
  if (o.lab && o.target) throw new UsageError('give either --lab or --target FILE, not both');
  const env = settingsEnv(o);
  const suitesDir = join(REPO_ROOT, 'suites', 'e2e');
  if (!existsSync(suitesDir)) throw new CannotRunError(`${suitesDir} is missing`);
  const known = suiteNames(suitesDir);
  for (const s of o.suite) if (!known.includes(s)) throw new UsageError(`--suite: no suite "${s}" (known: ${known.join(', ')})`);
  let source = 'lab';
  if (o.target) {
    const profile = loadSitesProfile(o.target); // usage errors name the file, line and field, in words
    source = `target ${profile.name}`;
    env.QKD_E2E_TARGET = resolve(o.target);
  } else {
    const why = labUnavailable();
    if (why) throw new CannotRunError(`the lab cannot run here: ${why}`);
  }
  const reports = resolve(o.reports);
  mkdirSync(reports, { recursive: true });
  const figuresDir = mkdtempSync(join(tmpdir(), 'qkdh-e2e-figures-'));
  env.QKD_REPORTS_DIR = reports;
  env.QKD_E2E_FIGURES = figuresDir;
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  const started = new Date().toISOString();
  const filters = o.suite.length ? o.suite.map((s) => join(suitesDir, `${s}.test.ts`)) : [suitesDir];
  let rows: E2eSuiteRow[];
  let unhandled: string[] = [];
  try {
    const { startVitest } = await import('vitest/node');
    const vitest = await startVitest('test', filters, { root: REPO_ROOT, config: join(REPO_ROOT, 'vitest.commands.config.ts'), watch: false, run: true });
    rows = collect(vitest.state.getFiles() as unknown as TaskLike[], figuresDir);
    unhandled = vitest.state.getUnhandledErrors().map((e) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!);
    await vitest.close();
  } finally {
    rmSync(figuresDir, { recursive: true, force: true });
  }
  const kc = keyControlsFrom(o);
  const summary: E2eSummary = {
    run: 'e2e',
    source,
    ...(Object.keys(kc).length ? { keyControl: Object.fromEntries(Object.entries(kc).map(([s, k]) => [s, keyControlText(k)])) } : {}),
    ...(o.mode ? { mode: o.mode } : {}),
    ...(env.QKD_E2E_ROTATIONS ? { rotations: Number(env.QKD_E2E_ROTATIONS) } : {}),
    started,
    finished: new Date().toISOString(),
    suites: rows,
    ...(unhandled.length ? { errors: unhandled } : {}),
  };
  writeFileSync(join(reports, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  process.stdout.write(`\nend-to-end (${source}${summary.keyControl ? `, key control ${Object.entries(summary.keyControl).map(([s, k]) => `${s} ${k}`).join(', ')}` : ''}):\n`);
  for (const s of rows) process.stdout.write(formatSuite(s) + '\n');
  process.stdout.write(`reports: ${o.reports}/summary.json, ${o.reports}/junit.xml, ${o.reports}/allure-results\n`);
  for (const e of unhandled) process.stderr.write(`qkd-harness: an error outside the checks: ${e}\n`);
  // Nothing judged (every suite skipped, or no suite ran) is not a pass; nor is a run with errors outside the checks.
  if (rows.some((s) => s.outcome === 'fail') || unhandled.length) process.exitCode = EXIT.unexpected;
  else if (!rows.some((s) => s.outcome === 'pass')) {
    process.stderr.write('qkd-harness: no end-to-end check was judged (every suite skipped)\n');
    process.exitCode = EXIT.cannotRun;
  } else process.exitCode = EXIT.ok;
}

export function register(program: Command): void {
  program
    .command('e2e')
    .description('end-to-end suites: WireGuard PSK agreement, rekey alignment, HSM replication over the tunnel; faults and environmental faults (lab only: --suite environment)')
    .option('--lab', 'build the two-site lab (the default)')
    .option('--target <file>', 'a target profile whose `sites` (exec prefix, wireguard interface/peer, probe) name a real deployment; kmes/saes are not needed')
    .option('--key-control <kc>', 'lab: the key control under test on both sites, builtin | exec:COMMAND (Arnika 1.x environment, as `lab up`); default: each suite\'s own')
    .option('--key-control-alice <kc>', 'override --key-control for alice')
    .option('--key-control-bob <kc>', 'override --key-control for bob')
    .option('--mode <mode>', 'lab: Arnika MODE of the key controls (as `lab up --mode`)')
    .option('--rotations <n>', 'rotations to observe per suite (default 2; the lab counts the one that brings the tunnel up on top)')
    .option('--interval <seconds>', 'key-control INTERVAL: the lab uses it; for a target, what it is configured with')
    .option('--natural', "wait for WireGuard's own rekey instead of bringing it forward (lab)")
    .option('--suite <name>', 'run only this suite (repeatable): a file name under suites/e2e without .test.ts, e.g. rekey-alignment, environment', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--reports <dir>', 'where summary.json, junit.xml and allure-results go', 'reports')
    .action((o: E2eOptions) => e2e(o));
}
