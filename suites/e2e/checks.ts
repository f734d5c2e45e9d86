// The WireGuard end-to-end requirements (specs/requirements/wg.yaml) as checks over one observation of
// two sites. Each returns a verdict with evidence made of fingerprints and times only, so the same
// check can be shown passing on a healthy lab and failing on a lab with a fault injected.
import { expectedPsk, type PskMode } from '../../src/psk/index.ts';
import {
  WG_TIMERS,
  firstUp,
  handshakeAfter,
  outageWithin,
  percentile,
  probeUpAfter,
  rotations,
  type E2eRun,
  type Rotation,
} from '../../src/sites/timeline.ts';

/** `error`: the harness could not judge (a transport failure, nothing observed): never a pass. */
export type Outcome = 'pass' | 'fail' | 'skip' | 'error';

export interface Verdict {
  id: string;
  outcome: Outcome;
  summary: string;
  evidence: Record<string, unknown>;
}

const verdict = (id: string, problems: string[], ok: string, evidence: Record<string, unknown>, skip?: string): Verdict =>
  skip !== undefined ? { id, outcome: 'skip', summary: skip, evidence } : { id, outcome: problems.length ? 'fail' : 'pass', summary: problems.length ? problems.slice(0, 5).join('; ') : ok, evidence };

const s = (ms: number | null) => (ms === null ? 'never' : `${(ms / 1000).toFixed(1)} s`);

export function fpAt(run: E2eRun, site: string, t: number): string {
  const series = run.series[site]!;
  let fp = series.initial;
  for (const c of series.changes) if (c.at <= t) fp = c.fp;
  return fp;
}

/** Rotations old enough to judge: both sites had `skewBound` + a poll to follow. */
function settled(run: E2eRun): Rotation[] {
  const settle = run.config.skewBoundMs + run.config.pollMs;
  return rotations(run).filter((r) => r.start + settle <= run.endedAt);
}

/** How long after a rotation a handshake with its PSK must have completed. */
export function handshakeBoundMs(run: E2eRun): number {
  return run.config.handshakes === 'forced'
    ? run.config.skewBoundMs + WG_TIMERS.rekeyTimeoutMs + 2 * run.config.pollMs + 500
    : WG_TIMERS.rekeyAfterMs + WG_TIMERS.rekeyTimeoutMs + WG_TIMERS.rekeyTimeoutJitterMs + run.config.probeTimeoutMs + 2 * run.config.pollMs;
}

/** wg/1: after every rotation both sites hold the same PSK. */
export function pskAgreement(run: E2eRun): Verdict {
  const [a, b] = run.sites;
  const settle = run.config.skewBoundMs + run.config.pollMs;
  const rots = settled(run);
  const rows = rots.map((r) => ({ rotation: r.index, at: new Date(r.start).toISOString(), [a]: fpAt(run, a, r.start + settle), [b]: fpAt(run, b, r.start + settle) }));
  const problems = rows.filter((x) => x[a] !== x[b]).map((x) => `rotation ${x.rotation}: ${a} holds ${x[a]}, ${b} holds ${x[b]} ${s(settle)} after the change`);
  if (!rots.length) problems.push(`no rotation observed in ${s(run.endedAt - run.startedAt)}`);
  return verdict('wg/1', problems, `both sites held the same PSK after each of ${rots.length} rotations`, { rotations: rows });
}

/** wg/2: a PSK is always configured. */
export function pskAlwaysSet(run: E2eRun): Verdict {
  const counts = Object.fromEntries(run.sites.map((site) => [site, { samples: run.series[site]!.samples, none: run.series[site]!.seen['(none)'] ?? 0 }]));
  const problems = run.sites.filter((site) => counts[site]!.none > 0).map((site) => `${site} showed (none) in ${counts[site]!.none} of ${counts[site]!.samples} samples`);
  return verdict('wg/2', problems, `no sample of ${run.sites.join(' or ')} showed (none)`, counts);
}

/** wg/3: no PSK repeats an earlier one. */
export function pskNeverRepeats(run: E2eRun): Verdict {
  const problems: string[] = [];
  const sequences: Record<string, string[]> = {};
  for (const site of run.sites) {
    const seq = [run.series[site]!.initial, ...run.series[site]!.changes.map((c) => c.fp)];
    sequences[site] = seq;
    const seen = new Set<string>();
    for (const fp of seq) {
      if (seen.has(fp)) problems.push(`${site} went back to ${fp}`);
      seen.add(fp);
    }
  }
  return verdict('wg/3', problems, 'every installed PSK was new on both sites', { sequences });
}

