// Fault switches of the replication agent: each reproduces one way replication goes wrong, so that the
// lab's suite can show the requirement that catches it. Given with `--fault NAME` (repeatable) or
// QKDH_HSM_SYNC_FAULT=NAME[,NAME…] — a variable of its own, since the lab's QKDH_FAULT is read (and
// unknown names refused) by the key-control agent and the PQC emulator. Each switch belongs to the role
// that can commit the fault; given to the other role it is refused at start, never silently ignored.
export const SYNC_FAULTS = {
  'send-outside-tunnel': { role: 'primary', what: "connects to the replica's underlay address (--peer-underlay) instead of its tunnel address (--peer)" },
  'drop-deletes': { role: 'primary', what: 'sends no tombstones: keys destroyed on the primary stay on the replica' },
  'corrupt-blob': { role: 'primary', what: 'corrupts the first wrapped blob it sends (one byte flipped); the replica rejects it, and the key is missing there' },
  'duplicate-imports': { role: 'replica', what: 'imports without looking the name up first, and each key twice (a replayed import)' },
  'unwrap-non-sensitive': { role: 'replica', what: 'unwraps copies with CKA_SENSITIVE=false (a receiver choosing a weaker template)' },
} as const;

export type SyncFault = keyof typeof SYNC_FAULTS;
export type Role = 'primary' | 'replica';
export const FAULT_VARIABLE = 'QKDH_HSM_SYNC_FAULT';

/** The faults of `--fault` flags and the environment, checked against `role`. @throws Error naming the problem. */
export function parseFaults(role: Role, flags: string[], env: NodeJS.ProcessEnv = process.env): Set<SyncFault> {
  const names = [...flags, ...(env[FAULT_VARIABLE] ?? '').split(',')].map((s) => s.trim()).filter(Boolean);
  const out = new Set<SyncFault>();
  for (const n of names) {
    if (!(n in SYNC_FAULTS)) throw new Error(`unknown fault "${n}" (known: ${Object.keys(SYNC_FAULTS).join(', ')})`);
    const f = SYNC_FAULTS[n as SyncFault];
    if (f.role !== role) throw new Error(`fault "${n}" belongs to the ${f.role} agent, this one is the ${role}`);
    out.add(n as SyncFault);
  }
  return out;
}
