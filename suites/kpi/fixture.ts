// KPI figures as a run reports them, for the requirement tests: one measured run with round numbers,
// which each test varies to show its requirement passing, failing, unjudged and unmeasurable.
import type { KpiFigures, PhaseFigures } from '../../src/kpi/scenarios.ts';

export const phase = (p95: number, ops = 100, ok = ops, extra: Partial<PhaseFigures> = {}): PhaseFigures => ({
  ops,
  ok,
  elapsed_s: 1,
  latency: { count: ok, min: p95 / 4, mean: p95 / 2, p50: p95 / 2, p90: p95 * 0.9, p95, p99: p95 * 1.5, max: p95 * 2 },
  statuses: ok === ops ? { '200': ok } : { '200': ok, '0': ops - ok },
  failures: ok === ops ? {} : { deadline: { count: ops - ok, first: 'GET /api/v1/keys/SAE_B/status at https://kme-a: no complete answer within the deadline of 10000 ms' } },
  ...extra,
});

const m = <T extends object>(x: T) => ({ state: 'measured' as const, ...x });

export function figures(): KpiFigures {
  return {
    status: { key_size: 256, stored_key_count: 1000, max_key_count: 1000, max_key_per_request: 16, max_key_size: 1024, min_key_size: 64 },
    latency: m({
      status: { warm: m(phase(2)), cold: m(phase(20)) },
      enc_keys: { warm: m(phase(4)), cold: m(phase(25)) },
      flow: { warm: m(phase(8)), cold: m(phase(50)) },
    }),
    capacity: m({ ...phase(5, 5000), requests_per_s: 5000, warmup_s: 1, timeline: [], bucket_ms: 250 }),
    supply: m({ ...phase(6, 3000), keys_per_s: 3000, key_bits_per_s: 768_000, requests_per_s: 3000, warmup_s: 1, key_size: 256, timeline: [], bucket_ms: 250 }),
    concurrency: m({ ...phase(30, 1000), clients: 10, ok_share: 1, error_share: 0 }),
    hol: m({ unloaded: { status: phase(1), enc_keys: phase(2) }, loaded: { status: phase(3), enc_keys: phase(4) }, large: { ...phase(40, 10), number: 16, size: 1024 }, factor: 3, factor_status: 3, factor_enc_keys: 2 }),
    exhaustion: m({
      drain: { keys: 1000, requests: 80, elapsed_s: 0.5, time_to_first_503_s: 0.5, level_before: 1000 },
      continuity: { ...phase(2, 20, 4, { statuses: { '200': 4, '503': 16 }, failures: { 'HTTP 503': { count: 16, first: 'enc_keys answered HTTP 503' } } }), started_s: 0.6, rate_per_s: 20, share_503: 0.8, served_keys_per_s: 4, error_share: 0, timeline: [], bucket_ms: 250 },
      recovery: { started_s: 1.6, recovered: true, recovery_s: 0.3, refill_keys_per_s: 3.9, observed_s: 2 },
      level: [],
    }),
    soak: m({ windows: [{ t: 0, ops: 10, ok: 10, p50: 4, p95: 8, p99: 9, rss_mb: 100 }, { t: 1, ops: 10, ok: 10, p50: 4, p95: 12, p99: 14, rss_mb: 104 }], drift: 1.5, rss_growth_mb: 4 }),
    harness: { rss_peak_mb: 120 },
  };
}
