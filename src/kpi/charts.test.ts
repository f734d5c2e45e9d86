// The KPI charts show what the figures say: the exhaustion chart plots the pool level on its own axis
// (keys, not a scaled stand-in) and the refill after consumption stops on its own scale, so recovery is
// visible beside a pool of 100,000 keys; the rate chart shades the warm-up left out of the figures; the
// latency chart has p50/p95/p99 bars for every scenario; long series are thinned, counts are not lost.
import { describe, expect, it } from 'vitest';
import { figures } from '../../suites/kpi/fixture.ts';
import { MAX_POINTS } from '../report/vega-svg.ts';
import { markItems, pathPoints, rect, textOf } from '../testing/svg-marks.ts';
import { exhaustionChart, kpiCharts, latencyChart, latencyHistogramChart, mergeBuckets, rateChart, soakChart } from './charts.ts';
import type { Bucket } from './load.ts';
import type { KpiFigures } from './scenarios.ts';

/** Vertical extent (px) of the one line path of the mark named `name`. */
function ySpan(svg: string, name: string): { first: number; last: number; n: number } {
  const paths = markItems(svg, name);
  expect(paths, `one line ${name}`).toHaveLength(1);
  const pts = pathPoints(paths[0]!);
  return { first: pts[0]![1], last: pts.at(-1)![1], n: pts.length };
}

const texts = (svg: string, name: string) => markItems(svg, name).map(textOf);

function exhausted(): KpiFigures {
  const f = figures();
  if (f.exhaustion?.state !== 'measured') throw new Error('fixture');
  // 100,000 keys drained in 2 s, the empty pool served until 5 s, then a refill of ~4 keys/s for 5 s.
  const level = [0, 0.5, 1, 1.5, 2].map((t) => ({ t, stored: Math.round(100_000 * (1 - t / 2)) }));
  for (let t = 2.25; t < 5; t += 0.25) level.push({ t, stored: 0 });
  for (let i = 0; i <= 20; i++) level.push({ t: 5 + i / 4, stored: Math.round(i) });
  Object.assign(f.exhaustion, { level, recovery: { started_s: 5, recovered: true, recovery_s: 0.3, refill_keys_per_s: 4, observed_s: 5 } });
  f.exhaustion.drain.time_to_first_503_s = 2;
  f.exhaustion.continuity.started_s = 2;
  f.exhaustion.continuity.timeline = [0, 0.25, 0.5].map((t) => ({ t, ops: 5, ok: 1, s503: 4, failed: 0, keys: 1 }));
  return f;
}