/** wg/4: the installed PSK equals the derivation recomputed from the inputs the agent used. */
export function pskDerivation(run: E2eRun): Verdict {
  if (!run.agent) return verdict('wg/4', [], '', {}, 'the key-control agents record no inputs (an external agent): wg/1 still compares the two sites');
  const problems: string[] = [];
  const rows: Array<Record<string, unknown>> = [];
  for (const site of run.sites) {
    const records = run.agent[site] ?? [];
    for (const c of run.series[site]!.changes) {
      // The record is written right after `wg set` returns; a poll that started just before may already
      // show the PSK. Join on the agent's own fingerprint first, then on time.
      const candidates = records.filter((r) => r.t <= c.at + 1_000 && r.t >= c.after - 1_000);
      const rec = [...candidates].reverse().find((r) => r.pskFp === c.fp) ?? [...records].reverse().find((r) => r.t <= c.at + 50);
      if (!rec) {
        problems.push(`${site}: no record of the inputs of ${c.fp}`);
        continue;
      }
      if (rec.kind === 'random') {
        rows.push({ site, installed: c.fp, kind: 'random', keyId: rec.keyId });
        problems.push(`${site}: ${c.fp} is a fail-closed random PSK, not a derivation`);
        continue;
      }
      const expected = expectedPsk({ mode: rec.kind as PskMode, kmsKey: rec.kmsKey, pqc: rec.pqc === undefined ? undefined : new Uint8Array(Buffer.from(rec.pqc, 'base64')) });
      rows.push({ site, installed: c.fp, expected: expected.fingerprint, kind: rec.kind, keyId: rec.keyId, kms: rec.kmsFp, pqc: rec.pqcFp });
      if (expected.fingerprint !== c.fp) problems.push(`${site}: installed ${c.fp}, the ${rec.kind} derivation of key ${rec.keyId} gives ${expected.fingerprint}`);
    }
  }
  if (!rows.length && !problems.length) problems.push('no PSK was installed during the run');
  return verdict('wg/4', problems, `${rows.length} installed PSKs equal the derivation recomputed by src/psk`, { installs: rows });
}

/** wg/5: both sites derive each rotation from the same KMS key and the same, fresh (not stale) PQC key. */
export function sameFreshInputs(run: E2eRun): Verdict {
  if (!run.agent) return verdict('wg/5', [], '', {}, 'the key-control agents record no inputs (an external agent)');
  const [a, b] = run.sites;
  const problems: string[] = [];
  const rows: Array<Record<string, unknown>> = [];
  const byKey = new Map<string, Record<string, (typeof run.agent)[string][number]>>();
  for (const site of run.sites) for (const r of run.agent[site] ?? []) if (r.keyId) byKey.set(r.keyId, { ...byKey.get(r.keyId), [site]: r });
  for (const [keyId, recs] of byKey) {
    const ra = recs[a];
    const rb = recs[b];
    const stale = run.sites.flatMap((site) => {
      const rec = recs[site];
      const events = run.pqc?.[site];
      if (!rec?.pqcFp || !events) return [];
      const latest = [...events].reverse().find((e) => e.t <= rec.t);
      return latest?.why === 'stale' ? [`${site} mixed in a stale PQC key (${rec.pqcFp}, expired at ${new Date(latest.t).toISOString()})`] : [];
    });
    rows.push({ keyId, [`${a}.kms`]: ra?.kmsFp, [`${b}.kms`]: rb?.kmsFp, [`${a}.pqc`]: ra?.pqcFp, [`${b}.pqc`]: rb?.pqcFp, stale });
    problems.push(...stale.map((x) => `key ${keyId}: ${x}`));
    if (!ra || !rb) continue;
    if (ra.kmsFp !== rb.kmsFp) problems.push(`key ${keyId}: the KMS key differs (${a} ${ra.kmsFp}, ${b} ${rb.kmsFp})`);
    if ((ra.pqcFp || rb.pqcFp) && ra.pqcFp !== rb.pqcFp) problems.push(`key ${keyId}: the PQC key differs (${a} ${ra.pqcFp ?? 'none'}, ${b} ${rb.pqcFp ?? 'none'})`);
  }
  if (!byKey.size) problems.push('no key was used during the run');
  return verdict('wg/5', problems, `${byKey.size} rotations used the same KMS key and the same fresh PQC key on both sites`, { keys: rows });
}

/** wg/6: after each rotation a handshake completes on both sites and the probe gets through. */
export function handshakeAndTraffic(run: E2eRun): Verdict {
  const bound = handshakeBoundMs(run);
  const problems: string[] = [];
  const rows: Array<Record<string, unknown>> = [];
  const hasProbe = run.sites.every((site) => run.probes[site]);
  for (const r of rotations(run)) {
    const ref = r.end ?? r.start;
    const deadline = r.start + bound;
    const hs = run.sites.map((site) => handshakeAfter(run, site, ref));
    const done = hs.every((h) => h && h.at <= deadline);
    if (!done && deadline > run.endedAt) continue; // not judged yet
    const hsAt = done ? Math.max(...hs.map((h) => h!.at)) : null;
    const up = hsAt !== null && hasProbe ? run.sites.map((site) => probeUpAfter(run, site, hsAt)) : [];
    const traffic = !hasProbe || (up.length > 0 && up.every((u) => u !== null && u <= Math.max(deadline, hsAt! + run.config.probeTimeoutMs + 500)));
    rows.push({ rotation: r.index, paired: r.end !== null, handshakeAfterS: hsAt === null ? null : (hsAt - ref) / 1000, trafficAfter: traffic });
    if (r.end === null) problems.push(`rotation ${r.index} (${r.fp}) reached only ${run.sites.filter((x) => r.at[x] !== null).join(' and ')}`);
    if (!done) problems.push(`rotation ${r.index}: no completed handshake on both sites within ${s(bound)}`);
    else if (!traffic) problems.push(`rotation ${r.index}: the probe did not get through after the handshake`);
  }
  if (!rows.length) problems.push('no rotation could be judged');
  return verdict('wg/6', problems, `after each of ${rows.length} rotations a handshake completed on both sites and the probe got through`, { rotations: rows, boundS: bound / 1000, probe: hasProbe });
}

