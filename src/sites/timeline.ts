// One end-to-end observation of two sites, and what is derived from it: rotations (a new PSK appearing
// on the sites), their skew, handshakes and probe outages around them. Fingerprints only — except the
// lab agent's observations, which carry the key inputs for the expected-PSK check and stay in memory.
import type { ProbeReport } from '../lab/probe.ts';
import type { HandshakeSeen, SiteSeries } from './observer.ts';
import type { OpenedObservation } from '../../mocks/keyctl/agent.ts';

/** WireGuard's timers (wireguard-go and the kernel agree), ms. */
export const WG_TIMERS = { rekeyAfterMs: 120_000, rejectAfterMs: 180_000, rekeyTimeoutMs: 5_000, rekeyTimeoutJitterMs: 334 } as const;

/** What the built-in agent records per installation (its lab-private observation log). */
export type AgentRecord = Omit<OpenedObservation, 'faults'>;

export interface PqcRecord {
  t: number;
  epoch: number;
  why: 'exchanged' | 'stale';
  fp: string;
}

export interface RunConfig {
  /** Configured key-control interval when known (lab, or given for a target). */
  intervalMs?: number;
  /** `forced`: the lab expires sessions after each rotation (rekey brought forward); `natural`: WireGuard's own timers. */
  handshakes: 'forced' | 'natural';
  /** Two sites' installs of one PSK may be at most this far apart. */
  skewBoundMs: number;
  /** Longest probe outage tolerated around a rotation. */
  outageBoundMs: number;
  pollMs: number;
  /** Probe datagram timeout (a reply later than this is a loss). */
  probeTimeoutMs: number;
}

export interface E2eRun {
  sites: [string, string];
  startedAt: number;
  endedAt: number;
  series: Record<string, SiteSeries>;
  probes: Record<string, ProbeReport | undefined>;
  agent?: Record<string, AgentRecord[]>;
  pqc?: Record<string, PqcRecord[]>;
  forced: Array<{ at: number; agreed: boolean }>;
  config: RunConfig;
  /** Faults injected (lab only), for the report. */
  faults?: Record<string, unknown>;
  /** When the lab started the fault windows (lab only). */
  faultInjectedAt?: number;
}

export interface Rotation {
  index: number;
  fp: string;
  /** When each site first showed this PSK (null: never). */
  at: Record<string, number | null>;
  start: number;
  /** When the last site showed it (null when one never did). */
  end: number | null;
  skewMs: number | null;
}

/** Every PSK that appeared during the run (not the ones the sites started with), in order. */
export function rotations(run: E2eRun): Rotation[] {
  const firstSeen = new Map<string, Record<string, number | null>>();
  for (const site of run.sites) {
    for (const c of run.series[site]!.changes) {
      if (c.fp === '(none)') continue;
      const e = firstSeen.get(c.fp) ?? Object.fromEntries(run.sites.map((s) => [s, null]));
      if (e[site] === null) e[site] = c.at;
      firstSeen.set(c.fp, e);
    }
  }
  const initial = new Set(run.sites.map((s) => run.series[s]!.initial));
  return [...firstSeen.entries()]
    .filter(([fp]) => !initial.has(fp))
    .map(([fp, at]) => {
      const times = Object.values(at).filter((t): t is number => t !== null);
      const both = times.length === run.sites.length;
      return { index: 0, fp, at, start: Math.min(...times), end: both ? Math.max(...times) : null, skewMs: both ? Math.max(...times) - Math.min(...times) : null };
    })
    .sort((a, b) => a.start - b.start)
    .map((r, i) => ({ ...r, index: i + 1 }));
}

/** Outage time (ms) of the probe of `site` within [from, to). */
export function outageWithin(run: E2eRun, site: string, from: number, to: number): number {
  const p = run.probes[site];
  if (!p) return 0;
  let total = 0;
  for (const o of p.outages) {
    const a = Math.max(o.from, from);
    const b = Math.min(o.to ?? run.endedAt, to);
    if (b > a) total += b - a;
  }
  return total;
}

/** First time after `t` that the probe of `site` has been answered (end of an outage, or t itself). */
export function probeUpAfter(run: E2eRun, site: string, t: number): number | null {
  const p = run.probes[site];
  if (!p) return null;
  const covering = p.outages.find((o) => o.from <= t && (o.to === null || o.to > t));
  if (!covering) return t;
  return covering.to;
}

/** The first handshake on `site` seen after `t` whose WireGuard timestamp is not before t's second. */
export function handshakeAfter(run: E2eRun, site: string, t: number): HandshakeSeen | undefined {
  return run.series[site]!.handshakes.find((h) => h.at > t && h.value * 1000 >= Math.floor(t / 1000) * 1000);
}

/** When the tunnel first carried traffic (probe answered on every site), if ever. */
export function firstUp(run: E2eRun): number | null {
  let latest = 0;
  for (const site of run.sites) {
    const p = run.probes[site];
    if (!p) return null;
    const first = p.outages[0];
    // The probe starts failing until the first rotation: the first outage's end is when it came up.
    const up = first && first.from <= run.startedAt + 2_000 ? first.to : run.startedAt;
    if (up === null) return null;
    latest = Math.max(latest, up);
  }
  return latest;
}

export function percentile(values: number[], p: number): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
