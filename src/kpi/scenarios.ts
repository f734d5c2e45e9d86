// The KPI phases of one run, in the order that keeps them fair: latency at rest, HTTP capacity, key
// supply, concurrent clients, head-of-line blocking, then (destructive, last) exhaustion with service
// continuity and recovery, then the optional soak. Each phase is bounded in time and count; a phase that
// cannot be measured says why (section.state = 'error' | 'not-measured'), never a figure it did not see.
import { LoadEngine, type Endpoint } from './engine.ts';
import { describeFailures, runLoad, type Bucket, type LoadResult, type OpResult } from './load.ts';
import { encKeys, flow, readStatus, status, type Roles, type StatusFigures } from './operations.ts';
import type { LatencyStats } from './percentiles.ts';
import { steadyState } from './warmup.ts';

export const PHASES = ['latency', 'capacity', 'supply', 'concurrency', 'hol', 'exhaustion', 'soak'] as const;
export type Phase = (typeof PHASES)[number];

export interface KpiOptions {
  /** Length of each load phase, ms. */
  durationMs: number;
  /** Connections (and workers) of the load phases; also the number of concurrent clients. */
  concurrency: number;
  /** Paced request rate of the continuity and soak phases (requests per second). */
  ratePerS: number;
  /** Requests per latency scenario (each also bounded by durationMs). */
  samples: number;
  /** Phases to run (default: all but soak; soak only when asked). */
  phases: ReadonlySet<Phase>;
  /** Whether the pool may be emptied (the profile's allow_exhaustion). */
  allowExhaustion: boolean;
  soakMs: number;
  soakWindows: number;
  /** How long to wait for service to return after exhaustion, ms. */
  recoveryTimeoutMs: number;
  progress: (line: string) => void;
  signal?: AbortSignal;
}

/** A phase's figures, or why there are none. */
export type Section<T> = ({ state: 'measured' } & T) | { state: 'not-measured' | 'error'; reason: string };

/** One load phase as reported: totals, latency of the successes, statuses, failures, timeline. */
export interface PhaseFigures {
  ops: number;
  ok: number;
  elapsed_s: number;
  latency?: LatencyStats;
  statuses: Record<string, number>;
  failures: Record<string, { count: number; first: string }>;
}

export interface LatencyScenario {
  warm: Section<PhaseFigures>;
  cold: Section<PhaseFigures>;
}

export interface KpiFigures {
  status?: StatusFigures;
  latency?: Section<{ status: LatencyScenario; enc_keys: LatencyScenario; flow: LatencyScenario }>;
  /** `requests_per_s` counts only after the first `warmup_s` (src/kpi/warmup.ts); ops/ok/latency are the whole phase. */
  capacity?: Section<PhaseFigures & { requests_per_s: number; warmup_s: number; timeline: Bucket[]; bucket_ms: number }>;
  /** The rates count only after the first `warmup_s` (src/kpi/warmup.ts); ops/ok/latency are the whole phase. */
  supply?: Section<PhaseFigures & { keys_per_s: number; key_bits_per_s: number; requests_per_s: number; warmup_s: number; key_size: number; pool_ran_dry_after_s?: number; timeline: Bucket[]; bucket_ms: number }>;
  concurrency?: Section<PhaseFigures & { clients: number; ok_share: number; error_share: number }>;
  hol?: Section<{ unloaded: { status: PhaseFigures; enc_keys: PhaseFigures }; loaded: { status: PhaseFigures; enc_keys: PhaseFigures }; large: PhaseFigures & { number: number; size: number }; factor: number; factor_status: number; factor_enc_keys: number }>;
  exhaustion?: Section<{
    /** `keys`: delivered while draining, in keys of key_size bits. */
    drain: { keys: number; requests: number; elapsed_s: number; time_to_first_503_s: number; level_before: number };
    continuity: PhaseFigures & { started_s: number; rate_per_s: number; share_503: number; served_keys_per_s: number; error_share: number; timeline: Bucket[]; bucket_ms: number };
    recovery: { started_s: number; recovered: boolean; recovery_s?: number; refill_keys_per_s?: number; observed_s: number; reason?: string };
    /** stored_key_count over time (s since the drain started), from Status polls. */
    level: Array<{ t: number; stored: number }>;
  }>;
  soak?: Section<{ windows: Array<{ t: number; ops: number; ok: number; p50?: number; p95?: number; p99?: number; rss_mb: number }>; drift?: number; rss_growth_mb: number }>;
  harness: { rss_peak_mb: number };
}

