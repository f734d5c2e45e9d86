// Synthetic observations of the two lab sites for the checks' own tests (suites/e2e/*-checks.test.ts):
// each check must pass on a faithful timeline, fail on a faulty one, and never pass on none — without a lab.
import type { E2eRun } from '../../src/sites/timeline.ts';
import type { FaultWindow } from './checks.ts';

/** The synthetic run's start (epoch ms). */
export const T = 1_700_000_000_000;
export const at = (s: number) => T + s * 1000;

export interface Spec {
  /** Per site: [seconds, fingerprint] of each PSK change. */
  changes: { alice: Array<[number, string]>; bob: Array<[number, string]> };
  /** Per site: probe outages [from s, to s | null]. */
  outages?: { alice?: Array<[number, number | null]>; bob?: Array<[number, number | null]> };
  endS: number;
  /** Polls that completed (default: every 0.3 s over the whole run). */
  polled?: (s: number) => boolean;
  pqc?: E2eRun['pqc'];
  agent?: E2eRun['agent'];
  /** Per site: seconds of each completed handshake. */
  handshakes?: { alice?: number[]; bob?: number[] };
}

/** An observation of the two lab sites built from `o` (polls every 0.3 s, a 10 s interval, forced handshakes). */
export function run(o: Spec): E2eRun {
  const series = Object.fromEntries(
    (['alice', 'bob'] as const).map((site) => {
      const traffic = [];
      for (let t = 0; t <= o.endS; t += 0.3) if (!o.polled || o.polled(t)) traffic.push({ site, at: at(t), rx: 0, tx: 0 });
      let prev = `init-${site}`;
      const changes = o.changes[site].map(([t, fp]) => {
        const c = { site, at: at(t), after: at(t - 0.3), fp, prev };
        prev = fp;
        return c;
      });
      return [site, { initial: `init-${site}`, initialAt: T, changes, handshakes: (o.handshakes?.[site] ?? []).map((t) => ({ site, at: at(t), value: at(t) / 1000 })), traffic, samples: traffic.length, seen: {}, errors: [] }];
    }),
  );
  const probe = (list: Array<[number, number | null]> = []) => ({ sent: 1, ok: 1, lost: 0, late: 0, loss: 0, rttP50: 1, at: null, outages: list.map(([f, t]) => ({ from: at(f), to: t === null ? null : at(t), lost: 1 })) });
  return {
    sites: ['alice', 'bob'],
    startedAt: T,
    endedAt: at(o.endS),
    series,
    probes: { alice: probe(o.outages?.alice), bob: probe(o.outages?.bob) },
    pqc: o.pqc,
    agent: o.agent,
    forced: [],
    config: { intervalMs: 10_000, handshakes: 'forced', skewBoundMs: 2_000, outageBoundMs: 2_000, pollMs: 300, probeTimeoutMs: 1_000 },
  } as E2eRun;
}

export const win = (name: string, site: string, fromS: number, toS: number | undefined, extra: Partial<FaultWindow> = {}): FaultWindow => ({ name, site, startedAt: at(fromS), endedAt: toS === undefined ? undefined : at(toS), detail: 'synthetic', ...extra });

/** Rotations every 10 s on both sites (alice first, bob 0.1 s later), from `fromS` to `toS`. */
export const inStep = (fromS: number, toS: number, tag = 'k') => {
  const a: Array<[number, string]> = [];
  const b: Array<[number, string]> = [];
  for (let t = fromS; t <= toS; t += 10) {
    a.push([t, `${tag}${t}`]);
    b.push([t + 0.1, `${tag}${t}`]);
  }
  return { a, b };
};

