// KPI figures → outcomes of the kpi/<n> requirements (specs/requirements/kpi.yaml). A threshold in the
// profile's `kpi:` section makes a figure pass or fail; without one the figure is `info` ("measured, no
// threshold") — never a pass. A phase that could not measure is `error` with its reason; one that was not
// run (not allowed, not selected) is `skip` with the reason.
import { requirement, type Level } from '../conformance/catalogue.ts';
import type { Outcome } from '../conformance/verdict.ts';
import type { KpiThresholds } from '../target/schema.ts';
import { describeFailures } from './load.ts';
import type { KpiFigures, Phase, PhaseFigures, Section } from './scenarios.ts';

export interface KpiResult {
  id: string;
  level: Level;
  summary: string;
  outcome: Outcome;
  message: string;
  /** The phase whose figures back this result (its section of summary.json). */
  phase: Phase;
  /** The figures judged or reported (ms, per second, shares 0–1). */
  figures: Record<string, number | boolean | string>;
  /** The thresholds that applied (from the profile). */
  thresholds: Partial<KpiThresholds>;
}

interface Check {
  name: keyof KpiThresholds;
  figure: number | undefined;
  /** 'max': the figure must not exceed the threshold; 'min': it must reach it. */
  bound: 'max' | 'min';
  what: string;
  unit: string;
}

type AnySection = Section<object> | undefined;

const fmt = (x: number, unit: string): string => (!Number.isFinite(x) ? 'not within the wait' : `${Number.isInteger(x) ? x : x.toFixed(x < 10 ? 3 : 1)}${unit ? ` ${unit}` : ''}`);

function result(id: string, phase: Phase, outcome: Outcome, message: string, figures: KpiResult['figures'] = {}, thresholds: Partial<KpiThresholds> = {}): KpiResult {
  const r = requirement(id);
  return { id, level: r.level, summary: r.summary, outcome, message, phase, figures, thresholds };
}

/** The common rule: state → skip/error; thresholds → pass/fail; none → info. `issues` are deviations seen besides the figures. */
function judge(id: string, phase: Phase, section: AnySection, t: KpiThresholds, checks: (s: object) => Check[], figures: (s: object) => KpiResult['figures'], issues: (s: object) => string[] = () => []): KpiResult {
  if (!section) return result(id, phase, 'skip', `not measured: the ${phase} phase was not run (--only)`);
  if (section.state === 'not-measured') return result(id, phase, 'skip', `not measured: ${section.reason}`);
  if (section.state === 'error') return result(id, phase, 'error', section.reason);
  const cs = checks(section);
  const figs = figures(section);
  const applied: Partial<KpiThresholds> = {};
  const failures: string[] = [];
  const met: string[] = [];
  for (const c of cs) {
    const limit = t[c.name];
    if (limit === undefined) continue;
    applied[c.name] = limit;
    if (c.figure === undefined || Number.isNaN(c.figure)) return result(id, phase, 'error', `${c.what} could not be measured, so kpi.${c.name} cannot be judged`, figs, applied);
    const ok = c.bound === 'max' ? c.figure <= limit : c.figure >= limit;
    (ok ? met : failures).push(`${c.what} ${fmt(c.figure, c.unit)} ${c.bound === 'max' ? (ok ? '≤' : '>') : ok ? '≥' : '<'} kpi.${c.name} ${fmt(limit, c.unit)}`);
  }
  const seen = cs.filter((c) => c.figure !== undefined).map((c) => `${c.what} ${fmt(c.figure!, c.unit)}`);
  const extra = issues(section);
  if (Object.keys(applied).length === 0) {
    const names = [...new Set(cs.map((c) => `kpi.${c.name}`))].join(', ');
    return result(id, phase, 'info', `measured, no threshold (${names}): ${seen.join('; ')}${extra.length ? `; ${extra.join('; ')}` : ''}`, figs);
  }
  if (failures.length || extra.length) return result(id, phase, 'fail', [...failures, ...extra].join('; '), figs, applied);
  return result(id, phase, 'pass', met.join('; '), figs, applied);
}

