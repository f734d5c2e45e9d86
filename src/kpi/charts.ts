// The KPI charts for the report, as Vega-Lite specs rendered to SVG (src/report/vega-svg.ts): latency
// percentiles per scenario (log scale), request and key rates over time, the pool (stored_key_count)
// draining with 200/503 answers over time during exhaustion and refilling after it, the latency
// histograms of the latency phase, and the soak. Each function resolves to undefined when its phase has
// no figures.
import type { Bucket } from './load.ts';
import type { KpiFigures, PhaseFigures } from './scenarios.ts';
import { CHART_CONFIG, MAX_POINTS, renderVegaLite, thin, type TopLevelSpec } from '../report/vega-svg.ts';

const WIDTH = 760;
const HEIGHT = 240;
const CONFIG = { ...CHART_CONFIG, legend: { orient: 'bottom', title: null, labelLimit: 0 } } as const;

const perS = (n: number, bucketMs: number) => Math.round((n * 1000) / bucketMs);

/**
 * `timeline` in at most `max` buckets: neighbours are merged (counts summed, so rates stay exact
 * averages over the wider bucket) — a thinned count series would drop requests, not just points.
 */
export function mergeBuckets(timeline: Bucket[], bucketMs: number, max = MAX_POINTS): { timeline: Bucket[]; bucketMs: number } {
  const k = Math.ceil(timeline.length / max);
  if (k <= 1) return { timeline, bucketMs };
  const out: Bucket[] = [];
  for (let i = 0; i < timeline.length; i += k) {
    const group = timeline.slice(i, i + k);
    const sum = (f: keyof Omit<Bucket, 't'>) => group.reduce((n, b) => n + b[f], 0);
    out.push({ t: group[0]!.t, ops: sum('ops'), ok: sum('ok'), s503: sum('s503'), failed: sum('failed'), keys: sum('keys') });
  }
  return { timeline: out, bucketMs: bucketMs * k };
}

/** A constant colour per series (`datum`), so every layer adds its entry to one shared legend. */
const legendColour = (name: string, names: string[], colours: string[]) => ({ datum: name, type: 'nominal' as const, scale: { domain: names, range: colours } });

/** The latency phase's scenarios with their chart labels: Status, enc_keys and master→slave, warm and cold TLS. */
function latencyScenarios(l: Extract<KpiFigures['latency'], { state: 'measured' }>): Array<[string, (typeof l)['status']['warm']]> {
  return (['status', 'enc_keys', 'flow'] as const).flatMap((k) => {
    const name = { status: 'Status', enc_keys: 'enc_keys', flow: 'master→slave' }[k];
    return [[`${name} warm`, l[k].warm], [`${name} cold TLS`, l[k].cold]] as Array<[string, (typeof l)['status']['warm']]>;
  });
}

