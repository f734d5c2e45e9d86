// `qkd-harness run`, the main job, as a user runs it (--quick: without the lab, whose suites have their
// own tests): the steps, the closing table, one report built from every step, summary.json, exit codes.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MainJobSummary } from '../run/main-job.ts';
import { scanForKeys } from '../report/leak-scan.ts';
import { ESCROW_ENV, readEscrow } from '../secrets/escrow.ts';
import { runCli as run, startMockCli, stopCliChildren } from '../testing/cli.ts';

const RUN_TIMEOUT_MS = 600_000;
const dirs: string[] = [];
const startMock = async (args: string[]): Promise<string> => (await startMockCli(['--quiet', ...args])).profile;

const reportsDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'qkd-run-'));
  dirs.push(d);
  return d;
};

afterAll(() => {
  stopCliChildren();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** (requirement or test name, outcome) of every Allure result of a reports directory. */
function judged(reports: string): string[] {
  const dir = join(reports, 'allure-results');
  return readdirSync(dir)
    .filter((f) => f.endsWith('-result.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as { name: string; status: string; labels: Array<{ name: string; value: string }> })
    .map((r) => `${r.labels.find((l) => l.name === 'requirement')?.value ?? r.name} → ${r.labels.find((l) => l.name === 'outcome')?.value ?? r.status}`)
    .sort();
}

/** The reports of the unsplit --quick run of the first test (the shard test makes its own when that one failed). */
let unsplit: string | undefined;

describe('qkd-harness run', () => {
  it('--quick: conformance and PSK pass against the embedded default, the lab step says why it is skipped, one report from both (exit 0); no key of the run in anything it wrote', async () => {
    const reports = reportsDir();
    const escrow = join(reportsDir(), 'escrow'); // outside the reports: the keys themselves
    const r = await run(['run', '--quick', '--reports', reports], { [ESCROW_ENV]: escrow });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^conformance\s+ran\s+\d+\s+0\s+/m);
    expect(r.stdout).toMatch(/^psk\s+ran\s+\d+\s+0\s+/m);
    expect(r.stdout).toMatch(/^e2e skipped: --quick$/m);
    const summary = JSON.parse(readFileSync(join(reports, 'summary.json'), 'utf8')) as MainJobSummary;
    expect(summary.steps.map((s) => [s.name, s.status])).toEqual([['conformance', 'ran'], ['psk', 'ran'], ['e2e', 'skipped']]);
    // Judged something: a run that saw nothing is not a pass.
    expect(summary.steps[0]!.counts.pass).toBeGreaterThan(40);
    expect(summary.steps[1]!.counts.pass).toBeGreaterThan(20);
    expect(summary.report).toBe(join(reports, 'allure-report', 'index.html'));
    expect(r.stdout).toContain(`report: ${summary.report}`);
    expect(readFileSync(summary.report!, 'utf8')).toMatch(/<html/i);
    // The secret scan of the whole run: every key the mock KMEs handed out, in base64, hex or raw, in any
    // file under the reports directory (the HTML report included) or on the console.
    const keys = readEscrow(escrow);
    expect(keys.length, 'the scan needs the keys of the run').toBeGreaterThan(100);
    expect([...scanForKeys(reports, keys), ...scanForKeys({ console: r.stdout + r.stderr }, keys)]).toEqual([]);
    unsplit = reports;
  }, RUN_TIMEOUT_MS);

  it('--shard 1/2 and 2/2, merged with report --merge, judge the same (requirement, outcome) set as the unsplit run', async () => {
    if (!unsplit) {
      unsplit = reportsDir();
      await run(['run', '--quick', '--reports', unsplit]);
    }
    const shards = [reportsDir(), reportsDir()];
    for (const [i, dir] of shards.entries()) {
      const r = await run(['run', '--quick', '--shard', `${i + 1}/2`, '--reports', dir]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const s = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as MainJobSummary;
      expect(s.shard).toBe(`${i + 1}/2`);
      // Each shard judged a part, not the whole and not nothing.
      expect(s.steps[0]!.counts.pass).toBeGreaterThan(0);
      expect(judged(dir).length).toBeLessThan(judged(unsplit).length);
    }
    const merged = reportsDir();
    const m = await run(['report', '--merge', ...shards, '--reports', merged]);
    expect(m.code, m.stderr).toBe(0);
    expect(judged(merged)).toEqual(judged(unsplit));
    expect((await run(['run', '--shard', '3/2', '--reports', reportsDir()])).stderr).toMatch(/--shard 3\/2: the index must be between 1 and the count/);
  }, RUN_TIMEOUT_MS);

  it('--target with a deviating KMS: the table lists each unexpected outcome with its requirement ID (exit 1), and the report is still built', async () => {
    const profile = await startMock(['--deviation', 'keys-not-removed']);
    const reports = reportsDir();
    const r = await run(['run', '--quick', '--target', profile, '--reports', reports]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^conformance FAIL qkd014\/5\.4\/3: /m);
    expect(existsSync(join(reports, 'allure-report', 'index.html'))).toBe(true);
  }, RUN_TIMEOUT_MS);

  it('an unreadable target is a usage error (exit 2) before anything runs', async () => {
    const r = await run(['run', '--target', '/nonexistent/profile.yaml', '--reports', reportsDir()]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }, RUN_TIMEOUT_MS);
});
