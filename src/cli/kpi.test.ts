// `qkd-harness kpi` as a user runs it: the embedded mock pair by default (a child process), --json,
// progress on stderr, exit codes for an unreachable target and for usage errors.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KpiSummary } from '../kpi/report.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'qkd-harness.js');
/** A hang guard for spawned runs on a loaded 2-core machine, not a measurement. */
const RUN_TIMEOUT_MS = 180_000;
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'qkd-kpi-cli-'));
  dirs.push(d);
  return d;
}

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, VITEST: undefined, VITEST_POOL_ID: undefined, VITEST_WORKER_ID: undefined } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('qkd-harness kpi', () => {
  it('measures the embedded mock KME pair without --target; --json prints summary.json; progress goes to stderr', async () => {
    const out = tmp();
    const r = await run(['kpi', '--duration', '1', '--samples', '10', '--only', 'latency,capacity', '--json', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as KpiSummary;
    expect(s).toMatchObject({ kind: 'kpi', target: 'embedded mock KME pair', options: { phases: ['latency', 'capacity'], allow_exhaustion: true } });
    expect(s.figures.capacity).toMatchObject({ state: 'measured', requests_per_s: expect.any(Number) });
    expect(s.results.find((x) => x.id === 'kpi/5')?.outcome).toBe('info');
    expect(r.stderr).toMatch(/kpi: latency Status warm/);
    expect(existsSync(join(out, 'summary.json'))).toBe(true);
    expect(existsSync(join(out, 'charts', 'latency.svg'))).toBe(true);
  }, RUN_TIMEOUT_MS);

  it('an unreachable target exits 3 with the cause on stderr', async () => {
    const dir = tmp();
    const file = join(dir, 'gone.yaml');
    // A port nothing listens on (plain http, so no TLS files are needed).
    writeFileSync(file, 'name: gone\nkmes:\n  A: { url: "http://127.0.0.1:9" }\n  B: { url: "http://127.0.0.1:9" }\nsaes:\n  master: { id: SAE_A, kme: A }\n  slave: { id: SAE_B, kme: B }\ntimeout_ms: 2000\n');
    const r = await run(['kpi', '--target', file, '--duration', '1', '--only', 'latency', '--out', join(dir, 'out')]);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toMatch(/kpi\/1: cannot reach KME A of gone as SAE_A/);
    expect(r.stdout).toMatch(/kpi\/1\s+error/);
    expect(r.stdout).not.toContain('…'); // long messages wrap, never cut
  }, RUN_TIMEOUT_MS);

  it('usage errors exit 2 before anything runs', async () => {
    for (const args of [['--only', 'latency,nonsense'], ['--duration', '0'], ['--concurrency', '2.5'], ['--only', 'soak']]) {
      const r = await run(['kpi', ...args, '--out', tmp()]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
    }
  }, RUN_TIMEOUT_MS);
});