/** Latency p50/p95/p99 per scenario, horizontal bars on a log scale (cold and warm differ by orders). */
export async function latencyChart(f: KpiFigures): Promise<string | undefined> {
  const rows: Array<{ label: string; p: PhaseFigures }> = [];
  const add = (label: string, p: unknown) => {
    const s = p as { state?: string } & PhaseFigures;
    if (s && (s.state === undefined || s.state === 'measured') && s.latency) rows.push({ label, p: s });
  };
  if (f.latency?.state === 'measured') for (const [label, phase] of latencyScenarios(f.latency)) add(label, phase);
  if (f.capacity?.state === 'measured') add('Status at capacity', f.capacity);
  if (f.supply?.state === 'measured') add('enc_keys at full supply', f.supply);
  if (f.concurrency?.state === 'measured') add(`flow, ${f.concurrency.clients} clients`, f.concurrency);
  if (f.hol?.state === 'measured') {
    add('Status unloaded (HOL)', f.hol.unloaded.status);
    add('Status beside large (HOL)', f.hol.loaded.status);
    add('enc_keys unloaded (HOL)', f.hol.unloaded.enc_keys);
    add('enc_keys beside large (HOL)', f.hol.loaded.enc_keys);
  }
  if (!rows.length) return undefined;
  // Whole decades around the figures: bars start at the axis' left end, which a log scale cannot put at 0.
  const lo = 10 ** Math.floor(Math.log10(Math.max(0.01, Math.min(...rows.map((r) => r.p.latency!.p50)) / 2)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...rows.map((r) => r.p.latency!.p99)) * 1.5));
  const pct = ['p50', 'p95', 'p99'] as const;
  const bars = rows.flatMap((r) => [...pct].reverse().map((p, z) => ({ scenario: r.label, percentile: p, ms: r.p.latency![p], z })));
  const y = { field: 'scenario', type: 'nominal' as const, scale: { domain: rows.map((r) => r.label) }, title: null, axis: { labelLimit: 240 } };
  const x = { field: 'ms', type: 'quantitative' as const, scale: { type: 'log' as const, domain: [lo, hi], nice: false }, title: 'ms (log scale)' };
  return renderVegaLite({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: CONFIG,
    title: { text: 'Key-delivery latency per scenario (ms, log scale)', subtitle: 'bars: p50 (dark) · p95 · p99 (light); labels p50 / p95 / p99 ms; samples: successful requests only' },
    width: WIDTH - 180,
    height: { step: 22 },
    layer: [
      {
        name: 'latency',
        data: { values: bars },
        mark: { type: 'bar', height: 14 },
        encoding: {
          y,
          x: { ...x, stack: null },
          color: { field: 'percentile', type: 'nominal', scale: { domain: [...pct], range: ['#1565c0', '#42a5f5', '#90caf9'] } },
          // p99 first, p50 last: the shorter bars are drawn over the longer ones.
          order: { field: 'z', type: 'quantitative' },
          tooltip: [{ field: 'scenario' }, { field: 'percentile' }, { field: 'ms', title: 'ms' }],
        },
      },
      {
        name: 'latency_label',
        data: { values: rows.map((r) => ({ scenario: r.label, ms: r.p.latency!.p99, text: `${r.p.latency!.p50} / ${r.p.latency!.p95} / ${r.p.latency!.p99}` })) },
        mark: { type: 'text', align: 'left', dx: 4, fontSize: 10, color: '#333' },
        encoding: { y, x, text: { field: 'text' } },
      },
    ],
  });
}

/**
 * The latency phase's histograms (src/kpi/percentiles.ts, quarter-octave buckets): share of the
 * successful requests per bucket, one line per scenario (Status, enc_keys, master→slave; warm and cold
 * TLS) on a log axis — where a p99 alone hides two modes (e.g. a lock or a slow path), the shape shows it.
 */
export async function latencyHistogramChart(f: KpiFigures): Promise<string | undefined> {
  if (f.latency?.state !== 'measured') return undefined;
  const points: Array<{ scenario: string; ms: number; share: number; count: number }> = [];
  const names: string[] = [];
  for (const [scenario, phase] of latencyScenarios(f.latency)) {
    const h = phase.state === 'measured' ? phase.latency?.histogram : undefined;
    if (!h?.length) continue;
    const total = h.reduce((n, [, c]) => n + c, 0);
    names.push(scenario);
    for (const [ms, count] of h) points.push({ scenario, ms, share: Math.round((count / total) * 10_000) / 100, count });
  }
  if (!points.length) return undefined;
  const encoding = {
    x: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'latency (ms, log scale)' },
    y: { field: 'share', type: 'quantitative', title: '% of requests' },
    color: { field: 'scenario', type: 'nominal', scale: { domain: names } },
  };
  return renderVegaLite({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: CONFIG,
    title: { text: 'Key-delivery latency histogram (share of successful requests per bucket)', subtitle: 'buckets a quarter-octave wide (about 19 %), each point at its upper bound; log scale' },
    width: WIDTH,
    height: HEIGHT,
    data: { values: points },
    layer: [
      { name: 'histogram', mark: { type: 'line', interpolate: 'step-before' }, encoding },
      { name: 'histogram_bucket', mark: { type: 'point', filled: true }, encoding: { ...encoding, tooltip: [{ field: 'scenario' }, { field: 'ms', title: 'up to ms' }, { field: 'count' }, { field: 'share', title: '%' }] } },
    ],
  } as TopLevelSpec);
}