/** Gaps between PSK changes (observation start → first, between rotations, last → end). */
function gaps(run: E2eRun): number[] {
  const starts = rotations(run).map((r) => r.start);
  const points = [run.startedAt, ...starts, run.endedAt];
  return points.slice(1).map((t, i) => t - points[i]!);
}

/** wg/7: a new PSK at least every REKEY_AFTER_TIME (configured interval and observed gaps). */
export function intervalWithinRekey(run: E2eRun): Verdict {
  const tol = 2_000 + run.config.pollMs;
  const g = gaps(run);
  const problems: string[] = [];
  if (run.config.intervalMs !== undefined && run.config.intervalMs > WG_TIMERS.rekeyAfterMs) problems.push(`the key-control interval (${s(run.config.intervalMs)}) exceeds REKEY_AFTER_TIME (120 s)`);
  const long = g.filter((x) => x > WG_TIMERS.rekeyAfterMs + tol);
  if (long.length) problems.push(`${long.length} gaps without a new PSK longer than REKEY_AFTER_TIME (longest ${s(Math.max(...long))})`);
  return verdict('wg/7', problems, `longest gap between new PSKs ${s(Math.max(...g))} ≤ REKEY_AFTER_TIME`, { gapsS: g.map((x) => x / 1000), intervalS: run.config.intervalMs === undefined ? null : run.config.intervalMs / 1000 });
}

/** wg/8: rotations keep the configured INTERVAL (no missed turn). */
export function rotationsKeepInterval(run: E2eRun): Verdict {
  if (run.config.intervalMs === undefined) return verdict('wg/8', [], '', {}, 'the key-control interval of the target is not known (give QKD_E2E_INTERVAL)');
  const bound = run.config.intervalMs * 1.5 + 1_000 + run.config.pollMs;
  const g = gaps(run).slice(0, -1); // the time after the last rotation is judged by wg/7
  const problems = g.filter((x) => x > bound).map((x) => `a gap of ${s(x)} without a new PSK (bound ${s(bound)})`);
  if (!rotations(run).length) problems.push('no rotation observed');
  return verdict('wg/8', problems, `every gap ≤ ${s(bound)} (INTERVAL ${s(run.config.intervalMs)})`, { gapsS: g.map((x) => x / 1000), boundS: bound / 1000 });
}

/** wg/9: both sites install each new PSK within the skew bound of each other. */
export function rotationSkew(run: E2eRun): Verdict {
  const rots = settled(run);
  const problems: string[] = [];
  const skews: number[] = [];
  const rows = rots.map((r) => {
    // The built-in agent's install times are exact; polling is ±pollMs.
    const exact = run.agent ? run.sites.map((site) => run.agent![site]?.find((x) => x.pskFp === r.fp)?.t) : [];
    const skew = exact.length && exact.every((t) => t !== undefined) ? Math.max(...(exact as number[])) - Math.min(...(exact as number[])) : r.skewMs;
    if (skew === null) problems.push(`rotation ${r.index} (${r.fp}) never reached ${run.sites.filter((x) => r.at[x] === null).join(' and ')}`);
    else {
      skews.push(skew);
      if (skew > run.config.skewBoundMs) problems.push(`rotation ${r.index}: the sites changed ${s(skew)} apart (bound ${s(run.config.skewBoundMs)})`);
    }
    return { rotation: r.index, skewMs: skew, source: exact.length && exact.every((t) => t !== undefined) ? 'agent' : 'polling' };
  });
  if (!rots.length) problems.push('no rotation observed');
  return verdict('wg/9', problems, `skew p50 ${percentile(skews, 50)} ms, max ${skews.length ? Math.max(...skews) : null} ms ≤ ${run.config.skewBoundMs} ms`, { rotations: rows, p50Ms: percentile(skews, 50), maxMs: skews.length ? Math.max(...skews) : null, boundMs: run.config.skewBoundMs });
}

