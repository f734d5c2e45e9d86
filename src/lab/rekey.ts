// Rekey brought forward (lab only). WireGuard uses a new PSK only at its next handshake, and
// wireguard-go starts one only when a session is older than REKEY_AFTER_TIME (120 s) and traffic flows.
// To prove every rotation within minutes, the lab expires alice's sessions once a PSK change has
// settled (both sites show it, or `settleMs` passed without the other site following): the next probe
// datagram then starts a handshake with the PSKs as configured — exactly what WireGuard's own rekey
// would do up to 120 s later. What this does not prove (WireGuard's own timer) is left to natural runs.
import type { Observer, PskChange } from '../sites/observer.ts';
import type { Lab } from './lab.ts';

export interface ForcedHandshake {
  at: number;
  /** Whether both sites showed the same PSK when it was forced. */
  agreed: boolean;
  error?: string;
}

export function forceHandshakesAfterRotations(lab: Pick<Lab, 'expireSessions'>, observer: Observer, o: { settleMs: number }): { forced: ForcedHandshake[]; stop(): void } {
  const forced: ForcedHandshake[] = [];
  let pending: PskChange | undefined;
  const sites = observer.sites.map((s) => s.name);
  observer.onChange((c) => (pending = c));
  const timer = setInterval(() => {
    if (!pending) return;
    const agreed = sites.every((s) => observer.current(s) === observer.current(sites[0]!));
    if (!agreed && Date.now() - pending.at < o.settleMs) return;
    pending = undefined;
    const at = Date.now();
    lab.expireSessions('alice').then(
      () => forced.push({ at, agreed }),
      (err: unknown) => forced.push({ at, agreed, error: err instanceof Error ? err.message : String(err) }),
    );
  }, 100);
  return { forced, stop: () => clearInterval(timer) };
}