const slim = (r: LoadResult): PhaseFigures => ({ ops: r.ops, ok: r.ok, elapsed_s: round(r.elapsedMs / 1000), ...(r.latency ? { latency: r.latency } : {}), statuses: r.statuses, failures: r.failures });
const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;
const mb = (): number => round(process.memoryUsage().rss / 1048576, 1);

/** A phase whose every operation failed is an error: a figure from nothing is no figure. */
function judged<T extends object>(r: LoadResult, what: string, extra: (r: LoadResult) => T): Section<PhaseFigures & T> {
  if (r.ops === 0) return { state: 'error', reason: `${what}: no request completed within the phase` };
  if (r.ok === 0) return { state: 'error', reason: `${what}: all ${r.ops} requests failed: ${describeFailures(r)}` };
  return { state: 'measured', ...slim(r), ...extra(r) };
}

export class KpiRun {
  private rssPeak = mb();
  private readonly rssTimer: NodeJS.Timeout;

  constructor(
    private readonly engine: LoadEngine,
    private readonly roles: Roles,
    private readonly o: KpiOptions,
  ) {
    this.rssTimer = setInterval(() => (this.rssPeak = Math.max(this.rssPeak, mb())), 500);
    this.rssTimer.unref();
  }

  private tick(label: string) {
    return (s: { ops: number; ok: number; keys: number; elapsedMs: number; statuses: Record<string, number> }): void => {
      const other = Object.entries(s.statuses).filter(([k]) => !k.startsWith('2')).map(([k, n]) => `${k === '0' ? 'no answer' : k}×${n}`);
      this.o.progress(`  ${label}: ${(s.elapsedMs / 1000).toFixed(0)} s, ${s.ops} requests, ${s.ok} ok${s.keys ? `, ${s.keys} keys` : ''}${other.length ? `, ${other.join(' ')}` : ''}`);
    };
  }

  private load(label: string, o: Omit<Parameters<typeof runLoad>[0], 'signal' | 'onTick'>): Promise<LoadResult> {
    return runLoad({ ...o, onTick: this.tick(label), ...(this.o.signal ? { signal: this.o.signal } : {}) });
  }

  async run(): Promise<KpiFigures> {
    const out: KpiFigures = { harness: { rss_peak_mb: 0 } };
    const has = (p: Phase) => this.o.phases.has(p);
    try {
      let st: StatusFigures | undefined;
      let stError = '';
      try {
        st = await readStatus(this.engine, this.roles);
        out.status = st;
      } catch (err) {
        stError = (err as Error).message;
      }
      const phase = async <K extends Phase>(p: K, f: () => Promise<KpiFigures[K]>): Promise<void> => {
        if (!has(p)) return;
        // Past an interruption or the run's deadline a phase measures nothing: say so rather than report an empty figure.
        out[p] = this.o.signal?.aborted ? ({ state: 'error', reason: 'the run was interrupted or its overall deadline passed before this phase' } as KpiFigures[K]) : await f();
      };
      await phase('latency', () => this.latency(st));
      await phase('capacity', () => this.capacity());
      await phase('supply', () => this.supply(st, stError));
      await phase('concurrency', () => this.concurrency(st));
      await phase('hol', () => this.hol());
      await phase('exhaustion', () => this.exhaustion(stError));
      await phase('soak', () => this.soak(st));
    } finally {
      clearInterval(this.rssTimer);
    }
    out.harness.rss_peak_mb = Math.max(this.rssPeak, mb());
    return out;
  }