/** wg/10: the first handshake after each rotation completes within REKEY_AFTER_TIME + REKEY_TIMEOUT. */
export function handshakeLatency(run: E2eRun): Verdict {
  const bound = handshakeBoundMs(run);
  const rows: Array<{ rotation: number; latencyMs: number | null }> = [];
  const problems: string[] = [];
  for (const r of rotations(run).filter((x) => x.end !== null)) {
    const hs = run.sites.map((site) => handshakeAfter(run, site, r.end!));
    const latency = hs.every(Boolean) ? Math.max(...hs.map((h) => h!.at)) - r.end! : null;
    if (latency === null && r.end! + bound > run.endedAt) continue;
    rows.push({ rotation: r.index, latencyMs: latency });
    if (latency === null || latency > bound) problems.push(`rotation ${r.index}: ${latency === null ? 'no handshake' : `handshake after ${s(latency)}`} (bound ${s(bound)})`);
  }
  if (!rows.length) problems.push('no rotation could be judged');
  const l = rows.map((x) => x.latencyMs).filter((x): x is number => x !== null);
  return verdict('wg/10', problems, `handshake latency after rotation p50 ${percentile(l, 50)} ms, max ${l.length ? Math.max(...l) : null} ms ≤ ${bound} ms (${run.config.handshakes})`, { rotations: rows, boundMs: bound, handshakes: run.config.handshakes });
}

/** Probe outage (max over sites) around each rotation after the tunnel first came up. */
export function outagesPerRotation(run: E2eRun): Array<{ rotation: number; outageMs: number }> {
  const up = firstUp(run);
  if (up === null) return [];
  const rots = rotations(run).filter((r) => r.start > up);
  return rots.map((r, i) => {
    const to = rots[i + 1]?.start ?? run.endedAt;
    return { rotation: r.index, outageMs: Math.max(...run.sites.map((site) => outageWithin(run, site, r.start - 1_000, to))) };
  });
}

/** wg/11: probe outages around rotations are bounded (p50 and max). */
export function rotationOutages(run: E2eRun): Verdict {
  if (!run.sites.every((site) => run.probes[site])) return verdict('wg/11', [], '', {}, 'no probe (the target profile has no sites.<site>.probe)');
  const rows = outagesPerRotation(run);
  const o = rows.map((x) => x.outageMs);
  const problems = rows.filter((x) => x.outageMs > run.config.outageBoundMs).map((x) => `rotation ${x.rotation}: the probe was down ${s(x.outageMs)} (bound ${s(run.config.outageBoundMs)})`);
  if (firstUp(run) === null) problems.push('the tunnel never carried traffic');
  else if (!rows.length) problems.push('no rotation after the tunnel came up');
  return verdict('wg/11', problems, `outage per rotation p50 ${percentile(o, 50)} ms, max ${o.length ? Math.max(...o) : null} ms ≤ ${run.config.outageBoundMs} ms`, { rotations: rows, p50Ms: percentile(o, 50), maxMs: o.length ? Math.max(...o) : null, boundMs: run.config.outageBoundMs, loss: Object.fromEntries(run.sites.map((x) => [x, run.probes[x]?.loss])) });
}

/**
 * wg/13 (measurement): from the first rotation at or after `from` that left the sites disagreeing or the
 * tunnel down, how long until both hold the same PSK and the probe gets through again.
 */
export function recovery(run: E2eRun, from: number): { brokeAt: number | null; recoveredAt: number | null; recoveryMs: number | null } {
  const [a, b] = run.sites;
  const settle = run.config.skewBoundMs + run.config.pollMs;
  const broke = rotations(run).find((r) => r.start >= from && (fpAt(run, a, r.start + settle) !== fpAt(run, b, r.start + settle) || run.sites.some((x) => (run.probes[x]?.outages ?? []).some((o) => o.from <= r.start + settle + 1_000 && (o.to === null || o.to > r.start + settle)))));
  if (!broke) return { brokeAt: null, recoveredAt: null, recoveryMs: null };
  const candidates = [...rotations(run).filter((r) => r.start > broke.start).map((r) => r.end ?? r.start), ...run.sites.flatMap((x) => (run.probes[x]?.outages ?? []).map((o) => o.to ?? Infinity))].filter((t) => t > broke.start && t < Infinity).sort((x, y) => x - y);
  for (const t of candidates) {
    const agree = fpAt(run, a, t) === fpAt(run, b, t);
    const ups = run.sites.map((x) => probeUpAfter(run, x, t));
    if (agree && ups.every((u) => u !== null)) {
      const at = Math.max(t, ...(ups as number[]));
      return { brokeAt: broke.start, recoveredAt: at, recoveryMs: at - broke.start };
    }
  }
  return { brokeAt: broke.start, recoveredAt: null, recoveryMs: null };
}

// ─── Environmental faults (wg/15 … wg/21) ────────────────────────────────────────────────────────────
// Judged from the observation of the two sites plus the fault windows the suite injected
// (src/lab/env-faults.ts), so they hold for any key control. A check that saw nothing — no window, no
// sample in it, no rotation where one was needed, an observation that ended too early — is `error`
// with the reason, never a pass.

/** A fault window as the checks need it (src/lab/env-faults.ts EnvFaultWindow). */
export interface FaultWindow {
  name: string;
  site: string;
  startedAt: number;
  endedAt?: number;
  detail?: string;
  pskFingerprint?: string;
  /** psk-overwrite: fingerprint read back in the same shell right after the set. */
  pskReadBack?: string;
  decoyPublicKey?: string;
}

