// `lab status`: per site the configured PSK's fingerprint, the latest handshake, rx/tx bytes and the
// probe's loss — read through the site drivers and the probe logs; with the HSM part, the token's label
// and object count and the replication agent's state (src/lab/hsm.ts). No key material, no PIN.
import { SiteDriver } from '../sites/driver.ts';
import { samplePeer } from '../sites/wg.ts';
import { hsmSiteStatus, type HsmSiteStatus } from './hsm.ts';
import type { LabInfo } from './lab.ts';
import { SITES, type SiteName } from './names.ts';
import { readProbeLog } from './probe.ts';

export interface SiteStatus {
  psk: string;
  latestHandshake: string | null;
  handshakeAgeS: number | null;
  rx: number;
  tx: number;
  probe: { sent: number; ok: number; lost: number; loss: number; outages: number; down: boolean; rttP50Ms: number | null };
  /** The site's token and replication agent (labs with the HSM part only). */
  hsm?: HsmSiteStatus;
  error?: string;
}

export interface LabStatus {
  runId: string;
  at: string;
  pskAgree: boolean;
  sites: Record<SiteName, SiteStatus>;
}

export async function siteStatus(info: LabInfo, site: SiteName): Promise<SiteStatus> {
  const s = info.sites[site];
  const p = readProbeLog(s.probe.log);
  const probe = { sent: p.sent, ok: p.ok, lost: p.lost, loss: Number(p.loss.toFixed(4)), outages: p.outages.length, down: p.outages.some((o) => o.to === null), rttP50Ms: p.rttP50 };
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
  return { runId: info.runId, at: new Date().toISOString(), pskAgree: alice!.psk === bob!.psk && alice!.psk.startsWith('sha256:'), sites: { alice: alice!, bob: bob! } };
}