  private async latency(st?: StatusFigures): Promise<KpiFigures['latency']> {
    const size = st?.key_size ?? 256;
    const one = async (name: string, op: (cold: boolean) => Promise<OpResult>): Promise<LatencyScenario> => {
      const res = {} as LatencyScenario;
      for (const cold of [false, true]) {
        const label = `latency ${name} ${cold ? 'cold' : 'warm'}`;
        this.o.progress(`kpi: ${label} (up to ${this.o.samples} requests, one at a time)`);
        if (!cold) await op(false); // opens the keep-alive connection: warm means warm
        const r = await this.load(label, { concurrency: 1, durationMs: this.o.durationMs, maxOps: this.o.samples, op: () => op(cold) });
        res[cold ? 'cold' : 'warm'] = judged(r, label, () => ({}));
      }
      return res;
    };
    return {
      state: 'measured',
      status: await one('Status', (cold) => status(this.engine, this.roles, cold)),
      enc_keys: await one('enc_keys', (cold) => encKeys(this.engine, this.roles, { number: 1, defaultSize: size, cold })),
      flow: await one('master→slave', (cold) => flow(this.engine, this.roles, { defaultSize: size, cold })),
    };
  }

  private async capacity(): Promise<KpiFigures['capacity']> {
    this.o.progress(`kpi: HTTP capacity (Status, ${this.o.concurrency} connections, ${this.o.durationMs / 1000} s)`);
    const r = await this.load('capacity', { concurrency: this.o.concurrency, durationMs: this.o.durationMs, maxOps: 50_000_000, op: () => status(this.engine, this.roles) });
    return judged(r, 'HTTP capacity', (x) => {
      const w = steadyState(x, this.o.durationMs);
      return { requests_per_s: round(w.ok / (w.elapsedMs / 1000), 1), warmup_s: w.warmup_s, timeline: x.timeline, bucket_ms: x.bucketMs };
    });
  }

  private async supply(st: StatusFigures | undefined, stError: string): Promise<KpiFigures['supply']> {
    if (!st) return { state: 'error', reason: `key supply needs the key size from Status: ${stError}` };
    this.o.progress(`kpi: key supply (enc_keys, 1 key each, ${this.o.concurrency} connections, ${this.o.durationMs / 1000} s)`);
    const r = await this.load('supply', { concurrency: this.o.concurrency, durationMs: this.o.durationMs, maxOps: 50_000_000, op: () => encKeys(this.engine, this.roles, { number: 1, defaultSize: st.key_size }) });
    const dry = r.firstStatusMs['503'];
    return judged(r, 'key supply', (x) => {
      const w = steadyState(x, this.o.durationMs);
      return {
        keys_per_s: round(w.keys / (w.elapsedMs / 1000), 1),
        key_bits_per_s: Math.round(w.bits / (w.elapsedMs / 1000)),
        requests_per_s: round(w.ops / (w.elapsedMs / 1000), 1),
        warmup_s: w.warmup_s,
        key_size: st.key_size,
        ...(dry !== undefined ? { pool_ran_dry_after_s: round(dry / 1000) } : {}),
        timeline: x.timeline,
        bucket_ms: x.bucketMs,
      };
    });
  }

  private async concurrency(st?: StatusFigures): Promise<KpiFigures['concurrency']> {
    const n = this.o.concurrency;
    this.o.progress(`kpi: ${n} concurrent clients (each its own connection, master→slave flow, ${this.o.durationMs / 1000} s)`);
    // Each client is its own endpoint object, so its own pool: one connection and TLS session per client.
    const clients: Roles[] = Array.from({ length: n }, () => ({ master: { ...this.roles.master }, slave: { ...this.roles.slave } }));
    const perClient = new LoadEngine({ ...this.engine.options, connections: 1 });
    try {
      const r = await this.load('concurrency', { concurrency: n, durationMs: this.o.durationMs, maxOps: 50_000_000, op: (w) => flow(perClient, clients[w]!, { defaultSize: st?.key_size ?? 256 }) });
      return judged(r, `${n} concurrent clients`, (x) => ({ clients: n, ok_share: round(x.ok / x.ops, 4), error_share: round(1 - x.ok / x.ops, 4) }));
    } finally {
      await perClient.close();
    }
  }

