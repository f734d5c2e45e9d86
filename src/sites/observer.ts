// Watches the WireGuard peer of each site through its driver: every PSK change (by fingerprint), every
// new handshake, rx/tx — the raw material of the end-to-end requirements. Each site is polled on its
// own loop, so a slow site does not blur the other's timing.
import { setTimeout as sleep } from 'node:timers/promises';
import type { SiteDriver } from './driver.ts';
import { samplePeer } from './wg.ts';
import { rotations, type E2eRun } from './timeline.ts';

export interface ObservedSite {
  name: string;
  driver: SiteDriver;
  iface: string;
  peer?: string;
}

export interface PskChange {
  site: string;
  /** When the new PSK was first seen (ms); it was installed after `after`. */
  at: number;
  after: number;
  fp: string;
  prev: string;
}

export interface HandshakeSeen {
  site: string;
  /** When the new latest-handshake value was first seen (ms). */
  at: number;
  /** WireGuard's latest-handshake (unix seconds). */
  value: number;
}

export interface TrafficSample {
  site: string;
  at: number;
  rx: number;
  tx: number;
}

export interface SiteSeries {
  initial: string;
  initialAt: number;
  changes: PskChange[];
  handshakes: HandshakeSeen[];
  traffic: TrafficSample[];
  samples: number;
  /** Every PSK fingerprint seen, also `(none)`, with the count of samples showing it. */
  seen: Record<string, number>;
  errors: string[];
}

export class Observer {
  readonly series: Record<string, SiteSeries> = {};
  private running = false;
  private loops: Promise<void>[] = [];
  private listeners: Array<(c: PskChange) => void> = [];
  startedAt = 0;
  stoppedAt = 0;

  constructor(
    readonly sites: ObservedSite[],
    readonly pollMs = 300,
  ) {}

  onChange(fn: (c: PskChange) => void): void {
    this.listeners.push(fn);
  }

  /** Takes the first sample of every site (throws when a site cannot be read), then polls. */
  async start(): Promise<void> {
    this.startedAt = Date.now();
    await Promise.all(
      this.sites.map(async (s) => {
        const first = await samplePeer(s.driver, s.iface, s.peer);
        this.series[s.name] = {
          initial: first.pskFingerprint,
          initialAt: first.at,
          changes: [],
          handshakes: first.latestHandshake ? [{ site: s.name, at: first.at, value: first.latestHandshake }] : [],
          traffic: [{ site: s.name, at: first.at, rx: first.rx, tx: first.tx }],
          samples: 1,
          seen: { [first.pskFingerprint]: 1 },
          errors: [],
        };
      }),
    );
    this.running = true;
    this.loops = this.sites.map((s) => this.loop(s));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.stoppedAt = Date.now();
  }

  current(site: string): string {
    const s = this.series[site]!;
    return s.changes.at(-1)?.fp ?? s.initial;
  }

  private async loop(site: ObservedSite): Promise<void> {
    const s = this.series[site.name]!;
    let lastAt = s.initialAt;
    let lastHs = s.handshakes.at(-1)?.value ?? 0;
    while (this.running) {
      const t0 = Date.now();
      try {
        const p = await samplePeer(site.driver, site.iface, site.peer, Math.max(2_000, this.pollMs * 4));
        s.samples++;
        s.seen[p.pskFingerprint] = (s.seen[p.pskFingerprint] ?? 0) + 1;
        const prev = this.current(site.name);
        if (p.pskFingerprint !== prev) {
          const c: PskChange = { site: site.name, at: p.at, after: lastAt, fp: p.pskFingerprint, prev };
          s.changes.push(c);
          for (const l of this.listeners) l(c);
        }
        if (p.latestHandshake !== lastHs && p.latestHandshake !== 0) {
          s.handshakes.push({ site: site.name, at: p.at, value: p.latestHandshake });
          lastHs = p.latestHandshake;
        }
        s.traffic.push({ site: site.name, at: p.at, rx: p.rx, tx: p.tx });
        if (s.traffic.length > 20_000) s.traffic.splice(0, s.traffic.length - 20_000);
        lastAt = p.at;
      } catch (err) {
        if (s.errors.length < 50) s.errors.push(`${new Date().toISOString()} ${err instanceof Error ? err.message : String(err)}`);
      }
      await sleep(Math.max(0, this.pollMs - (Date.now() - t0)));
    }
  }
}

/**
 * When an observation of `want` rotations has seen enough (ms timestamp), or null: the want-th rotation
 * reached every site, every site showed a handshake after it, and `afterHandshakeMs` (to see traffic
 * return) and `settleMs` after the rotation (the checks' skew settle) have passed. Watching on for a
 * fixed tail instead counts every rotation that falls into it (`--rotations 1` used to observe 7 with
 * natural handshakes: a 125 s tail at a 20 s interval).
 */
export function observedEnough(series: Record<string, SiteSeries>, sites: readonly string[], want: number, o: { settleMs: number; afterHandshakeMs: number }): number | null {
  const r = rotations({ sites: [...sites], series } as unknown as E2eRun)[want - 1];
  if (!r || r.end === null) return null;
  const end = r.end;
  const hs = sites.map((site) => series[site]!.handshakes.find((h) => h.at > end)?.at);
  if (hs.some((t) => t === undefined)) return null;
  return Math.max(r.start + o.settleMs, Math.max(...(hs as number[])) + o.afterHandshakeMs);
}
