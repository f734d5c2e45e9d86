// Latency samples and their percentiles, computed exactly from the recorded values (nearest rank), so a
// p99 is a latency some request really had. Bounded: past `capacity` samples a uniform reservoir is kept.

/** Percentile summary of one scenario, in milliseconds. `count` is every sample seen, `kept` those stored. */
export interface LatencyStats {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
  /**
   * Latency histogram of the kept samples: [upper bound ms, count] of each non-empty bucket, ascending.
   * Buckets are quarter-octaves (upper bounds 2^(k/4) ms), so every bucket is about 19 % wide at any scale.
   */
  histogram?: Array<[number, number]>;
}

/** Buckets per doubling of the latency in `histogram`. */
export const HISTOGRAM_STEPS_PER_OCTAVE = 4;

/** [upper bound ms, count] of the non-empty quarter-octave buckets of ascending `sorted` (ms). */
export function histogram(sorted: ArrayLike<number>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < sorted.length; i++) {
    // The smallest bound 2^(k/4) at or above the value; 0 ms goes into the lowest bucket shown.
    const k = Math.ceil(Math.log2(Math.max(sorted[i]!, 1e-3)) * HISTOGRAM_STEPS_PER_OCTAVE);
    const upper = round3(2 ** (k / HISTOGRAM_STEPS_PER_OCTAVE));
    const last = out[out.length - 1];
    if (last && last[0] === upper) last[1]++;
    else out.push([upper, 1]);
  }
  return out;
}

/**
 * The nearest-rank percentile `p` (0 < p ≤ 100) of ascending `sorted` values: the smallest value with at
 * least p % of the samples at or below it. Undefined for an empty list.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.max(0, rank - 1)];
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** A bounded store of latency samples (ms). */
export class LatencyRecorder {
  private values: Float64Array;
  private n = 0;
  private seen = 0;
  private sum = 0;
  private lo = Infinity;
  private hi = -Infinity;

  /** `capacity`: samples kept exactly (8 bytes each); beyond it each new one replaces a random kept one. */
  constructor(private readonly capacity = 1_000_000) {
    this.values = new Float64Array(Math.min(capacity, 4096));
  }

  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.seen++;
    this.sum += ms;
    if (ms < this.lo) this.lo = ms;
    if (ms > this.hi) this.hi = ms;
    if (this.n < this.capacity) {
      if (this.n === this.values.length) {
        const grown = new Float64Array(Math.min(this.capacity, this.values.length * 2));
        grown.set(this.values);
        this.values = grown;
      }
      this.values[this.n++] = ms;
      return;
    }
    const slot = Math.floor(Math.random() * this.seen);
    if (slot < this.capacity) this.values[slot] = ms;
  }

  get count(): number {
    return this.seen;
  }

  /** Percentiles of what was recorded; undefined when nothing was. */
  stats(): LatencyStats | undefined {
    if (this.n === 0) return undefined;
    const sorted = this.values.slice(0, this.n).sort();
    const at = (p: number) => round3(percentile(sorted, p)!);
    return { count: this.seen, min: round3(this.lo), mean: round3(this.sum / this.seen), p50: at(50), p90: at(90), p95: at(95), p99: at(99), max: round3(this.hi), histogram: histogram(sorted) };
  }
}