/** What the suite itself read from a site during a window (wg/19: the overwritten PSK; wg/20: the decoy peer). */
export interface PeerSample {
  at: number;
  site: string;
  peer: string;
  /** Fingerprint of the peer's PSK, or `(none)`. */
  fp: string;
}

export interface EnvCheckOptions {
  /** Arnika MODE of the key controls (default AtLeastQkdRequired). */
  mode?: string;
  /** How long a key control may take to give up on a KMS call in flight when the fault ends (KMS_HTTP_TIMEOUT + the longest back-off). */
  kmsGiveUpMs?: number;
  /** Judge only what happened before this time (the next fault of the same lab starts then); default the run's end. */
  until?: number;
  /** The suite's own reads of the sites during the window. */
  samples?: PeerSample[];
}

const PQC_REQUIRED = new Set(['QkdAndPqcRequired', 'AtLeastPqcRequired']);

const envError = (id: string, why: string, evidence: Record<string, unknown> = {}): Verdict => ({ id, outcome: 'error', summary: why, evidence });

/** After a fault window: two INTERVALs (the next turns of both sites) + the KMS give-up time + 5 s (handshake, probe, polling). */
export function envRecoveryBoundMs(run: E2eRun, kmsGiveUpMs = 0): number {
  return 2 * (run.config.intervalMs ?? 10_000) + kmsGiveUpMs + 5_000;
}

/** The window of `names` (the first that ended), or why the check cannot judge. */
function findWindow(windows: FaultWindow[], names: string[]): FaultWindow | string {
  const w = windows.filter((x) => names.includes(x.name));
  if (!w.length) return `no ${names.join(' or ')} window was injected in this run`;
  const ended = w.find((x) => x.endedAt !== undefined);
  return ended ?? `the ${names.join(' or ')} window never ended (${w[0]!.detail ?? ''})`;
}

/** Polls of `site` the observer completed within [from, to): proof it was looking. */
function samplesWithin(run: E2eRun, site: string, from: number, to: number): number {
  return (run.series[site]?.traffic ?? []).filter((t) => t.at >= from && t.at < to).length;
}

/** Why the observation cannot speak for [from, to), or undefined. */
function blindness(run: E2eRun, from: number, to: number): string | undefined {
  const blind = run.sites.filter((site) => samplesWithin(run, site, from, to) === 0);
  if (blind.length) return `the observer has no sample of ${blind.join(' and ')} between ${new Date(from).toISOString()} and ${new Date(to).toISOString()}`;
  if (run.startedAt > from) return 'the observation started after the fault window';
  return undefined;
}

/**
 * Rotations that began in [from, to) and reached one site only: the other never showed that PSK, or only
 * an INTERVAL or more later (a catch-up, not the same rotation). A slow second install is wg/9's business.
 */
function oneSidedWithin(run: E2eRun, from: number, to: number): Array<{ fp: string; at: string; reached: string[]; skewMs: number | null }> {
  const late = run.config.intervalMs ?? 10_000;
  return rotations(run)
    .filter((r) => r.start >= from && r.start < to)
    .filter((r) => r.skewMs === null || r.skewMs >= late)
    .map((r) => ({ fp: r.fp, at: new Date(r.start).toISOString(), reached: run.sites.filter((x) => r.at[x] !== null), skewMs: r.skewMs }));
}

/** Rotations that began in [from, to) and that both sites showed together (the same PSK on both at the later site's change). */
function agreedWithin(run: E2eRun, from: number, to: number): Rotation[] {
  const [a, b] = run.sites;
  return rotations(run).filter((r) => r.start >= from && r.start < to && r.end !== null && fpAt(run, a, r.end) === r.fp && fpAt(run, b, r.end) === r.fp);
}

export interface EnvRecovery {
  /** When the fault ended. */
  endedAt: number;
  /** First new PSK after the end that both sites held, with the probe through on both (ms), or null. */
  recoveredAt: number | null;
  recoveryMs: number | null;
  boundMs: number;
  /** Why it could not be judged (observation too short), when not recovered. */
  notJudged?: string;
}

/**
 * Recovery after a window: the first rotation that began after the window's end and reached both sites
 * (both showing it), then the probe answered on both sites; measured from the window's end.
 */
export function envRecovery(run: E2eRun, w: FaultWindow, o: EnvCheckOptions = {}): EnvRecovery {
  const endedAt = w.endedAt!;
  const until = Math.min(o.until ?? run.endedAt, run.endedAt);
  const boundMs = envRecoveryBoundMs(run, o.kmsGiveUpMs);
  for (const r of agreedWithin(run, endedAt, until)) {
    const ups = run.sites.map((site) => probeUpAfter(run, site, r.end!));
    if (ups.some((u) => u === null || u > until)) continue;
    const at = Math.max(r.end!, ...(ups as number[]));
    return { endedAt, recoveredAt: at, recoveryMs: at - endedAt, boundMs };
  }
  const notJudged = until < endedAt + boundMs ? `the observation ended ${s(until - endedAt)} after the fault (the bound is ${s(boundMs)})` : undefined;
  return { endedAt, recoveredAt: null, recoveryMs: null, boundMs, ...(notJudged ? { notJudged } : {}) };
}