  private async hol(): Promise<KpiFigures['hol']> {
    // The pool level now, after the phases before took keys (the run's first Status is stale).
    let stError = '';
    const st = await readStatus(this.engine, this.roles).catch((err: Error) => {
      stError = err.message;
      return undefined;
    });
    if (!st) return { state: 'error', reason: `head-of-line blocking needs max_key_size, max_key_per_request and the pool level from Status: ${stError}` };
    // Large requests may use at most half the pool, so this phase never empties a KMS.
    const budgetBits = Math.floor((st.stored_key_count * st.key_size) / 2);
    const size = st.max_key_size;
    const number = Math.min(st.max_key_per_request, Math.floor(budgetBits / Math.max(1, size)));
    if (number < 1) return { state: 'error', reason: `the pool (${st.stored_key_count} keys of ${st.key_size} bits) holds too little for one large request of ${size} bits without emptying half of it` };
    // Each small series gets at least 2 s: beside a blocking KME a request may take longer than a short window.
    const each = Math.max(2_000, this.o.durationMs / 4);
    const window = 2 * each;
    const small = async (label: string): Promise<{ status: LoadResult; enc_keys: LoadResult }> => ({
      status: await this.load(`${label} Status`, { concurrency: 1, durationMs: each, maxOps: this.o.samples, op: () => status(this.engine, this.roles) }),
      enc_keys: await this.load(`${label} enc_keys`, { concurrency: 1, durationMs: each, maxOps: this.o.samples, op: () => encKeys(this.engine, this.roles, { number: 1, defaultSize: st.key_size }) }),
    });
    this.o.progress(`kpi: head-of-line blocking: small requests alone, then beside large ones (${number} × ${size} bits)`);
    await status(this.engine, this.roles);
    const unloaded = await small('unloaded');
    const large = new LoadEngine({ ...this.engine.options, connections: Math.max(1, Math.min(4, this.o.concurrency)) });
    const largeEp: Roles = { master: { ...this.roles.master }, slave: this.roles.slave };
    const ctrl = new AbortController();
    const largeRun = this.load('large requests', {
      concurrency: Math.max(1, Math.min(4, this.o.concurrency)),
      durationMs: window + 2_000,
      maxOps: Math.max(1, Math.floor(budgetBits / (number * size))),
      op: () => encKeys(large, largeEp, { number, size, defaultSize: st.key_size }),
      until: () => ctrl.signal.aborted,
    });
    await new Promise((ok) => setTimeout(ok, 200)); // the large requests are under way
    const loaded = await small('loaded');
    ctrl.abort();
    const big = await largeRun;
    await large.close();
    if (big.ok < 2) return { state: 'error', reason: `the large requests (${number} × ${size} bits) were not served, so nothing loaded the KME: ${describeFailures(big) || 'none completed'}` };
    for (const [label, r] of [['unloaded Status', unloaded.status], ['unloaded enc_keys', unloaded.enc_keys], ['loaded Status', loaded.status], ['loaded enc_keys', loaded.enc_keys]] as const) {
      if (!r.latency) return { state: 'error', reason: `head-of-line blocking: no ${label} request succeeded: ${describeFailures(r) || 'none completed'}` };
      if (r.ok < 3) return { state: 'error', reason: `head-of-line blocking: only ${r.ok} ${label} request(s) completed within ${each / 1000} s, too few for a p95 (${describeFailures(r) || 'each took long'})` };
    }
    const f = (a: LoadResult, b: LoadResult) => round(b.latency!.p95 / Math.max(0.001, a.latency!.p95), 2);
    const fs = f(unloaded.status, loaded.status);
    const fe = f(unloaded.enc_keys, loaded.enc_keys);
    return {
      state: 'measured',
      unloaded: { status: slim(unloaded.status), enc_keys: slim(unloaded.enc_keys) },
      loaded: { status: slim(loaded.status), enc_keys: slim(loaded.enc_keys) },
      large: { ...slim(big), number, size },
      factor: Math.max(fs, fe),
      factor_status: fs,
      factor_enc_keys: fe,
    };
  }

