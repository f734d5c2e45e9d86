// `qkd-harness kpi` (the real CLI, a child process) against every hostile KME of
// src/testing/hostile-kme.ts: each run ends with a clear outcome within its deadline (figures judged,
// exit 0/1, or "cannot run", exit 3 — never killed at the bound, never a stack trace), no figure that
// needs a complete answer passes its threshold, and the harness stays under 768 MiB of resident memory
// (measured: the KPI load engine runs in the main process).
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createTestPki, type TestPki } from '../../src/pki/test-pki.ts';
import type { KpiSummary } from '../../src/kpi/report.ts';
import { startHostileKme, type HostileCase, type HostileKme, type HostileKmeOptions } from '../../src/testing/hostile-kme.ts';
import { CRASH, RSS_BOUND_MIB, runCli } from './cli-run.ts';

interface Case {
  scope?: HostileKmeOptions['scope'];
  /** measured: the phases ran (exit 0 or 1); cannot-run: the first Status got no answer (exit 3). */
  outcome: 'measured' | 'cannot-run';
  /** kpi/<n> requirements that cannot pass: each needs complete answers this KME never gives. */
  notPass?: string[];
}

/** Latency and load figures of enc_keys and the master → slave flow: they need valid key containers. */
const KEY_FIGURES = ['kpi/2', 'kpi/3', 'kpi/4', 'kpi/7'];
/** And of Status: they need complete answers. */
const ALL_FIGURES = [...KEY_FIGURES, 'kpi/1', 'kpi/5'];

const CASES: Record<HostileCase, Case> = {
  'slow-headers': { scope: 'keys', outcome: 'measured', notPass: KEY_FIGURES },
  'endless-body': { scope: 'keys', outcome: 'measured', notPass: KEY_FIGURES },
  'huge-body': { scope: 'keys', outcome: 'measured', notPass: KEY_FIGURES },
  'wrong-name-cert': { outcome: 'cannot-run' },
  'untrusted-ca-cert': { outcome: 'cannot-run' },
  'expired-cert': { outcome: 'cannot-run' },
  redirect: { scope: 'keys', outcome: 'measured', notPass: KEY_FIGURES },
  'invalid-utf8': { outcome: 'measured' }, // valid answers underneath: figures may pass
  'invalid-json': { outcome: 'measured', notPass: ALL_FIGURES }, // Status too: a 200 that is not a Status is no answer
  'lying-content-length': { outcome: 'measured', notPass: ALL_FIGURES },
  'reset-mid-response': { outcome: 'measured', notPass: ALL_FIGURES },
  'million-keys': { scope: 'keys', outcome: 'measured', notPass: KEY_FIGURES },
  'connection-dropped': { outcome: 'cannot-run' },
  'wrong-types': { scope: 'keys', outcome: 'measured', notPass: KEY_FIGURES },
};

// Short phases: what is under test is that each ends, not the figures.
const ARGS = ['--duration', '1', '--samples', '10', '--concurrency', '4', '--only', 'latency,capacity,concurrency,hol'];
/** Generous thresholds: a figure passes them unless it was never measured on complete answers. */
const THRESHOLDS = 'kpi: { status_p95_ms: 600000, latency_p95_ms: 600000, flow_p95_ms: 600000, cold_p95_ms: 600000, min_requests_per_s: 0.001, max_error_share: 0.99 }\n';
const KILL_AFTER_MS = 240_000;

let pki: TestPki;
const kmes: HostileKme[] = [];

beforeAll(async () => {
  pki = await createTestPki(mkdtempSync(join(tmpdir(), 'qkd-hostile-kpi-')));
});
const dirs: string[] = [];

afterAll(async () => {
  await Promise.all(kmes.map((k) => k.close()));
  for (const d of [pki?.dir, ...dirs]) if (d) rmSync(d, { recursive: true, force: true });
});

describe.concurrent('qkd-harness kpi against hostile targets', () => {
  for (const [name, c] of Object.entries(CASES) as Array<[HostileCase, Case]>) {
    it(`${name}: ${c.outcome === 'measured' ? 'figures' : 'cannot run'} within the run's bound, no crash, under ${RSS_BOUND_MIB} MiB`, async ({ expect }) => {
      const kme = await startHostileKme({ case: name, pki, ...(c.scope ? { scope: c.scope } : {}) });
      kmes.push(kme);
      const profile = kme.writeProfile({ timeoutMs: 1000, maxResponseBytes: 4 * 1024 * 1024, file: `kpi-${name}.yaml` });
      appendFileSync(profile, THRESHOLDS);
      const out = mkdtempSync(join(tmpdir(), `qkd-hostile-kpi-${name}-`));
      dirs.push(out);
      const r = await runCli(['kpi', '--target', profile, '--out', out, ...ARGS], KILL_AFTER_MS);
      const said = `exit ${r.code}, ${Math.round(r.elapsedMs / 1000)} s\n${r.stdout.slice(-1500)}\n${r.stderr.slice(-3000)}`;
      console.log(`${name}: exit ${r.code} after ${Math.round(r.elapsedMs / 1000)} s; peak RSS ${Math.round(r.mainPeakMiB)} MiB main, ${Math.round(r.childPeakMiB)} MiB largest child (${r.measured} processes)`);

      expect(r.hung, `hung: killed after ${KILL_AFTER_MS} ms\n${said}`).toBe(false);
      expect(r.stderr, said).not.toMatch(CRASH);
      if (c.outcome === 'cannot-run') expect(r.code, said).toBe(3);
      else expect([0, 1], said).toContain(r.code);
      expect(r.mainPeakMiB, 'no memory measured').toBeGreaterThan(10);
      expect(r.mainPeakMiB, 'main process peak RSS (MiB)').toBeLessThan(RSS_BOUND_MIB);
      expect(r.childPeakMiB, 'child process peak RSS (MiB)').toBeLessThan(RSS_BOUND_MIB);

      expect(existsSync(join(out, 'summary.json')), said).toBe(true);
      const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as KpiSummary;
      const byId = new Map(summary.results.map((x) => [x.id, x]));
      if (c.outcome === 'cannot-run') {
        expect(r.stderr, said).toMatch(/cannot reach KME A of hostile-/);
        for (const x of summary.results) expect(x.outcome, x.id).not.toBe('pass');
      }
      for (const id of c.notPass ?? []) expect(byId.get(id)?.outcome, `${id}: ${byId.get(id)?.message}`).not.toBe('pass');
      const written = r.stdout + r.stderr + readFileSync(join(out, 'summary.json'), 'utf8');
      for (const key of kme.servedKeys) expect(written.includes(key), 'key material in the output').toBe(false);
      expect(kme.redirectHits, 'followed a redirect to another host').toBe(0);
      await expect.poll(() => kme.active, { timeout: 10_000 }).toBe(0);
    }, KILL_AFTER_MS + 30_000);
  }
});