const lat = (p?: PhaseFigures) => ({ ...(p?.latency ? { p50_ms: p.latency.p50, p95_ms: p.latency.p95, p99_ms: p.latency.p99, samples: p.latency.count } : {}) });
const failedShare = (p: PhaseFigures, what: string): string[] => (p.ok < p.ops ? [`${p.ops - p.ok} of ${p.ops} ${what} requests failed: ${describeFailures(p)}`] : []);

type LatencyKey = 'status' | 'enc_keys' | 'flow';

function latencyResult(id: string, f: KpiFigures, t: KpiThresholds, key: LatencyKey, temp: 'warm' | 'cold', name: keyof KpiThresholds, what: string): KpiResult {
  const outer = f.latency;
  const section: AnySection = !outer ? undefined : outer.state !== 'measured' ? outer : outer[key][temp];
  const other = outer?.state === 'measured' ? outer[key][temp === 'warm' ? 'cold' : 'warm'] : undefined;
  return judge(
    id,
    'latency',
    section,
    t,
    (s) => [{ name, figure: (s as PhaseFigures).latency?.p95, bound: 'max', what: `${what} p95`, unit: 'ms' }],
    (s) => {
      const figs: KpiResult['figures'] = {};
      for (const [k, v] of Object.entries(lat(s as PhaseFigures))) figs[`${temp}_${k}`] = v;
      if (other?.state === 'measured') for (const [k, v] of Object.entries(lat(other))) figs[`${temp === 'warm' ? 'cold' : 'warm'}_${k}`] = v;
      return figs;
    },
    (s) => failedShare(s as PhaseFigures, what),
  );
}

