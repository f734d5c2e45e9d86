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
