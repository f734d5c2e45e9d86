// What a lab is, as `lab up` prints it and the state file records it (`info`): the types only, so that
// readers of a lab (status, selection, faults) need not import the lab's builder.
import type { HsmSiteInfo } from './hsm.ts';
import type { SiteName } from './names.ts';
import type { NegativeControl } from './negative-control.ts';

export type KeyControl = { kind: 'builtin' } | { kind: 'exec'; command: string };

export interface FaultSpec {
  /** Comma-separated fault names (mocks/keyctl/faults.ts). */
  fault: string;
  /** Seconds after each process's start, or 'signal': when `injectFaults()` is called. */
  fromS?: number | 'signal';
  forS?: number;
  /** Extra variables (QKDH_SKEW, …). */
  env?: Record<string, string>;
}

export interface SiteInfo {
  namespace: string;
  exec: string[];
  underlay: string;
  overlay: string;
  wireguard: { interface: string; publicKey: string; peer: string; socket: string; listenPort: number };
  /** `requestLog`: the KME's request log (one line per request, fingerprints only; absent in labs of older versions). */
  kme: { url: string; kmsUrl: string; sae: string; requestLog?: string };
  keyControl: { listen: string; command: string; log: string; observations: string };
  pqc?: { keyOut: string; events: string; log: string };
  probe: { target: string; port: number; log: string };
  /** Present when the lab has tokens: module, token label, SOFTHSM2_CONF, PIN file, agent (src/lab/hsm.ts). */
  hsm?: HsmSiteInfo;
}

export interface LabInfo {
  runId: string;
  stateFile: string;
  dir: string;
  intervalS: number;
  keyControl: string;
  pqc: boolean;
  pqcTimeScale: number;
  mode: string;
  faults: Partial<Record<SiteName, FaultSpec>>;
  /** SoftHSM2 tokens and replication agents on (per-site details under sites.*.hsm). */
  hsm: boolean;
  /** The agents' fault switches at start (restartHsmSync may change them; see hsmSyncFaults()). */
  hsmSyncFaults: Partial<Record<SiteName, string[]>>;
  ca: string;
  sites: Record<SiteName, SiteInfo>;
  /** The instruments' proof before key control started (absent: built with negativeControl: false). */
  negativeControl?: NegativeControl;
  /** Key controls were started in this order, each once the previous one listened (the backup first). */
  keyControlOrder: SiteName[];
  /** Build time: from `Lab.up` to up (ms since epoch, ms), and per build step (ms). */
  setup: { startedAt: number; upAt: number; ms: number; steps: Array<{ step: string; ms: number }> };
}
