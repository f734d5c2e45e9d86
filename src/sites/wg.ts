// WireGuard state of a site, read through its driver: `wg show <if> dump`, parsed and hashed at once.
import type { SiteDriver } from './driver.ts';
import { parseWgDump, type WgInterfaceState, type WgPeerState } from './wg-dump.ts';

export interface PeerSample extends WgPeerState {
  /** Local clock (ms since epoch) when the sample was taken. */
  at: number;
}

/** Reads the interface's state; throws SiteCommandError / WgDumpError (never with key material). */
export async function readWg(driver: SiteDriver, iface: string, timeoutMs = 5_000): Promise<WgInterfaceState> {
  const out = await driver.check(['wg', 'show', iface, 'dump'], { timeoutMs });
  return parseWgDump(out);
}

/** The peer's state: the named peer, or the only one. A missing peer or several unnamed ones is an error. */
export function pickPeer(state: WgInterfaceState, peer?: string): WgPeerState {
  if (peer) {
    const p = state.peers.find((x) => x.publicKey === peer);
    if (!p) throw new Error(`the interface has no peer ${peer} (it has ${state.peers.length})`);
    return p;
  }
  if (state.peers.length !== 1) throw new Error(`the interface has ${state.peers.length} peers: name the peer (sites.<site>.wireguard.peer)`);
  return state.peers[0]!;
}

export async function samplePeer(driver: SiteDriver, iface: string, peer?: string, timeoutMs?: number): Promise<PeerSample> {
  const at = Date.now();
  return { ...pickPeer(await readWg(driver, iface, timeoutMs), peer), at };
}