  private async exhaustion(stError: string): Promise<KpiFigures['exhaustion']> {
    if (!this.o.allowExhaustion) return { state: 'not-measured', reason: 'the target profile does not set allow_exhaustion: true (emptying the key pool is destructive on a real KMS)' };
    let st: StatusFigures;
    try {
      st = await readStatus(this.engine, this.roles);
    } catch (err) {
      return { state: 'error', reason: `exhaustion needs Status first: ${(err as Error).message || stError}` };
    }
    const t0 = performance.now();
    const level: Array<{ t: number; stored: number }> = [{ t: 0, stored: st.stored_key_count }];
    let polling = true;
    const poller = (async () => {
      while (polling && !this.o.signal?.aborted) {
        await new Promise((ok) => setTimeout(ok, 250));
        try {
          const s = await readStatus(this.engine, this.roles);
          level.push({ t: round((performance.now() - t0) / 1000), stored: s.stored_key_count });
        } catch {
          /* a missed poll is a gap in the chart, not a finding */
        }
        if (level.length > 20_000) return;
      }
    })();
    try {
      const bound = Math.max(this.o.durationMs * 3, 10_000);
      const largeN = Math.max(1, st.max_key_per_request);
      const largeBits = largeN * st.max_key_size;
      this.o.progress(`kpi: exhaustion: draining ${st.stored_key_count} keys (${largeN} × ${st.max_key_size} bits per request, then single keys) until the first 503`);
      const drainBig = await this.load('drain (large)', {
        concurrency: this.o.concurrency,
        durationMs: bound,
        maxOps: Math.ceil((st.stored_key_count * st.key_size) / largeBits) * 4 + 100,
        op: () => encKeys(this.engine, this.roles, { number: largeN, size: st.max_key_size, defaultSize: st.key_size }),
        until: (r) => r.status === 503,
      });
      const drainOne = await this.load('drain (single keys)', {
        concurrency: this.o.concurrency,
        durationMs: bound,
        maxOps: Math.ceil(largeBits / st.key_size) * 4 + st.stored_key_count + 100,
        op: () => encKeys(this.engine, this.roles, { number: 1, defaultSize: st.key_size }),
        until: (r) => r.status === 503,
      });
      const first503 = drainOne.firstStatusMs['503'];
      if (first503 === undefined) {
        return { state: 'error', reason: `the pool was not emptied within ${round(bound / 1000)} s per stage (${drainBig.keys + drainOne.keys} keys delivered, no 503${describeFailures(drainOne) ? `; ${describeFailures(drainOne)}` : ''})` };
      }
      const drainMs = drainBig.elapsedMs + first503;
      this.o.progress(`kpi: service continuity: 1 key at ${this.o.ratePerS} requests/s for ${this.o.durationMs / 1000} s on the empty pool`);
      const contStart = round((performance.now() - t0) / 1000);
      const cont = await this.load('continuity', { concurrency: Math.max(2, this.o.concurrency), durationMs: this.o.durationMs, maxOps: 50_000_000, ratePerS: this.o.ratePerS, op: () => encKeys(this.engine, this.roles, { number: 1, defaultSize: st.key_size }) });
      if (cont.ops === 0) return { state: 'error', reason: 'no request completed during the continuity phase' };
      const s503 = cont.statuses['503'] ?? 0;
      const other = cont.ops - cont.ok - s503;
      // Recovery: consumption stops; the pool refills; service is back when one key is delivered again.
      this.o.progress(`kpi: recovery: waiting up to ${this.o.recoveryTimeoutMs / 1000} s for the pool to refill`);
      const r0 = performance.now();
      const recStart = round((r0 - t0) / 1000);
      let recoveredAt: number | undefined;
      while (performance.now() - r0 < this.o.recoveryTimeoutMs && !this.o.signal?.aborted) {
        const stored = level.at(-1)?.stored ?? 0;
        if (stored >= 1 || performance.now() - r0 > 1000) {
          const e = await encKeys(this.engine, this.roles, { number: 1, defaultSize: st.key_size });
          if (e.ok) {
            recoveredAt = performance.now();
            break;
          }
        }
        await new Promise((ok) => setTimeout(ok, 100));
      }
      // The refill rate from Status: the pool level over a short observation after recovery.
      const obsFrom = (performance.now() - t0) / 1000;
      const observe = Math.min(Math.max(2_000, this.o.durationMs), 10_000);
      if (recoveredAt !== undefined) await new Promise((ok) => setTimeout(ok, observe));
      const obs = level.filter((p) => p.t >= obsFrom);
      const refill = obs.length >= 2 ? round((obs.at(-1)!.stored - obs[0]!.stored) / Math.max(0.001, obs.at(-1)!.t - obs[0]!.t), 2) : undefined;
      return {
        state: 'measured',
        drain: { keys: Math.round((drainBig.bits + drainOne.bits) / st.key_size), requests: drainBig.ops + drainOne.ops, elapsed_s: round(drainMs / 1000), time_to_first_503_s: round(drainMs / 1000), level_before: st.stored_key_count },
        continuity: { ...slim(cont), started_s: contStart, rate_per_s: this.o.ratePerS, share_503: round(s503 / cont.ops, 4), served_keys_per_s: round(cont.keys / (cont.elapsedMs / 1000), 2), error_share: round(other / cont.ops, 4), timeline: cont.timeline, bucket_ms: cont.bucketMs },
        recovery: recoveredAt !== undefined
          ? { started_s: recStart, recovered: true, recovery_s: round((recoveredAt - r0) / 1000), ...(refill !== undefined ? { refill_keys_per_s: refill } : {}), observed_s: round(observe / 1000) }
          : { started_s: recStart, recovered: false, observed_s: round(this.o.recoveryTimeoutMs / 1000), reason: `no key was delivered within ${round(this.o.recoveryTimeoutMs / 1000)} s after consumption stopped` },
        level,
      };
    } finally {
      polling = false;
      await poller;
    }
  }

