// Percentiles are exact nearest-rank values of the recorded samples.
import { describe, expect, it } from 'vitest';
import { LatencyRecorder, percentile } from './percentiles.ts';

describe('KPI percentiles', () => {
  it('nearest rank over known samples: 1..100 ms', () => {
    const r = new LatencyRecorder();
    for (const v of [...Array.from({ length: 100 }, (_, i) => 100 - i)]) r.record(v); // recorded out of order
    expect(r.stats()).toMatchObject({ count: 100, min: 1, mean: 50.5, p50: 50, p90: 90, p95: 95, p99: 99, max: 100 });
  });

  it('small sets: p99 of 10 samples is the largest; one sample is every percentile', () => {
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99)).toBe(10);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5);
    expect(percentile([7], 1)).toBe(7);
    expect(percentile([], 50)).toBeUndefined();
    expect(() => percentile([1], 0)).toThrow(RangeError);
  });

  it('nothing recorded is no figure (not zero); invalid samples are ignored', () => {
    const r = new LatencyRecorder();
    r.record(Number.NaN);
    r.record(-1);
    expect(r.stats()).toBeUndefined();
  });

  it('bounded: past its capacity the recorder keeps a sample of the values and counts them all', () => {
    const r = new LatencyRecorder(1000);
    for (let i = 0; i < 20_000; i++) r.record(i % 2 === 0 ? 1 : 3);
    const s = r.stats()!;
    expect(s.count).toBe(20_000);
    expect([s.min, s.max, s.mean]).toEqual([1, 3, 2]);
    expect(s.p99).toBe(3);
    expect(s.p50 === 1 || s.p50 === 3).toBe(true);
  });

  it('histogram: quarter-octave buckets, every kept sample counted once, in the bucket whose bound is at or above it', () => {
    const r = new LatencyRecorder();
    for (const ms of [1, 1, 1.1, 2, 3, 100, 100]) r.record(ms);
    const h = r.stats()!.histogram!;
    expect(h.reduce((n, [, c]) => n + c, 0)).toBe(7);
    expect(h).toEqual([[1, 2], [1.189, 1], [2, 1], [3.364, 1], [107.635, 2]]);
    for (let i = 1; i < h.length; i++) expect(h[i]![0]).toBeGreaterThan(h[i - 1]![0]);
  });
});
