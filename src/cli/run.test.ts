// `qkd-harness run`, the main job, as a user runs it (--quick: without the lab, whose suites have their
// own tests): the steps, the closing table, one report built from every step, summary.json, exit codes.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import type { MainJobSummary } from '../run/main-job.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'qkd-harness.js');
const RUN_TIMEOUT_MS = 600_000;
const children: ChildProcess[] = [];
const dirs: string[] = [];

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, VITEST: undefined, VITEST_POOL_ID: undefined, VITEST_WORKER_ID: undefined } });
    children.push(p);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function startMock(args: string[]): Promise<string> {
  const p = spawn(process.execPath, [BIN, 'mock', '--quiet', ...args], { env: { ...process.env, VITEST: undefined } });
  children.push(p);
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: p.stdout }).once('line', resolve);
    p.once('exit', (code) => reject(new Error(`mock exited with ${code}`)));
  });
  return (JSON.parse(line) as { profile: string }).profile;
}

const reportsDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'qkd-run-'));
  dirs.push(d);
  return d;
};

afterAll(() => {
  for (const c of children) c.kill('SIGTERM');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('qkd-harness run', () => {
  it('--quick: conformance and PSK pass against the embedded default, the lab step says why it is skipped, one report from both (exit 0)', async () => {
    const reports = reportsDir();
    const r = await run(['run', '--quick', '--reports', reports]);
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
