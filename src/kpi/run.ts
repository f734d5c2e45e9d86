// One `qkd-harness kpi` run: open the target, check it answers, run the phases on the load engine,
// judge the figures against the profile's thresholds and write the reports. Bounded as a whole: an
// overall deadline aborts whatever phase is running, and the reports are still written.
import { LoadEngine } from './engine.ts';
import { KpiRun, PHASES, type KpiFigures, type KpiOptions, type Phase } from './scenarios.ts';
import { kpiResults } from './verdicts.ts';
import { writeKpiReports, type KpiSummary } from './report.ts';
import { openProfile, rolesOf, startEmbeddedMock, type KpiTarget } from './target.ts';
import { EXIT } from '../cli/exit.ts';

export interface KpiRunOptions {
  /** Target profile file; undefined = the embedded mock pair (a child process). */
  target?: string;
  durationS: number;
  concurrency: number;
  ratePerS: number;
  samples: number;
  soak: boolean;
  soakS: number;
  /** Phases to run (default all; soak only with `soak`). */
  only?: Phase[];
  out: string;
  progress: (line: string) => void;
  /** Stops the run early (SIGINT); the reports are still written. */
  signal?: AbortSignal;
}

export interface KpiOutcome {
  summary: KpiSummary;
  exitCode: number;
}

/** Upper bound of a whole run in ms: every phase's own bound plus slack, so the overall deadline never cuts a healthy run. */
export function runBound(o: Pick<KpiOptions, 'durationMs' | 'recoveryTimeoutMs' | 'soakMs'>, phases: ReadonlySet<Phase>, timeoutMs: number): number {
  const d = o.durationMs;
  const t = timeoutMs + 1_000; // a phase may end with requests in flight up to their deadline
  let ms = 30_000 + t;
  if (phases.has('latency')) ms += 6 * (d + 2 * t);
  for (const p of ['capacity', 'supply', 'concurrency'] as const) if (phases.has(p)) ms += d + t;
  if (phases.has('hol')) ms += 3 * d + 8 * t + 10_000;
  if (phases.has('exhaustion')) ms += 2 * (Math.max(3 * d, 10_000) + t) + d + t + o.recoveryTimeoutMs + 2 * t + 10_000;
  if (phases.has('soak')) ms += o.soakMs + 10 * t + t;
  return ms;
}

export async function runKpi(o: KpiRunOptions): Promise<KpiOutcome> {
  const started = new Date().toISOString();
  const phases = new Set<Phase>(o.only ?? PHASES.filter((p) => p !== 'soak' || o.soak));
  const target: KpiTarget = o.target ? openProfile(o.target) : await startEmbeddedMock();
  const profile = target.profile;
  const thresholds = profile.kpi ?? {};
  const engine = new LoadEngine({ timeoutMs: profile.timeout_ms, maxResponseBytes: profile.max_response_bytes, connections: o.concurrency });
  const options: KpiOptions = {
    durationMs: o.durationS * 1000,
    concurrency: o.concurrency,
    ratePerS: o.ratePerS,
    samples: o.samples,
    phases,
    allowExhaustion: profile.allow_exhaustion,
    soakMs: o.soakS * 1000,
    soakWindows: 10,
    // Long enough to judge the profile's recovery threshold (a shorter wait could not tell a fail).
    recoveryTimeoutMs: Math.max(30_000, (thresholds.max_recovery_s ?? 0) * 1000 + 5_000),
    progress: o.progress,
  };
  const overall = new AbortController();
  const bound = runBound(options, phases, profile.timeout_ms);
  const timer = setTimeout(() => overall.abort(), bound);
  const onOuter = () => overall.abort();
  o.signal?.addEventListener('abort', onOuter, { once: true });
  let figures: KpiFigures = { harness: { rss_peak_mb: 0 } };
  let unreachable: string | undefined;
  try {
    const roles = rolesOf(profile);
    // No answer at all (connect, TLS, deadline) is unreachable; an answer of any kind lets the phases judge.
    const first = await engine.send(roles.master, { method: 'GET', path: `/api/v1/keys/${encodeURIComponent(roles.slave.saeId)}/status` });
    if (first.status === 0) unreachable = `cannot reach KME ${profile.saes.master.kme} of ${target.name} as ${roles.master.saeId}: ${first.failure?.detail ?? 'no answer'}`;
    if (!unreachable) {
      o.progress(`kpi: ${target.name}: phases ${[...phases].join(', ')}; ${o.durationS} s each, ${o.concurrency} connections`);
      figures = await new KpiRun(engine, roles, { ...options, signal: overall.signal }).run();
      if (overall.signal.aborted) o.progress(o.signal?.aborted ? 'kpi: interrupted: reporting what was measured' : `kpi: the run's overall deadline (${Math.round(bound / 1000)} s) passed: reporting what was measured`);
    }
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onOuter);
    await engine.close();
    await target.close();
  }
  for (const p of PHASES) {
    if (phases.has(p) || figures[p] !== undefined) continue;
    (figures as unknown as Record<string, unknown>)[p] = { state: 'not-measured', reason: p === 'soak' ? 'the soak phase runs only with --soak (nightly)' : `the ${p} phase was not selected (--only)` };
  }
  if (unreachable) for (const p of PHASES) if (phases.has(p)) (figures as unknown as Record<string, unknown>)[p] = { state: 'error', reason: unreachable };
  const results = kpiResults(figures, thresholds);
  const summary = await writeKpiReports(o.out, {
    kind: 'kpi',
    target: target.name,
    source: o.target ? profile.source : 'embedded mock KME pair',
    started,
    finished: new Date().toISOString(),
    options: { duration_s: o.durationS, concurrency: o.concurrency, rate_per_s: o.ratePerS, samples: o.samples, phases: [...phases], ...(phases.has('soak') ? { soak_s: o.soakS } : {}), allow_exhaustion: profile.allow_exhaustion },
    results,
    figures,
  });
  const exitCode = unreachable ? EXIT.cannotRun : results.some((r) => r.outcome === 'fail' || r.outcome === 'error') ? EXIT.unexpected : EXIT.ok;
  return { summary, exitCode };
}