/** The common shape of wg/15–wg/18: optionally no one-sided rotation during the window, then recovery within the bound. */
function windowAndRecovery(id: string, run: E2eRun, windows: FaultWindow[], names: string[], o: EnvCheckOptions, inStep: boolean, what: string): Verdict {
  const w = findWindow(windows, names);
  if (typeof w === 'string') return envError(id, w);
  const until = Math.min(o.until ?? run.endedAt, run.endedAt);
  const blind = blindness(run, w.startedAt, Math.min(until, w.endedAt! + 1_000));
  if (blind) return envError(id, blind, { window: w });
  const settle = run.config.skewBoundMs + run.config.pollMs;
  if (until < w.endedAt! + settle) return envError(id, `the observation ended ${s(until - w.endedAt!)} after ${w.name} ended, before the sites could settle (${s(settle)})`, { window: w });
  const oneSided = oneSidedWithin(run, w.startedAt, w.endedAt!);
  const rec = envRecovery(run, w, o);
  const evidence = {
    window: { ...w, lengthS: (w.endedAt! - w.startedAt) / 1000 },
    mode: o.mode ?? 'AtLeastQkdRequired',
    rotationsInWindow: rotations(run).filter((r) => r.start >= w.startedAt && r.start < w.endedAt!).map((r) => ({ fp: r.fp, at: new Date(r.start).toISOString(), reached: run.sites.filter((x) => r.at[x] !== null), skewMs: r.skewMs })),
    oneSidedInWindow: oneSided,
    judgedInWindow: inStep,
    recoveryS: rec.recoveryMs === null ? null : rec.recoveryMs / 1000,
    boundS: rec.boundMs / 1000,
  };
  const problems: string[] = [];
  if (inStep) problems.push(...oneSided.map((x) => `during ${w.name} on ${w.site} a new PSK (${x.fp}) reached ${x.reached.join(' and ') || 'no site'} only${x.skewMs !== null ? ` (${s(x.skewMs)} apart)` : ''}`));
  if (rec.recoveryMs === null) {
    if (rec.notJudged && !problems.length) return envError(id, `${what}: no recovery seen yet and ${rec.notJudged}`, evidence);
    if (!rec.notJudged) problems.push(`no new PSK held by both sites with traffic through within ${s(rec.boundMs)} after ${w.name} ended`);
  } else if (rec.recoveryMs > rec.boundMs) problems.push(`both sites agreed with traffic through only ${s(rec.recoveryMs)} after ${w.name} ended (bound ${s(rec.boundMs)})`);
  return verdict(id, problems, `${what}: ${inStep ? 'no one-sided rotation during the window; ' : ''}both sites agreed on a new PSK with traffic ${s(rec.recoveryMs)} after it ended (bound ${s(rec.boundMs)})`, evidence);
}

/** wg/15: kms-hang — the key control gives up on a hung KMS and rotates in step again after the window. */
export function kmsHangRecovery(run: E2eRun, windows: FaultWindow[], o: EnvCheckOptions = {}): Verdict {
  return windowAndRecovery('wg/15', run, windows, ['kms-hang'], o, false, 'hung KMS');
}

/** wg/16: kms-refuse — the key control tries again and rotates in step once the KMS is back. */
export function kmsRefuseRecovery(run: E2eRun, windows: FaultWindow[], o: EnvCheckOptions = {}): Verdict {
  return windowAndRecovery('wg/16', run, windows, ['kms-refuse'], o, false, 'refused KMS');
}

/** wg/17: kms-503 on the master — no one-sided rotation during the window, in step after it. */
export function kmsEmptyPool(run: E2eRun, windows: FaultWindow[], o: EnvCheckOptions = {}): Verdict {
  return windowAndRecovery('wg/17', run, windows, ['kms-503'], o, true, 'empty key pool');
}

/** wg/18: underlay-cut — no PSK installed without the peer's ACK during the cut, in step after it. */
export function underlayCut(run: E2eRun, windows: FaultWindow[], o: EnvCheckOptions = {}): Verdict {
  return windowAndRecovery('wg/18', run, windows, ['underlay-cut'], o, true, 'underlay cut');
}

/** The SHOULD bound of wg/19 (ms). */
export const PSK_RESTORE_BOUND_MS = 5_000;