/** Every kpi/<n> result for one run's figures under the profile's thresholds. */
export function kpiResults(f: KpiFigures, t: KpiThresholds = {}): KpiResult[] {
  type M<K extends keyof KpiFigures> = Extract<NonNullable<KpiFigures[K]>, { state: 'measured' }>;
  return [
    latencyResult('kpi/1', f, t, 'status', 'warm', 'status_p95_ms', 'Status (warm)'),
    latencyResult('kpi/2', f, t, 'enc_keys', 'warm', 'latency_p95_ms', 'enc_keys (warm)'),
    latencyResult('kpi/3', f, t, 'flow', 'warm', 'flow_p95_ms', 'master→slave flow (warm)'),
    latencyResult('kpi/4', f, t, 'enc_keys', 'cold', 'cold_p95_ms', 'enc_keys (cold TLS)'),
    judge('kpi/5', 'capacity', f.capacity, t, (s) => [{ name: 'min_requests_per_s', figure: (s as M<'capacity'>).requests_per_s, bound: 'min', what: 'Status answers', unit: '/s' }], (s) => ({ requests_per_s: (s as M<'capacity'>).requests_per_s, warmup_s: (s as M<'capacity'>).warmup_s, ...lat(s as PhaseFigures) }), (s) => failedShare(s as PhaseFigures, 'Status')),
    judge(
      'kpi/6',
      'supply',
      f.supply,
      t,
      (s) => [{ name: 'min_keys_per_s', figure: (s as M<'supply'>).keys_per_s, bound: 'min', what: 'keys delivered', unit: '/s' }],
      (s) => {
        const x = s as M<'supply'>;
        return { keys_per_s: x.keys_per_s, key_bits_per_s: x.key_bits_per_s, requests_per_s: x.requests_per_s, warmup_s: x.warmup_s, key_size: x.key_size, ...(x.pool_ran_dry_after_s !== undefined ? { pool_ran_dry_after_s: x.pool_ran_dry_after_s } : {}) };
      },
    ),
    judge(
      'kpi/7',
      'concurrency',
      f.concurrency,
      t,
      (s) => {
        const x = s as M<'concurrency'>;
        return [
          { name: 'max_error_share', figure: x.error_share, bound: 'max', what: `failed share at ${x.clients} clients`, unit: '' },
          { name: 'concurrent_p95_ms', figure: x.latency?.p95, bound: 'max', what: `flow p95 at ${x.clients} clients`, unit: 'ms' },
        ];
      },
      (s) => {
        const x = s as M<'concurrency'>;
        return { clients: x.clients, ok_share: x.ok_share, error_share: x.error_share, ...lat(x) };
      },
    ),
    judge(
      'kpi/8',
      'exhaustion',
      f.exhaustion,
      t,
      (s) => [{ name: 'max_503_share', figure: (s as M<'exhaustion'>).continuity.share_503, bound: 'max', what: `503 share at ${(s as M<'exhaustion'>).continuity.rate_per_s} requests/s on the emptied pool`, unit: '' }],
      (s) => {
        const x = s as M<'exhaustion'>;
        return { share_503: x.continuity.share_503, time_to_first_503_s: x.drain.time_to_first_503_s, served_keys_per_s: x.continuity.served_keys_per_s, error_share: x.continuity.error_share, rate_per_s: x.continuity.rate_per_s, drained_keys: x.drain.keys, level_before: x.drain.level_before };
      },
      (s) => {
        const c = (s as M<'exhaustion'>).continuity;
        const other = Object.entries(c.failures).filter(([k]) => k !== 'HTTP 503');
        return other.length ? [`on the emptied pool the KME answered otherwise than 200 or 503: ${other.map(([k, v]) => `${v.count} × ${k} (first: ${v.first})`).join('; ')}`] : [];
      },
    ),
    judge(
      'kpi/9',
      'exhaustion',
      f.exhaustion,
      t,
      (s) => {
        const r = (s as M<'exhaustion'>).recovery;
        // Not recovered within the wait: the recovery time is longer than the whole wait (a fail when the wait covered the threshold).
        return [
          { name: 'max_recovery_s', figure: r.recovered ? r.recovery_s : Number.POSITIVE_INFINITY, bound: 'max', what: 'recovery time', unit: 's' },
          { name: 'min_refill_keys_per_s', figure: r.refill_keys_per_s, bound: 'min', what: 'refill rate (Status stored_key_count)', unit: 'keys/s' },
        ];
      },
      (s) => {
        const r = (s as M<'exhaustion'>).recovery;
        return { recovered: r.recovered, ...(r.recovery_s !== undefined ? { recovery_s: r.recovery_s } : {}), ...(r.refill_keys_per_s !== undefined ? { refill_keys_per_s: r.refill_keys_per_s } : {}), observed_s: r.observed_s };
      },
      (s) => {
        const r = (s as M<'exhaustion'>).recovery;
        return r.recovered ? [] : [r.reason ?? 'service did not return'];
      },
    ),
    judge(
      'kpi/10',
      'hol',
      f.hol,
      t,
      (s) => {
        // Both factors with the p95s behind them: the judged one is the larger, and the reader must see which.
        const x = s as M<'hol'>;
        const p95 = (p: PhaseFigures) => fmt(p.latency!.p95, 'ms');
        const both = `Status ${fmt(x.factor_status, '×')} (p95 ${p95(x.unloaded.status)} unloaded → ${p95(x.loaded.status)} beside large requests), enc_keys ${fmt(x.factor_enc_keys, '×')} (p95 ${p95(x.unloaded.enc_keys)} → ${p95(x.loaded.enc_keys)})`;
        return [{ name: 'hol_factor_max', figure: x.factor, bound: 'max', what: `head-of-line factor: ${both}; the larger`, unit: '×' }];
      },
      (s) => {
        const x = s as M<'hol'>;
        return { factor: x.factor, factor_status: x.factor_status, factor_enc_keys: x.factor_enc_keys, unloaded_status_p95_ms: x.unloaded.status.latency!.p95, loaded_status_p95_ms: x.loaded.status.latency!.p95, unloaded_enc_keys_p95_ms: x.unloaded.enc_keys.latency!.p95, loaded_enc_keys_p95_ms: x.loaded.enc_keys.latency!.p95, large_number: x.large.number, large_size: x.large.size, large_served: x.large.ok };
      },
    ),
    judge(
      'kpi/11',
      'soak',
      f.soak,
      t,
      (s) => [
        { name: 'max_latency_drift', figure: (s as M<'soak'>).drift, bound: 'max', what: 'p95 last window over first', unit: '×' },
        { name: 'max_rss_growth_mb', figure: (s as M<'soak'>).rss_growth_mb, bound: 'max', what: 'harness RSS growth (the KMS side is not observable)', unit: 'MiB' },
      ],
      (s) => ({ ...((s as M<'soak'>).drift !== undefined ? { drift: (s as M<'soak'>).drift! } : {}), rss_growth_mb: (s as M<'soak'>).rss_growth_mb, windows: (s as M<'soak'>).windows.length }),
    ),
  ];
}
