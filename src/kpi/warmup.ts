// The warm-up of a throughput phase: connections open, TLS sessions settle and the JIT compiles both
// sides' hot paths, so the first second runs well below the steady rate (Status on the mock climbs from
// ~1,700/s to ~9,900/s within 3 s). Capacity and supply report the rate after it, so a short run does
// not understate them; the whole-phase counts stay in the section and the chart shades the warm-up.
import type { LoadResult } from './load.ts';

/** 10 % of the phase, at least 1 s and at most 5 s. */
export const WARMUP_SHARE = 0.1;
export const WARMUP_MIN_MS = 1_000;
export const WARMUP_MAX_MS = 5_000;

export interface SteadyState {
  /** Excluded from the figures, seconds from the phase start (whole timeline buckets). */
  warmup_s: number;
  ok: number;
  ops: number;
  keys: number;
  bits: number;
  /** The time the figures are over, ms. */
  elapsedMs: number;
}

/**
 * The counts after the warm-up: clamp(10 % of `durationMs`, 1 s, 5 s), rounded down to whole buckets
 * of the timeline and never more than half the buckets seen (a short or interrupted phase keeps at
 * least half its figures). Bits are the phase's bits per key times the keys after the warm-up.
 */
export function steadyState(r: Pick<LoadResult, 'ok' | 'ops' | 'keys' | 'bits' | 'elapsedMs' | 'timeline' | 'bucketMs'>, durationMs: number): SteadyState {
  const wanted = Math.min(WARMUP_MAX_MS, Math.max(WARMUP_MIN_MS, durationMs * WARMUP_SHARE));
  const n = Math.min(Math.floor(wanted / r.bucketMs), Math.floor(r.timeline.length / 2));
  const warm = r.timeline.slice(0, n);
  const sum = (k: 'ok' | 'ops' | 'keys') => warm.reduce((s, b) => s + b[k], 0);
  const keys = r.keys - sum('keys');
  const warmupMs = n * r.bucketMs;
  return { warmup_s: warmupMs / 1000, ok: r.ok - sum('ok'), ops: r.ops - sum('ops'), keys, bits: r.keys > 0 ? Math.round((r.bits / r.keys) * keys) : 0, elapsedMs: Math.max(1, r.elapsedMs - warmupMs) };
}