/** wg/19: an overwritten PSK is replaced within 5 s (both sites agree again, traffic flows); the overwrite must have been seen. */
export function pskOverwriteRestored(run: E2eRun, windows: FaultWindow[], o: EnvCheckOptions = {}): Verdict {
  const id = 'wg/19';
  const w = findWindow(windows, ['psk-overwrite']);
  if (typeof w === 'string') return envError(id, w);
  if (!w.pskFingerprint) return envError(id, 'the psk-overwrite window carries no fingerprint of the PSK it set', { window: w });
  const site = w.site;
  const other = run.sites.find((x) => x !== site)!;
  const until = Math.min(o.until ?? run.endedAt, run.endedAt);
  // Seen by the observer's polling, or by the suite's own reads around the overwrite. The foreign PSK is a
  // fresh random key, so any sighting is the overwrite (the window's start is recorded after \`wg set\`
  // returned, on a loaded machine a second or more after the key control could see it).
  const polled = run.series[site]?.changes.find((c) => c.fp === w.pskFingerprint);
  const read = o.samples?.find((x) => x.site === site && x.fp === w.pskFingerprint);
  // Or read back by the injector in the same shell as the set (before a 1 s watch can undo it).
  const readBack = w.pskReadBack === w.pskFingerprint ? w.startedAt : undefined;
  const seenAt = polled?.at ?? read?.at ?? readBack;
  const evidence: Record<string, unknown> = { window: w, seenBy: polled ? 'observer' : read ? 'suite read' : readBack ? 'read back after the set' : null, seenAt: seenAt && new Date(seenAt).toISOString(), boundS: PSK_RESTORE_BOUND_MS / 1000 };
  if (seenAt === undefined) return envError(id, `the overwritten PSK ${w.pskFingerprint} was never seen on ${site}: the instrument was blind to the fault (too slow a poll, or the overwrite did not take)`, evidence);
  // First time, after the overwrite, both sites hold the same PSK other than the foreign one.
  // Every poll of either site from then on (a restore faster than one poll shows at the next poll).
  const points = [...new Set(run.sites.flatMap((x) => [...run.series[x]!.changes.map((c) => c.at), ...run.series[x]!.traffic.map((t) => t.at)]).filter((t) => t >= seenAt && t <= until))].sort((p, q) => p - q);
  const agreedAt = points.find((t) => fpAt(run, site, t) !== w.pskFingerprint && fpAt(run, site, t) === fpAt(run, other, t));
  const pollSlack = run.config.pollMs;
  if (agreedAt === undefined) {
    if (until < Math.min(w.startedAt, seenAt) + PSK_RESTORE_BOUND_MS + pollSlack) return envError(id, `the observation ended ${s(until - w.startedAt)} after the overwrite, before the ${s(PSK_RESTORE_BOUND_MS)} bound`, evidence);
    return verdict(id, [`${site} kept the foreign PSK ${w.pskFingerprint} (or disagreed with ${other}) until the end of the observation, ${s(until - w.startedAt)} after the overwrite`], '', evidence);
  }
  const restoreMs = agreedAt - Math.min(w.startedAt, seenAt);
  evidence.restoreS = restoreMs / 1000;
  evidence.restoredTo = fpAt(run, site, agreedAt);
  const problems: string[] = [];
  if (restoreMs > PSK_RESTORE_BOUND_MS + pollSlack) problems.push(`both sites held the same PSK again only ${s(restoreMs)} after the overwrite on ${site} (bound ${s(PSK_RESTORE_BOUND_MS)})`);
  const hsBound = handshakeBoundMs(run);
  const ups = run.sites.map((x) => probeUpAfter(run, x, agreedAt));
  evidence.trafficAfterS = ups.every((u) => u !== null) ? (Math.max(...(ups as number[])) - agreedAt) / 1000 : null;
  if (ups.some((u) => u === null || u > agreedAt + hsBound)) {
    if (until < agreedAt + hsBound && !problems.length) return envError(id, `the observation ended before traffic could be judged after the restore (${s(until - agreedAt)} < ${s(hsBound)})`, evidence);
    problems.push(`the probe did not get through within ${s(hsBound)} after the PSKs agreed again`);
  }
  return verdict(id, problems, `the foreign PSK on ${site} was replaced ${s(restoreMs)} after the overwrite (bound ${s(PSK_RESTORE_BOUND_MS)}); traffic flowed`, evidence);
}