describe('KPI charts', () => {
  it('exhaustion: the pool level has its own axis in keys (drain visible) and the refill its own panel (recovery visible)', async () => {
    const svg = (await exhaustionChart(exhausted()))!;
    expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*<\/svg>$/);
    expect(svg).not.toMatch(/×|scaled/); // no cryptic "level × 0.00048" axis
    expect(svg).toContain('>keys in the pool (stored_key_count)</text>'); // the right axis' title
    expect(svg).toContain('>100,000</text>'); // a right-axis tick in keys
    // Drain: the pool line goes from the top of the plot to its bottom.
    const d = ySpan(svg, 'pool');
    expect(d.n).toBe(37); // every poll: 5 draining, 11 empty, 21 refilling
    expect(d.last - d.first).toBeGreaterThan(200);
    // 200/s and 503/s: one bar per continuity bucket each, 503 taller than 200 (4 of 5 answers).
    const ok = markItems(svg, 'answers_0');
    const s503 = markItems(svg, 'answers_1');
    expect([ok.length, s503.length]).toEqual([3, 3]);
    expect(rect(s503[0]!).height).toBeCloseTo(rect(ok[0]!).height * 4, 0);
    expect(texts(svg, 'events_label')).toEqual(['first 503', 'consumption stops']);
    // Refill: 0 → 20 keys spans most of its panel's height (on the drain's scale it would be < 1 px).
    const r = ySpan(svg, 'refill');
    expect(r.first - r.last).toBeGreaterThan(200);
    expect(svg).toContain('>s since consumption stopped</text>');
    expect(texts(svg, 'recovered_label')).toEqual(['a key is served again']);
  });

  it('exhaustion without polls after consumption stopped is the drain panel alone', async () => {
    const f = exhausted();
    if (f.exhaustion?.state === 'measured') f.exhaustion.level = f.exhaustion.level.filter((p) => p.t < 5);
    const svg = (await exhaustionChart(f))!;
    expect(markItems(svg, 'refill')).toEqual([]);
    expect(ySpan(svg, 'pool').n).toBe(f.exhaustion?.state === 'measured' ? f.exhaustion.level.length : 0);
    expect(svg).toContain('keys in the pool (right axis)'); // its legend entry
  });

  it('rate: the warm-up left out of the capacity and supply figures is shaded and labelled', async () => {
    const f = figures();
    const tl = [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75].map((t) => ({ t, ops: 100, ok: 100, s503: 0, failed: 0, keys: 100 }));
    if (f.capacity?.state === 'measured') Object.assign(f.capacity, { timeline: tl, warmup_s: 1 });
    if (f.supply?.state === 'measured') Object.assign(f.supply, { timeline: tl, warmup_s: 1 });
    const svg = (await rateChart(f))!;
    const shade = markItems(svg, 'warmup');
    expect(shade).toHaveLength(1);
    expect(rect(shade[0]!).width).toBeGreaterThan(400); // 1 s of the 1.75 s axis, 760 px wide
    expect(texts(svg, 'warmup_label')).toEqual(['warm-up, not counted (capacity, supply)']);
    // Three series, each a line through every bucket.
    for (const s of ['rate_0', 'rate_1', 'rate_2']) expect(ySpan(svg, s).n).toBe(8);
    for (const name of ['Status answers/s (HTTP capacity)', 'keys/s (key supply)', 'enc_keys 503/s']) expect(svg).toContain(`>${name}</text>`);
    if (f.capacity?.state === 'measured') f.capacity.warmup_s = 0;
    if (f.supply?.state === 'measured') f.supply.warmup_s = 0;
    const none = (await rateChart(f))!;
    expect(markItems(none, 'warmup')).toEqual([]);
    expect(none).not.toContain('warm-up');
  });

  it('latency: p50, p95 and p99 bars for every measured scenario, on a log axis', async () => {
    const f = figures();
    const svg = (await latencyChart(f))!;
    // 6 latency scenarios + capacity + supply + concurrency + 4 HOL series = 13 rows of 3 bars.
    expect(markItems(svg, 'latency')).toHaveLength(13 * 3);
    const labels = texts(svg, 'latency_label');
    expect(labels).toHaveLength(13);
    expect(labels[0]).toBe('1 / 2 / 3'); // Status warm: p50 / p95 / p99 of the fixture's phase(2)
    expect(svg).toContain('>flow, 10 clients</text>');
    // Log scale: the p99 bar (3 ms) of a row is not 6× its p50 bar (0.5 ms) as on a linear axis.
    const [p99, , p50] = markItems(svg, 'latency').slice(0, 3).map((b) => rect(b).width);
    expect(p99! / p50!).toBeLessThan(3);
    if (f.latency?.state === 'measured') f.latency = { state: 'error', reason: 'x' };
    expect(markItems((await latencyChart(f))!, 'latency')).toHaveLength(7 * 3);
  });

  it('latency histogram: one line per scenario with a histogram, a point per bucket; none without histograms', async () => {
    const f = figures();
    expect(await latencyHistogramChart(f)).toBeUndefined(); // the fixture's phases carry percentiles only
    const { status, flow } = f.latency?.state === 'measured' ? f.latency : ({} as never);
    if (status.warm.state !== 'measured' || flow.cold.state !== 'measured') throw new Error('the fixture measures every latency scenario');
    status.warm.latency!.histogram = [[1, 80], [1.189, 15], [9.514, 5]];
    flow.cold.latency!.histogram = [[16, 1], [19.027, 3]];
    const svg = (await latencyHistogramChart(f))!;
    expect(markItems(svg, 'histogram')).toHaveLength(2); // a line per scenario
    expect(markItems(svg, 'histogram_bucket')).toHaveLength(5); // a point per bucket
    for (const name of ['Status warm', 'master→slave cold TLS']) expect(svg).toContain(`>${name}</text>`);
    expect(svg).not.toContain('>enc_keys warm</text>');
    expect(Object.keys(await kpiCharts(f))).toContain('latency-histogram.svg');
  });

  it('soak: p95 and RSS per window', async () => {
    const svg = (await soakChart(figures()))!;
    expect(ySpan(svg, 'soak_0').n).toBe(2);
    expect(ySpan(svg, 'soak_1').n).toBe(2);
  });

  it('a phase without figures has no chart', async () => {
    const f: KpiFigures = { harness: { rss_peak_mb: 1 }, latency: { state: 'not-measured', reason: 'x' }, exhaustion: { state: 'error', reason: 'y' } };
    expect(await latencyChart(f)).toBeUndefined();
    expect(await rateChart(f)).toBeUndefined();
    expect(await exhaustionChart(f)).toBeUndefined();
    expect(await soakChart(f)).toBeUndefined();
    expect(await kpiCharts(f)).toEqual({});
    expect(Object.keys(await kpiCharts(figures())).sort()).toEqual(['exhaustion.svg', 'latency.svg', 'rate.svg', 'soak.svg']);
  });

  it('long series are bounded: the pool level is thinned to MAX_POINTS, count buckets merged without losing a count', async () => {
    const f = exhausted();
    if (f.exhaustion?.state !== 'measured') throw new Error('fixture');
    // 20,000 polls (the poller's cap) with one drop to 0 in the middle, which thinning must keep.
    f.exhaustion.level = Array.from({ length: 20_000 }, (_, i) => ({ t: i / 4, stored: i === 10_000 ? 0 : 50_000 + (i % 7) }));
    f.exhaustion.recovery.started_s = 10_000;
    const svg = (await exhaustionChart(f))!;
    const pool = markItems(svg, 'pool');
    const pts = pathPoints(pool[0]!);
    expect(pts.length).toBeLessThanOrEqual(MAX_POINTS);
    expect(pts.length).toBeGreaterThan(MAX_POINTS / 2);
    const ys = pts.map((p) => p[1]);
    expect(Math.max(...ys) - Math.min(...ys), 'the drop to 0 survived').toBeGreaterThan(200);

    const tl: Bucket[] = Array.from({ length: 5_001 }, (_, i) => ({ t: i, ops: 3, ok: 2, s503: 1, failed: 0, keys: 2 }));
    const m = mergeBuckets(tl, 1000);
    expect(m.timeline.length).toBeLessThanOrEqual(MAX_POINTS);
    expect(m.bucketMs).toBe(3000);
    expect(m.timeline.reduce((n, b) => n + b.ok, 0)).toBe(2 * 5_001);
    expect(m.timeline[1]).toEqual({ t: 3, ops: 9, ok: 6, s503: 3, failed: 0, keys: 6 });
    expect(mergeBuckets(tl.slice(0, 10), 250)).toEqual({ timeline: tl.slice(0, 10), bucketMs: 250 });
  });
});
