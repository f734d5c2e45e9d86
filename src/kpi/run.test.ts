// Whole KPI runs against the mock KME pair (in this process), short: every section and chart is written,
// thresholds turn figures into pass/fail (a slow stand-in fails a latency threshold), exhaustion at a
// small pool shows 503s and recovery, an unreachable target is an error with its reason, and no key the
// mock served appears in anything the run wrote or printed.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { startMockPair, type MockPair } from '../../mocks/kme/index.ts';
import type { MockConfigInput } from '../../mocks/kme/config.ts';
import { scanForKeys } from '../report/leak-scan.ts';
import { runKpi, type KpiRunOptions } from './run.ts';
import type { KpiSummary } from './report.ts';

const pairs: MockPair[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(pairs.map((p) => p.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function mock(config: MockConfigInput, deviations: string[] = [], delivered?: Buffer[], pkiDir?: string): Promise<MockPair> {
  const p = await startMockPair({ config, deviations, log: false, ...(pkiDir ? { pkiDir } : {}), ...(delivered ? { onDeliver: (_k, keys) => delivered.push(...keys.map((k) => Buffer.from(k.key))) } : {}) });
  pairs.push(p);
  return p;
}

/** The mock's profile with extra fields (kpi thresholds, allow_exhaustion…), written beside it. */
function profile(p: MockPair, extra: Record<string, unknown>): string {
  const doc = { ...(parse(readFileSync(p.profilePath, 'utf8')) as Record<string, unknown>), ...extra };
  const file = join(dirname(p.profilePath), `kpi-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify(doc));
  return file;
}

async function run(target: string, o: Partial<KpiRunOptions> = {}): Promise<{ summary: KpiSummary; exitCode: number; out: string; log: string }> {
  const out = mkdtempSync(join(tmpdir(), 'qkd-kpi-'));
  dirs.push(out);
  let log = '';
  const r = await runKpi({ target, durationS: 1, concurrency: 4, ratePerS: 40, samples: 20, soak: false, soakS: 2, out, progress: (l) => (log += `${l}\n`), ...o });
  return { ...r, out, log };
}

const outcome = (s: KpiSummary, id: string) => s.results.find((r) => r.id === id)!;

describe('qkd-harness kpi runs', () => {
  it('a short run writes summary.json with every section, charts and Allure results — and no key the mock served', async () => {
    const delivered: Buffer[] = [];
    // A pool refilled at 10 keys/s, so every phase runs and exhaustion shows 503s and recovery even
    // on a loaded machine (consumption must outrun the refill to empty the pool).
    const p = await mock({ key_rate_per_hour: 36_000, prefill: 20_000, max_key_count: 20_000, max_key_per_request: 16, max_key_size: 1024 }, [], delivered);
    const { summary, out, log, exitCode } = await run(profile(p, { kpi: { status_p95_ms: 60_000, min_keys_per_s: 1 } }), { soak: true, ratePerS: 100 });
    const onDisk = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as KpiSummary;
    expect(onDisk.results.map((r) => r.id)).toEqual(['kpi/1', 'kpi/2', 'kpi/3', 'kpi/4', 'kpi/5', 'kpi/6', 'kpi/7', 'kpi/8', 'kpi/9', 'kpi/10', 'kpi/11']);
    for (const phase of ['latency', 'capacity', 'supply', 'concurrency', 'hol', 'exhaustion', 'soak'] as const) expect(onDisk.figures[phase], `${phase}: ${JSON.stringify(onDisk.figures[phase]).slice(0, 400)}`).toMatchObject({ state: 'measured' });
    const errors = summary.results.filter((r) => r.outcome === 'error');
    expect(errors, JSON.stringify(errors)).toEqual([]);
    // With a threshold: pass; without: reported, not claimed.
    expect(outcome(summary, 'kpi/1')).toMatchObject({ outcome: 'pass', thresholds: { status_p95_ms: 60_000 } });
    expect(outcome(summary, 'kpi/6').outcome).toBe('pass');
    expect(outcome(summary, 'kpi/2')).toMatchObject({ outcome: 'info', message: expect.stringMatching(/^measured, no threshold/) });
    expect(exitCode).toBe(0);
    const lat = onDisk.figures.latency?.state === 'measured' ? onDisk.figures.latency.enc_keys : undefined;
    expect(lat?.warm).toMatchObject({ state: 'measured', latency: { p50: expect.any(Number), p95: expect.any(Number), p99: expect.any(Number) } });
    expect(lat?.cold).toMatchObject({ state: 'measured' });
    expect(onDisk.figures.supply).toMatchObject({ keys_per_s: expect.any(Number), key_bits_per_s: expect.any(Number), warmup_s: 0.5 }); // a 1 s phase keeps half
    expect(onDisk.figures.capacity).toMatchObject({ warmup_s: 0.5 });
    expect(onDisk.charts.sort()).toEqual(['charts/exhaustion.svg', 'charts/latency-histogram.svg', 'charts/latency.svg', 'charts/rate.svg', 'charts/soak.svg']);
    for (const c of onDisk.charts) expect(readFileSync(join(out, c), 'utf8')).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*<\/svg>$/);
    const allure = readdirSync(join(out, 'allure-results'));
    expect(allure.filter((f) => f.endsWith('-result.json'))).toHaveLength(11);
    expect(allure.some((f) => f.endsWith('.svg'))).toBe(true);
    expect(log).toMatch(/kpi: HTTP capacity/);
    // Nothing written or printed carries key material.
    expect(delivered.length).toBeGreaterThan(100);
    expect([...scanForKeys(out, delivered), ...scanForKeys({ progress: log }, delivered)]).toEqual([]);
  });

  it('exhaustion at a small pool (kpi/8, kpi/9): the pool drains, 503s come, service returns as it refills', async () => {
    const p = await mock({ key_rate_per_hour: 36_000, prefill: 200, max_key_count: 200, max_key_per_request: 8, max_key_size: 512 });
    const { summary } = await run(profile(p, { kpi: { max_503_share: 0.01, max_recovery_s: 20 } }), { only: ['exhaustion'], ratePerS: 60 });
    const e = summary.figures.exhaustion;
    expect(e?.state).toBe('measured');
    if (e?.state !== 'measured') return;
    expect(e.continuity.share_503).toBeGreaterThan(0);
    expect(e.drain.time_to_first_503_s).toBeGreaterThan(0);
    expect(e.recovery).toMatchObject({ recovered: true, refill_keys_per_s: expect.any(Number) });
    expect(e.level.at(0)!.stored).toBeGreaterThan(e.level.reduce((lo, x) => Math.min(lo, x.stored), Infinity)); // it drained
    expect(outcome(summary, 'kpi/8')).toMatchObject({ outcome: 'fail', message: expect.stringContaining('kpi.max_503_share') });
    expect(outcome(summary, 'kpi/9').outcome).toBe('pass');
    expect(outcome(summary, 'kpi/1')).toMatchObject({ outcome: 'skip', message: expect.stringContaining('--only') });
  });

  it('at the reference key rate (14,000 keys/hour) the mock drains, serves about the link rate on the empty pool and refills at it', async () => {
    const p = await mock({ key_rate_per_hour: 14_000, prefill: 2000, max_key_count: 100_000 });
    const { summary } = await run(profile(p, {}), { only: ['exhaustion'], ratePerS: 20, durationS: 2 });
    const e = summary.figures.exhaustion;
    expect(e?.state, JSON.stringify(e)).toBe('measured');
    if (e?.state !== 'measured') return;
    const link = 14_000 / 3600; // 3.9 keys/s
    expect(e.continuity.share_503).toBeGreaterThan(0.5); // 20 requests/s against 3.9 keys/s
    expect(e.continuity.served_keys_per_s).toBeLessThan(link * 3);
    expect(e.recovery.recovered).toBe(true);
    expect(e.recovery.refill_keys_per_s).toBeGreaterThan(link / 3);
    expect(e.recovery.refill_keys_per_s).toBeLessThan(link * 3);
    expect(summary.results.find((r) => r.id === 'kpi/8')).toMatchObject({ outcome: 'info', figures: { time_to_first_503_s: expect.any(Number), share_503: expect.any(Number) } });
  });

  it('a slow stand-in fails a latency threshold; exhaustion is not measured without allow_exhaustion', async () => {
    const p = await mock({ slow_answer_ms: 150 }, ['slow-answers']);
    const { summary, exitCode } = await run(profile(p, { allow_exhaustion: false, kpi: { latency_p95_ms: 50, status_p95_ms: 60_000 } }), { only: ['latency', 'exhaustion'], samples: 4 });
    expect(outcome(summary, 'kpi/2')).toMatchObject({ outcome: 'fail', message: expect.stringMatching(/enc_keys \(warm\) p95 [\d.]+ ms > kpi.latency_p95_ms 50 ms/) });
    expect(outcome(summary, 'kpi/1').outcome).toBe('pass');
    expect(outcome(summary, 'kpi/8')).toMatchObject({ outcome: 'skip', message: expect.stringContaining('allow_exhaustion') });
    expect(exitCode).toBe(1);
  });

  it('an interrupted run stops its phase and still writes the reports with what it measured', async () => {
    const p = await mock({ key_rate_per_hour: 0, prefill: 50_000, max_key_count: 50_000 });
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(), 1500);
    const started = performance.now();
    const { summary, out } = await run(profile(p, {}), { only: ['capacity', 'supply'], durationS: 120, signal: ctrl.signal });
    expect(performance.now() - started).toBeLessThan(60_000); // far below the 240 s asked for: a hang guard
    expect(summary.figures.capacity).toMatchObject({ state: 'measured' });
    expect(summary.figures.supply).toMatchObject({ state: 'error', reason: expect.stringContaining('interrupted') });
    expect(existsSync(join(out, 'summary.json'))).toBe(true);
  });

  it('an unreachable target: every measured requirement is an error naming the cause, exit code 3, reports still written', async () => {
    const pki = mkdtempSync(join(tmpdir(), 'qkd-kpi-pki-'));
    dirs.push(pki);
    const p = await mock({}, [], undefined, pki); // its PKI outlives it
    const file = profile(p, {});
    const url = p.kmes.A.url;
    await p.stop(); // nothing listens there any more
    const { summary, exitCode, out } = await run(file, { only: ['latency', 'capacity'] });
    expect(exitCode).toBe(3);
    for (const id of ['kpi/1', 'kpi/2', 'kpi/3', 'kpi/4', 'kpi/5']) expect(outcome(summary, id)).toMatchObject({ outcome: 'error', message: expect.stringMatching(new RegExp(`cannot reach KME A .*${url.replace(/[./]/g, '\\$&')}.*(refused|connect)`, 'i')) });
    expect(summary.results.filter((r) => r.outcome === 'pass')).toEqual([]);
    expect(existsSync(join(out, 'summary.json'))).toBe(true);
  });
});
