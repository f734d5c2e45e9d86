// Fault switches for the lab's mocks (key-control agent and PQC emulator), from the environment:
//   QKDH_FAULT       comma-separated names (below)
//   QKDH_FAULT_FROM  seconds after the process started when the fault begins (default 0), or `signal`:
//                    the fault begins when the process receives SIGUSR2 (the lab sends it at a chosen
//                    point, e.g. just after a rotation, whatever each process's start-up time was)
//   QKDH_FAULT_FOR   seconds it lasts (default: until the process ends)
// Each reproduces a known failure behaviour of real deployments (docs/lab.md).
export const FAULTS = {
  'one-sided': 'key-control: the master cannot deliver the key_ID to its peer but installs its new PSK anyway (Arnika 1.x)',
  'wrong-derivation': 'key-control: the PSK is derived wrongly (PQC before QKD in the HKDF input)',
  'skewed-interval': 'key-control: this site applies received keys on its own interval boundary, QKDH_SKEW seconds after its peer (default INTERVAL/4)',
  'kms-outage': "key-control: this site's KMS is unreachable (connection refused)",
  'half-written-pqc': 'PQC emulator: a key file is left half-written (truncate-then-write interrupted) for QKDH_HALF_WRITTEN_MS',
  'stale-pqc': "PQC emulator: this site stops exchanging keys for the fault's duration and its key is replaced at once by a random key marked stale (as on expiry)",
  // Switches that make the agent IGNORE a fault of its environment (src/lab/env-faults.ts): each shows that
  // the environment suite's check of that requirement can fail (suites/e2e/environment.test.ts).
  'no-kms-deadline': 'key-control: KMS calls have no deadline (a hung KMS stalls the agent for good) — ignores kms-hang (wg/15)',
  'stop-on-kms-error': 'key-control: the agent stops rotating for good after a KMS call failed (refused or non-200) — ignores kms-refuse / kms-503 (wg/16, wg/17)',
  'install-unacked': 'key-control: the master installs its new PSK even when the peer did not ACK the key_ID (Arnika 1.x) — ignores underlay-cut (wg/18)',
  'no-psk-watch': 'key-control: the agent does not watch its installed PSK (the faithful agent re-installs it within a second when it was overwritten) — ignores psk-overwrite (wg/19)',
  'all-peers': 'key-control: the PSK is installed on every peer of the interface, not only WIREGUARD_PEER_PUBLIC_KEY — ignores decoy-peer (wg/20)',
  'pqc-cached': 'key-control: the PQC key is read once at start and kept — ignores pqc-stale (wg/21)',
} as const;

export type FaultName = keyof typeof FAULTS;

export class FaultPlan {
  started = Date.now();
  constructor(
    readonly names: ReadonlySet<FaultName>,
    public fromMs: number,
    readonly forMs: number,
  ) {}

  /** Starts the fault window now (what SIGUSR2 does under QKDH_FAULT_FROM=signal). */
  arm(now = Date.now()): void {
    this.started = now;
    this.fromMs = 0;
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env): FaultPlan {
    const names = new Set<FaultName>();
    for (const n of (env.QKDH_FAULT ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
      if (!(n in FAULTS)) throw new Error(`QKDH_FAULT: unknown fault "${n}" (known: ${Object.keys(FAULTS).join(', ')})`);
      names.add(n as FaultName);
    }
    const secs = (v: string | undefined, name: string, dflt: number) => {
      if (v === undefined || v === '') return dflt;
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number of seconds, got "${v}"`);
      return n * 1000;
    };
    const onSignal = env.QKDH_FAULT_FROM === 'signal';
    const plan = new FaultPlan(names, onSignal ? Infinity : secs(env.QKDH_FAULT_FROM, 'QKDH_FAULT_FROM', 0), secs(env.QKDH_FAULT_FOR, 'QKDH_FAULT_FOR', Infinity));
    if (onSignal && names.size) process.on('SIGUSR2', () => plan.arm());
    return plan;
  }

  /** True when `name` is switched on and `now` lies in its window. */
  active(name: FaultName, now = Date.now()): boolean {
    if (!this.names.has(name)) return false;
    const t = now - this.started;
    return t >= this.fromMs && t < this.fromMs + this.forMs;
  }

  has(name: FaultName): boolean {
    return this.names.has(name);
  }
}
