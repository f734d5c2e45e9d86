// `qkd-harness conformance` end to end, as a user runs it: against `qkd-harness mock`, with exit codes,
// summary.json, JUnit, Allure results, expectations, and clear one-line refusals.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import type { Summary } from '../conformance/summary.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'qkd-harness.js');
const children: ChildProcess[] = [];

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, VITEST: undefined, VITEST_POOL_ID: undefined, VITEST_WORKER_ID: undefined, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function startMock(args: string[] = []): Promise<{ profile: string; saes: Record<string, { cert: string; key: string }>; ca: string }> {
  const p = spawn(process.execPath, [BIN, 'mock', ...args], { env: { ...process.env, VITEST: undefined } });
  children.push(p);
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: p.stdout }).once('line', resolve);
    p.once('exit', (code) => reject(new Error(`mock exited with ${code}`)));
  });
  return JSON.parse(line) as { profile: string; saes: Record<string, { cert: string; key: string }>; ca: string };
}

afterAll(() => {
  for (const c of children) c.kill('SIGTERM');
});

describe('qkd-harness conformance', () => {
  it('passes every requirement against the faithful mock in strict mode and writes summary, JUnit and Allure results', async () => {
    const mock = await startMock();
    const reports = mkdtempSync(join(tmpdir(), 'qkd-reports-'));
    const r = await run(['conformance', '--target', mock.profile, '--strict', '--reports', reports]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(reports, 'summary.json'), 'utf8')) as Summary;
    expect(summary).toMatchObject({ profile: 'strict', seed: expect.any(Number), started: expect.any(String), finished: expect.any(String) });
    expect(summary.results.length).toBeGreaterThan(40);
    expect(summary.results.filter((x) => x.outcome === 'fail' || x.outcome === 'error')).toEqual([]);
    expect(r.stdout).toMatch(/qkd014\/5\.4\/1\s+MUST\s+pass/);
    expect(existsSync(join(reports, 'junit.xml'))).toBe(true);
    expect(readdirSync(join(reports, 'allure-results')).some((f) => f.endsWith('-result.json'))).toBe(true);
    const report = await run(['report', '--reports', reports]);
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout.trim()).toBe(join(reports, 'allure-report', 'index.html'));
    expect(readFileSync(report.stdout.trim(), 'utf8')).toMatch(/<html/i);
  }, 240_000);

  it('exits 1 on a deviation, and 0 when an expectations file expects exactly that', async () => {
    const mock = await startMock(['--deviation', 'keys-not-removed']);
    const reports = mkdtempSync(join(tmpdir(), 'qkd-reports-'));
    const r = await run(['conformance', '--target', mock.profile, '--strict', '--grep', 'qkd014/5.4', '--reports', reports]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const summary = JSON.parse(readFileSync(join(reports, 'summary.json'), 'utf8')) as Summary;
    const failed = summary.results.filter((x) => x.outcome === 'fail');
    expect(failed.map((x) => x.id)).toContain('qkd014/5.4/3');
    const evidence = failed.find((x) => x.id === 'qkd014/5.4/3')!.evidence![0]!;
    expect(evidence.curl).toMatch(/^curl .*--cert '.*' --key '.*' --cacert '.*' .*dec_keys/);
    expect(evidence.responseBody).not.toMatch(/"key":"[A-Za-z0-9+/]{20,}/);
    const exp = join(reports, 'expect.yaml');
    writeFileSync(exp, `implementation: mock with keys-not-removed\noutcomes:\n${failed.map((x) => `  ${x.id}: fail`).join('\n')}\n`);
    const again = await run(['conformance', '--target', mock.profile, '--strict', '--grep', 'qkd014/5.4', '--expectations', exp, '--reports', reports]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
  }, 240_000);

  it('refuses a malformed profile with exit 2 and one line naming file and field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qkd-bad-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'name: x\nkmes: {}\nsaes: {}\n');
    const r = await run(['conformance', '--target', file]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toMatch(/field (kmes|saes)/);
  });

  it('ends with exit 3 and one sentence when the target is unreachable', async () => {
    const mock = await startMock();
    const text = readFileSync(mock.profile, 'utf8').replace(/https:\/\/[^\s,}]+/g, 'https://127.0.0.1:9');
    const file = join(mkdtempSync(join(tmpdir(), 'qkd-unreach-')), 'p.yaml');
    writeFileSync(file, text.replace(/(ca|cert|key): ([^\s,}]+)/g, (_m, k: string, v: string) => `${k}: ${v.startsWith('/') ? v : join(mock.profile, '..', v)}`));
    const r = await run(['conformance', '--target', file]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/cannot reach KME A .*refused the connection/);
  });

  it('refuses a bad --grep and an unreadable expectations file with exit 2', async () => {
    expect((await run(['conformance', '--grep', 'not an id!'])).code).toBe(2);
    expect((await run(['conformance', '--expectations', '/nonexistent.yaml'])).code).toBe(2);
  });
});

describe('shipped expectations', () => {
  it('fixtures/expectations/mock-404-detail.yaml matches a mock with those deviations exactly (exit 0)', async () => {
    const mock = await startMock(['--deviation', '404-instead-of-400', '--deviation', 'detail-errors']);
    const reports = mkdtempSync(join(tmpdir(), 'qkd-reports-'));
    const file = join(import.meta.dirname, '..', '..', 'fixtures', 'expectations', 'mock-404-detail.yaml');
    const r = await run(['conformance', '--target', mock.profile, '--expectations', file, '--reports', reports]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(reports, 'summary.json'), 'utf8')) as Summary;
    expect(summary.results.filter((x) => x.outcome === 'warn').length).toBeGreaterThan(10);
    expect(summary.results.filter((x) => x.stale)).toEqual([]);
  }, 240_000);
});