  private async soak(st?: StatusFigures): Promise<KpiFigures['soak']> {
    const windows = Math.max(2, this.o.soakWindows);
    const windowMs = this.o.soakMs / windows;
    this.o.progress(`kpi: soak: master→slave flow at ${this.o.ratePerS}/s for ${this.o.soakMs / 1000} s in ${windows} windows`);
    const out: Array<{ t: number; ops: number; ok: number; p50?: number; p95?: number; p99?: number; rss_mb: number }> = [];
    await flow(this.engine, this.roles, { defaultSize: st?.key_size ?? 256 }); // the first window starts warm, so drift is drift
    let failures = 0;
    for (let i = 0; i < windows && !this.o.signal?.aborted; i++) {
      const r = await this.load(`soak window ${i + 1}/${windows}`, { concurrency: Math.max(2, this.o.concurrency), durationMs: windowMs, maxOps: 50_000_000, ratePerS: this.o.ratePerS, op: async () => flow(this.engine, this.roles, { defaultSize: st?.key_size ?? 256 }) });
      failures += r.ops - r.ok;
      out.push({ t: round((i * windowMs) / 1000), ops: r.ops, ok: r.ok, ...(r.latency ? { p50: r.latency.p50, p95: r.latency.p95, p99: r.latency.p99 } : {}), rss_mb: mb() });
    }
    const measured = out.filter((w) => w.p95 !== undefined);
    if (measured.length < 2) return { state: 'error', reason: `soak: fewer than two windows had a successful request (${failures} failed)` };
    return { state: 'measured', windows: out, drift: round(measured.at(-1)!.p95! / Math.max(0.001, measured[0]!.p95!), 2), rss_growth_mb: round(out.at(-1)!.rss_mb - out[0]!.rss_mb, 1) };
  }
}

export type { Endpoint };
