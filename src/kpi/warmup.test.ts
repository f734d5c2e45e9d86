// The warm-up excluded from the capacity and supply figures: a ramping start must not pull the rate down,
// and the excluded span is bounded (10 % of the phase, 1 – 5 s, at most half of what was seen).
import { describe, expect, it } from 'vitest';
import type { Bucket } from './load.ts';
import { steadyState } from './warmup.ts';

/** A timeline of 250 ms buckets with `ok` answers (and keys) per bucket. */
function load(perBucket: number[], bucketMs = 250) {
  const timeline: Bucket[] = perBucket.map((n, i) => ({ t: (i * bucketMs) / 1000, ops: n, ok: n, s503: 0, failed: 0, keys: n }));
  const total = perBucket.reduce((a, b) => a + b, 0);
  return { ok: total, ops: total, keys: total, bits: total * 256, elapsedMs: perBucket.length * bucketMs, timeline, bucketMs };
}

describe('KPI warm-up', () => {
  it('a 3 s phase ramping from ~1,700/s to ~9,900/s reports the steady rate after a 1 s warm-up, not the average', () => {
    // 1 s of ramp (425, 1000, 1800, 2300 per 250 ms bucket), then 2 s at 9,900/s.
    const r = load([425, 1000, 1800, 2300, ...Array<number>(8).fill(2475)]);
    const w = steadyState(r, 3000);
    expect(w.warmup_s).toBe(1);
    expect(w.elapsedMs).toBe(2000);
    expect(w.ok / (w.elapsedMs / 1000)).toBe(9900);
    expect(w.bits).toBe(w.keys * 256);
    expect(r.ok / (r.elapsedMs / 1000)).toBeLessThan(8500); // the whole-phase average the warm-up fixes
  });

  it('the warm-up is 10 % of the phase within 1 – 5 s, in whole buckets, and never more than half the buckets seen', () => {
    expect(steadyState(load(Array<number>(240).fill(1)), 60_000).warmup_s).toBe(5); // 10 % = 6 s, capped at 5 s
    expect(steadyState(load(Array<number>(80).fill(1)), 20_000).warmup_s).toBe(2);
    expect(steadyState(load(Array<number>(60).fill(1), 1000), 60_000).warmup_s).toBe(5); // 1 s buckets
    expect(steadyState(load(Array<number>(4).fill(1)), 1000).warmup_s).toBe(0.5); // a 1 s phase keeps half
    expect(steadyState(load([1, 1]), 10_000).warmup_s).toBe(0.25); // interrupted early
    expect(steadyState(load([]), 10_000)).toMatchObject({ warmup_s: 0, ok: 0 });
  });
});