/** Status answers/s (HTTP capacity) and keys/s (key supply) over each phase's time; the warm-up shaded. */
export async function rateChart(f: KpiFigures): Promise<string | undefined> {
  const series: Array<{ name: string; colour: string; points: Array<{ t: number; v: number }> }> = [];
  const shades = new Map<number, string[]>();
  const warm = (w: number | undefined, what: string) => {
    if (w && w > 0) shades.set(w, [...(shades.get(w) ?? []), what]);
  };
  const rate = (timeline: Bucket[], bucketMs: number, count: (b: Bucket) => number) => {
    const m = mergeBuckets(timeline, bucketMs);
    return m.timeline.map((b) => ({ t: b.t, v: perS(count(b), m.bucketMs) }));
  };
  if (f.capacity?.state === 'measured') {
    const c = f.capacity;
    series.push({ name: 'Status answers/s (HTTP capacity)', colour: '#1565c0', points: rate(c.timeline, c.bucket_ms, (b) => b.ok) });
    warm(c.warmup_s, 'capacity');
  }
  if (f.supply?.state === 'measured') {
    const s = f.supply;
    series.push({ name: 'keys/s (key supply)', colour: '#2e7d32', points: rate(s.timeline, s.bucket_ms, (b) => b.keys) });
    series.push({ name: 'enc_keys 503/s', colour: '#d32f2f', points: rate(s.timeline, s.bucket_ms, (b) => b.s503) });
    warm(s.warmup_s, 'supply');
  }
  if (!series.length) return undefined;
  const xTitle = 's since the phase started';
  const names = series.map((s) => s.name);
  const colours = series.map((s) => s.colour);
  const warmups = [...shades].map(([to, what]) => ({ t: 0, t2: to, label: `warm-up, not counted (${what.join(', ')})` }));
  return renderVegaLite({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: CONFIG,
    title: 'Rate over time: HTTP capacity (Status) and key supply (enc_keys, 1 key each)',
    width: WIDTH,
    height: HEIGHT,
    layer: [
      ...(warmups.length
        ? [
            {
              name: 'warmup',
              data: { values: warmups },
              mark: { type: 'rect' as const, color: '#9e9e9e', opacity: 0.18 },
              encoding: { x: { field: 't', type: 'quantitative' as const, title: xTitle }, x2: { field: 't2' }, tooltip: { field: 'label' } },
            },
            {
              name: 'warmup_label',
              data: { values: warmups },
              mark: { type: 'text' as const, align: 'left' as const, baseline: 'bottom' as const, dx: 3, y: HEIGHT - 6, fontSize: 10, color: '#555' },
              encoding: { x: { field: 't', type: 'quantitative' as const, title: xTitle }, text: { field: 'label' } },
            },
          ]
        : []),
      ...series.map((s, i) => ({
        name: `rate_${i}`,
        data: { values: s.points },
        mark: { type: 'line' as const, strokeWidth: 2 },
        encoding: {
          x: { field: 't', type: 'quantitative' as const, title: xTitle },
          y: { field: 'v', type: 'quantitative' as const, title: 'per second' },
          color: legendColour(s.name, names, colours),
        },
      })),
    ],
  } as TopLevelSpec);
}

/** Dashed vertical marks with a label at the top of the plot. */
function markers(name: string, marks: Array<{ t: number; label: string }>, xTitle: string) {
  const x = { field: 't', type: 'quantitative' as const, title: xTitle };
  return [
    { name, data: { values: marks }, mark: { type: 'rule' as const, strokeDash: [3, 3], color: '#000', opacity: 0.5 }, encoding: { x, tooltip: { field: 'label' } } },
    { name: `${name}_label`, data: { values: marks }, mark: { type: 'text' as const, align: 'left' as const, baseline: 'top' as const, dx: 3, y: 2, fontSize: 10 }, encoding: { x, text: { field: 'label' } } },
  ];
}

/**
 * The pool draining and the answers on the emptied pool (answers/s on the left axis, keys in the pool
 * on the right), then the refill after consumption stops on its own scale: a pool refilled by a few
 * keys/s is flat beside the full pool it was drained from.
 */
