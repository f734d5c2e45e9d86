// Every name a lab creates carries its run id, so parallel labs never collide and a crashed run's
// leftovers can be found by prefix. Interface names are machine-unique (wireguard-go's control
// sockets live in one directory for all namespaces) and at most 15 characters.
import { randomBytes } from 'node:crypto';

export const NAMESPACE_PREFIX = 'qkdh-';
export const IFACE_PREFIX = 'qh';
export const SITES = ['alice', 'bob'] as const;
export type SiteName = (typeof SITES)[number];

const RUN_ID = /^[a-z0-9]{6}$/;

export function newRunId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(6)].map((b) => alphabet[b % alphabet.length]).join('');
}

export function isRunId(id: string): boolean {
  return RUN_ID.test(id);
}

export interface LabNames {
  runId: string;
  namespace: Record<SiteName, string>;
  /** wireguard-go interface per site (also names its socket /var/run/wireguard/<if>.sock). */
  wg: Record<SiteName, string>;
  /** The underlay veth end in each site. */
  veth: Record<SiteName, string>;
}

export function labNames(runId: string): LabNames {
  if (!isRunId(runId)) throw new Error(`not a lab run id: ${runId}`);
  return {
    runId,
    namespace: { alice: `${NAMESPACE_PREFIX}${runId}-alice`, bob: `${NAMESPACE_PREFIX}${runId}-bob` },
    wg: { alice: `${IFACE_PREFIX}${runId}a`, bob: `${IFACE_PREFIX}${runId}b` },
    veth: { alice: `${IFACE_PREFIX}${runId}ua`, bob: `${IFACE_PREFIX}${runId}ub` },
  };
}

/** The run id in a name this module produced (namespace, interface or socket), if any. */
export function runIdOf(name: string): string | undefined {
  const m = /^qkdh-([a-z0-9]{6})-/.exec(name) ?? /^qh([a-z0-9]{6})(?:a|b|ua|ub)(?:\.sock)?$/.exec(name);
  return m?.[1];
}

/** Addresses: underlay 198.51.100.0/24 (TEST-NET-2), overlay 203.0.113.0/24 (TEST-NET-3). */
export const ADDRESSES = {
  underlay: { alice: '198.51.100.1', bob: '198.51.100.2', prefix: 24 },
  overlay: { alice: '203.0.113.1', bob: '203.0.113.2', prefix: 24 },
} as const;

/** Ports inside each site's namespace (namespaces are separate, so both sites use the same ones). */
export const PORTS = { wireguard: 51820, kme: 8443, kmsLink: 9000, keyControl: 9440, pqc: 9999, probeEcho: 7, hsmSync: 5656 } as const;
