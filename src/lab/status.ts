// `lab status`: per site the configured PSK's fingerprint, the latest handshake, rx/tx bytes and the
// probe's loss — read through the site drivers and the probe logs; with the HSM part, the token's label
// and object count and the replication agent's state (src/lab/hsm.ts). No key material, no PIN.
// The probe's counters run from the first PSK both sites' key control agreed on (the first time the
// tunnel carried traffic after the negative control): the lab's deliberate loss before it is not loss.
import { SiteDriver } from '../sites/driver.ts';
import { samplePeer } from '../sites/wg.ts';
import { hsmSiteStatus, type HsmSiteStatus } from './hsm.ts';
import type { LabInfo } from './info.ts';
import type { NegativeControl } from './negative-control.ts';
import { SITES, type SiteName } from './names.ts';
import { parseProbeLog, probeSinceFirstUp } from './probe.ts';
import { readFileSync } from 'node:fs';

export interface SiteStatus {
  psk: string;
  latestHandshake: string | null;
  handshakeAgeS: number | null;
  rx: number;
  tx: number;
  /**
   * Counted from the first agreed PSK (`since`, ISO time; null: no traffic since the lab's negative
   * control, so every counter is 0); `down`, `outages` and `rttP50Ms` over the probe's whole life.
   */
  probe: { since: string | null; sent: number; ok: number; lost: number; loss: number; outages: number; down: boolean; rttP50Ms: number | null };
  /** The site's token and replication agent (labs with the HSM part only). */
  hsm?: HsmSiteStatus;
  error?: string;
}

export interface LabStatus {
  runId: string;
  at: string;
  pskAgree: boolean;
  /** The lab's negative control (wg/22) as recorded at build; absent for a lab built without it (or by an older version). */
  negativeControl?: NegativeControl;
  /** Build time, ms (absent for labs of older versions). */
  setupMs?: number;
  sites: Record<SiteName, SiteStatus>;
}

export async function siteStatus(info: LabInfo, site: SiteName): Promise<SiteStatus> {
  const s = info.sites[site];
  let text = '';
  try {
    text = readFileSync(s.probe.log, 'utf8');
  } catch {
    /* no log yet: zeros */
  }
  const p = parseProbeLog(text);
  const span = probeSinceFirstUp(text, info.negativeControl?.endedAt ?? 0);
  const since = span.from === null ? null : new Date(span.from).toISOString();
  const probe = { since, sent: span.sent, ok: span.ok, lost: span.lost, loss: Number(span.loss.toFixed(4)), outages: p.outages.length, down: p.outages.some((o) => o.to === null), rttP50Ms: p.rttP50 };
  const hsm = s.hsm ? { hsm: await hsmSiteStatus(site, s.hsm) } : {};
  try {
    const peer = await samplePeer(SiteDriver.netns(site, s.namespace), s.wireguard.interface, s.wireguard.peer);
    return {
      psk: peer.pskFingerprint,
      latestHandshake: peer.latestHandshake ? new Date(peer.latestHandshake * 1000).toISOString() : null,
      handshakeAgeS: peer.latestHandshake ? Math.round(Date.now() / 1000 - peer.latestHandshake) : null,
      rx: peer.rx,
      tx: peer.tx,
      probe,
      ...hsm,
    };
  } catch (err) {
    return { psk: '(unknown)', latestHandshake: null, handshakeAgeS: null, rx: 0, tx: 0, probe, ...hsm, error: err instanceof Error ? err.message : String(err) };
  }
}

export async function labStatus(info: LabInfo): Promise<LabStatus> {
  const [alice, bob] = await Promise.all(SITES.map((s) => siteStatus(info, s)));
  return {
    runId: info.runId,
    at: new Date().toISOString(),
    pskAgree: alice!.psk === bob!.psk && alice!.psk.startsWith('sha256:'),
    ...(info.negativeControl ? { negativeControl: info.negativeControl } : {}),
    ...(info.setup ? { setupMs: info.setup.ms } : {}),
    sites: { alice: alice!, bob: bob! },
  };
}