export async function exhaustionChart(f: KpiFigures): Promise<string | undefined> {
  const e = f.exhaustion;
  if (e?.state !== 'measured') return undefined;
  const c = e.continuity;
  const m = mergeBuckets(c.timeline, c.bucket_ms);
  const b = m.bucketMs / 1000;
  const pool = 'keys in the pool (stored_key_count)';
  const xDrain = 's since the drain started';
  const names = ['200/s (key served)', '503/s (pool empty)', 'keys in the pool (right axis)'];
  const colours = ['#2e7d32', '#d32f2f', '#6a1b9a'];
  const bars = (name: string, i: number, count: (x: Bucket) => number) => ({
    name: `answers_${i}`,
    data: { values: m.timeline.map((x) => ({ t: c.started_s + x.t + (i * b) / 2, t2: c.started_s + x.t + ((i + 1) * b) / 2, v: perS(count(x), m.bucketMs) })) },
    mark: { type: 'rect' as const, opacity: 0.7 },
    encoding: {
      x: { field: 't', type: 'quantitative' as const, title: xDrain },
      x2: { field: 't2' },
      y: { field: 'v', type: 'quantitative' as const, title: 'answers per second' },
      y2: { datum: 0 },
      color: legendColour(name, names, colours),
      tooltip: [{ field: 't', title: 's' }, { field: 'v', title: name }],
    },
  });
  const drain = {
    title: 'Exhaustion: the pool drains, then answers on the emptied pool',
    width: WIDTH,
    height: HEIGHT,
    layer: [
      { layer: [bars(names[0]!, 0, (x) => x.ok), bars(names[1]!, 1, (x) => x.s503), ...markers('events', [{ t: e.drain.time_to_first_503_s, label: 'first 503' }, { t: e.recovery.started_s, label: 'consumption stops' }], xDrain)] },
      {
        name: 'pool',
        data: { values: thin(e.level, (p) => p.t, (p) => p.stored) },
        mark: { type: 'line' as const, strokeWidth: 2 },
        encoding: {
          x: { field: 't', type: 'quantitative' as const, title: xDrain },
          y: { field: 'stored', type: 'quantitative' as const, title: pool, axis: { orient: 'right' as const } },
          color: legendColour(names[2]!, names, colours),
        },
      },
    ],
    resolve: { scale: { y: 'independent' as const } },
  };
  const after = e.level.filter((p) => p.t >= e.recovery.started_s).map((p) => ({ t: Math.round((p.t - e.recovery.started_s) * 1000) / 1000, stored: p.stored }));
  const xRefill = 's since consumption stopped';
  const refill = after.length < 2 ? undefined : {
    title: `Recovery: the pool refilling after consumption stops${e.recovery.refill_keys_per_s !== undefined ? ` (${e.recovery.refill_keys_per_s} keys/s)` : ''}`,
    width: WIDTH,
    height: HEIGHT,
    layer: [
      {
        name: 'refill',
        data: { values: thin(after, (p) => p.t, (p) => p.stored) },
        mark: { type: 'line' as const, strokeWidth: 2, color: '#6a1b9a' },
        encoding: { x: { field: 't', type: 'quantitative' as const, title: xRefill }, y: { field: 'stored', type: 'quantitative' as const, title: pool } },
      },
      ...(e.recovery.recovered && e.recovery.recovery_s !== undefined ? markers('recovered', [{ t: e.recovery.recovery_s, label: 'a key is served again' }], xRefill) : []),
    ],
  };
  return renderVegaLite({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: CONFIG,
    ...(refill ? { vconcat: [drain, refill] } : drain),
  } as TopLevelSpec);
}

/** Soak: p95 per window and harness RSS. */
export async function soakChart(f: KpiFigures): Promise<string | undefined> {
  const s = f.soak;
  if (s?.state !== 'measured') return undefined;
  const names = ['flow p95 (ms)', 'harness RSS (MiB)'];
  const colours = ['#1565c0', '#ef6c00'];
  const line = (i: number, points: Array<{ t: number; v: number }>) => ({
    name: `soak_${i}`,
    data: { values: points },
    mark: { type: 'line' as const, strokeWidth: 2, point: true },
    encoding: {
      x: { field: 't', type: 'quantitative' as const, title: 's since the soak started' },
      y: { field: 'v', type: 'quantitative' as const, title: 'ms · MiB' },
      color: legendColour(names[i]!, names, colours),
    },
  });
  return renderVegaLite({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: CONFIG,
    title: 'Soak: master→slave p95 (ms) and harness RSS (MiB) per window',
    width: WIDTH,
    height: HEIGHT,
    layer: [line(0, s.windows.filter((w) => w.p95 !== undefined).map((w) => ({ t: w.t, v: w.p95! }))), line(1, s.windows.map((w) => ({ t: w.t, v: w.rss_mb })))],
  } as TopLevelSpec);
}

/** Every chart the figures allow, by file name (rendered one after another: each is pure CPU). */
export async function kpiCharts(f: KpiFigures): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const charts: Array<[string, (f: KpiFigures) => Promise<string | undefined>]> = [
    ['latency.svg', latencyChart],
    ['latency-histogram.svg', latencyHistogramChart],
    ['rate.svg', rateChart],
    ['exhaustion.svg', exhaustionChart],
    ['soak.svg', soakChart],
  ];
  for (const [name, chart] of charts) {
    const svg = await chart(f);
    if (svg) out[name] = svg;
  }
  return out;
}