/** wg/20: the decoy peer never holds a PSK, and the real peer rotates in step while it is there. */
export function decoyPeerUntouched(run: E2eRun, windows: FaultWindow[], o: EnvCheckOptions = {}): Verdict {
  const id = 'wg/20';
  const w = findWindow(windows, ['decoy-peer']);
  if (typeof w === 'string') return envError(id, w);
  if (!w.decoyPublicKey) return envError(id, 'the decoy-peer window carries no public key of the decoy', { window: w });
  const decoy = (o.samples ?? []).filter((x) => x.peer === w.decoyPublicKey && x.at >= w.startedAt && x.at <= w.endedAt!);
  const interval = run.config.intervalMs ?? 10_000;
  const evidence: Record<string, unknown> = { window: w, decoySamples: decoy.length, decoyPsks: [...new Set(decoy.map((x) => x.fp))] };
  if (!decoy.length) return envError(id, `the suite never read the decoy peer ${w.decoyPublicKey} on ${w.site} during its window: nothing to judge`, evidence);
  if (w.endedAt! - w.startedAt < interval) return envError(id, `the decoy window (${s(w.endedAt! - w.startedAt)}) is shorter than one INTERVAL (${s(interval)}): no rotation to judge`, evidence);
  const blind = blindness(run, w.startedAt, w.endedAt!);
  if (blind) return envError(id, blind, evidence);
  const problems: string[] = [];
  const given = decoy.filter((x) => x.fp !== '(none)');
  if (given.length) problems.push(`the decoy peer on ${w.site} was given a PSK (${[...new Set(given.map((x) => x.fp))].join(', ')}) at ${new Date(given[0]!.at).toISOString()}`);
  const agreed = agreedWithin(run, w.startedAt, w.endedAt!);
  const oneSided = oneSidedWithin(run, w.startedAt, w.endedAt!);
  evidence.agreedRotations = agreed.map((r) => r.fp);
  evidence.oneSided = oneSided;
  if (!agreed.length) problems.push(`the real peer did not rotate in step while the decoy was there (${s(w.endedAt! - w.startedAt)})`);
  problems.push(...oneSided.map((x) => `while the decoy was there a new PSK (${x.fp}) reached ${x.reached.join(' and ') || 'no site'} only`));
  return verdict(id, problems, `the decoy showed (none) in ${decoy.length} reads; the real peer rotated in step ${agreed.length} time(s) meanwhile`, evidence);
}

/** wg/21: pqc-stale — no agreed new PSK while the key is stale where MODE requires PQC; pqc-stop — in step; both recover after the window. */
export function pqcFailure(run: E2eRun, windows: FaultWindow[], o: EnvCheckOptions = {}): Verdict {
  const id = 'wg/21';
  const mode = o.mode ?? 'AtLeastQkdRequired';
  const ws = windows.filter((x) => x.name === 'pqc-stale' || x.name === 'pqc-stop');
  if (!ws.length) return envError(id, 'no pqc-stale or pqc-stop window was injected in this run');
  if (ws.some((w) => w.endedAt === undefined)) return envError(id, 'a PQC fault window never ended');
  const problems: string[] = [];
  const rows: Array<Record<string, unknown>> = [];
  const interval = run.config.intervalMs ?? 10_000;
  for (const w of ws) {
    const until = Math.min(o.until ?? run.endedAt, run.endedAt, ...ws.filter((x) => x.startedAt > w.startedAt).map((x) => x.startedAt));
    const blind = blindness(run, w.startedAt, Math.min(until, w.endedAt!));
    if (blind) return envError(id, `${w.name}: ${blind}`, { windows: ws });
    const inWindow = rotations(run).filter((r) => r.start >= w.startedAt && r.start < w.endedAt!);
    const agreed = agreedWithin(run, w.startedAt, w.endedAt!);
    const rec = envRecovery(run, w, { ...o, until });
    const row: Record<string, unknown> = { window: w, rotations: inWindow.length, agreed: agreed.map((r) => r.fp), recoveryS: rec.recoveryMs === null ? null : rec.recoveryMs / 1000, boundS: rec.boundMs / 1000 };
    rows.push(row);
    if (!inWindow.length) return envError(id, `${w.name} on ${w.site}: no rotation during its window (${s(w.endedAt! - w.startedAt)}, INTERVAL ${s(interval)}): nothing to judge`, { windows: rows });
    if (w.name === 'pqc-stale') {
      const staleSeen = run.pqc?.[w.site]?.find((e) => e.why === 'stale' && e.t >= w.startedAt - 2_000 && e.t <= w.endedAt!);
      row.staleKey = staleSeen?.fp ?? null;
      if (!staleSeen) return envError(id, `pqc-stale on ${w.site}: the PQC emulator's events show no stale key in the window (the fault did not take, or its events are not read)`, { windows: rows });
      if (PQC_REQUIRED.has(mode) && agreed.length) problems.push(`MODE ${mode}: both sites agreed on ${agreed.length} new PSK(s) (${agreed.map((r) => r.fp).join(', ')}) while the PQC key of ${w.site} was stale — the stale key was not used (a cached PQC key?)`);
    } else {
      const oneSided = oneSidedWithin(run, w.startedAt, w.endedAt!);
      problems.push(...oneSided.map((x) => `during pqc-stop on ${w.site} a new PSK (${x.fp}) reached ${x.reached.join(' and ') || 'no site'} only`));
    }
    if (rec.recoveryMs === null) {
      if (rec.notJudged) {
        if (!problems.length) return envError(id, `${w.name}: no recovery seen yet and ${rec.notJudged}`, { windows: rows });
        continue;
      }
      problems.push(`${w.name}: no new PSK held by both sites with traffic through within ${s(rec.boundMs)} after the window`);
    } else if (rec.recoveryMs > rec.boundMs) problems.push(`${w.name}: recovered only ${s(rec.recoveryMs)} after the window (bound ${s(rec.boundMs)})`);
  }
  return verdict(id, problems, `MODE ${mode}: ${rows.map((r) => `${(r.window as FaultWindow).name} recovered after ${r.recoveryS} s`).join(', ')}`, { mode, windows: rows });
}
