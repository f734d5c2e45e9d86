// A closed-loop load phase: `concurrency` workers repeat one operation until the phase's time or
// operation budget is spent (or `until` says stop), optionally paced to a total rate. Records latency
// of the operations that succeeded, every status and failure kind, and a timeline in fixed buckets.
import { LatencyRecorder, type LatencyStats } from './percentiles.ts';

/** What one operation (a request, or a master → slave flow of two) came to. */
export interface OpResult {
  ok: boolean;
  /** Final HTTP status (0: no answer). */
  status: number;
  ms: number;
  /** Keys delivered by this operation. */
  keys?: number;
  /** Key bits delivered. */
  bits?: number;
  /** Failure kind when no usable answer came (deadline, connection-refused, bad-answer…). */
  failure?: string;
  /** One sentence for the report (no key material). */
  detail?: string;
}

export interface Bucket {
  /** Start of the bucket, seconds since the phase started. */
  t: number;
  ops: number;
  ok: number;
  s503: number;
  failed: number;
  keys: number;
}

export interface LoadResult {
  ops: number;
  ok: number;
  keys: number;
  bits: number;
  elapsedMs: number;
  /** Latency of the successful operations. */
  latency?: LatencyStats;
  /** Count per HTTP status ("0" = no answer). */
  statuses: Record<string, number>;
  /** Count per failure kind, with the first sentence seen for each. */
  failures: Record<string, { count: number; first: string }>;
  timeline: Bucket[];
  bucketMs: number;
  /** ms from the phase start to the first answer with each status. */
  firstStatusMs: Record<string, number>;
  /** Why the phase ended: time, count, until, or abort. */
  ended: 'time' | 'count' | 'until' | 'abort';
}

export interface LoadOptions {
  concurrency: number;
  durationMs: number;
  maxOps: number;
  /** Total operation starts per second (paced); undefined = as fast as the answers come. */
  ratePerS?: number;
  op: (worker: number) => Promise<OpResult>;
  /** Stop the phase after this result (e.g. the first 503 while draining). */
  until?: (r: OpResult) => boolean;
  /** Called about once a second with the running totals (progress on stderr). */
  onTick?: (soFar: { ops: number; ok: number; keys: number; elapsedMs: number; statuses: Record<string, number> }) => void;
  /** Timeline bucket width (default: 250 ms for phases up to 10 s, else 1 s). */
  bucketMs?: number;
  signal?: AbortSignal;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((ok) => {
    if (signal?.aborted) return ok();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      ok();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** Runs one phase. Always ends: by time, count, `until` or abort; every op carries its own deadline. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const bucketMs = o.bucketMs ?? (o.durationMs <= 10_000 ? 250 : 1000);
  const rec = new LatencyRecorder();
  const res: LoadResult = { ops: 0, ok: 0, keys: 0, bits: 0, elapsedMs: 0, statuses: {}, failures: {}, timeline: [], bucketMs, firstStatusMs: {}, ended: 'time' };
  const t0 = performance.now();
  const end = t0 + o.durationMs;
  let started = 0;
  let stop = false;
  const bucket = (at: number): Bucket => {
    // Answers that land after the phase's end belong to its last bucket (no near-empty tail bucket).
    const i = Math.min(Math.max(0, Math.ceil(o.durationMs / bucketMs) - 1), Math.max(0, Math.floor((at - t0) / bucketMs)));
    while (res.timeline.length <= i) res.timeline.push({ t: (res.timeline.length * bucketMs) / 1000, ops: 0, ok: 0, s503: 0, failed: 0, keys: 0 });
    return res.timeline[i]!;
  };
  const tick = o.onTick ? setInterval(() => o.onTick!({ ops: res.ops, ok: res.ok, keys: res.keys, elapsedMs: performance.now() - t0, statuses: res.statuses }), 1000) : undefined;
  const worker = async (w: number): Promise<void> => {
    for (;;) {
      if (stop || o.signal?.aborted) return;
      const now = performance.now();
      if (now >= end) return;
      if (started >= o.maxOps) {
        if (res.ended === 'time') res.ended = 'count';
        return;
      }
      const slot = started++;
      if (o.ratePerS) {
        const due = t0 + (slot * 1000) / o.ratePerS;
        if (due >= end) return;
        if (due > now) await sleep(due - now, o.signal);
        if (stop || o.signal?.aborted) return;
      }
      const r = await o.op(w);
      const at = performance.now();
      res.ops++;
      const key = String(r.status);
      res.statuses[key] = (res.statuses[key] ?? 0) + 1;
      res.firstStatusMs[key] ??= Math.round(at - t0);
      const b = bucket(at);
      b.ops++;
      if (r.status === 503) b.s503++;
      if (r.ok) {
        res.ok++;
        b.ok++;
        rec.record(r.ms);
        res.keys += r.keys ?? 0;
        res.bits += r.bits ?? 0;
        b.keys += r.keys ?? 0;
      } else if (r.failure) {
        b.failed++;
        const f = (res.failures[r.failure] ??= { count: 0, first: r.detail ?? r.failure });
        f.count++;
      }
      if (o.until?.(r)) {
        stop = true;
        res.ended = 'until';
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, (_, w) => worker(w)));
  } finally {
    if (tick) clearInterval(tick);
  }
  if (o.signal?.aborted) res.ended = 'abort';
  res.elapsedMs = performance.now() - t0;
  const stats = rec.stats();
  if (stats) res.latency = stats;
  return res;
}

/** "3 × deadline (first: …); 1 × connection-reset (…)" — what failed in a phase, for messages. */
export function describeFailures(r: Pick<LoadResult, 'failures'>): string {
  return Object.entries(r.failures)
    .map(([k, v]) => `${v.count} × ${k} (first: ${v.first})`)
    .join('; ');
}
