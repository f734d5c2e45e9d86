// The built-in key-control agent: Arnika 1.x's behaviour on the wire and on WireGuard.
// Every INTERVAL a turn: a daemon that received a key_ID since its last turn skips it (it acted as
// backup when the key_ID arrived); otherwise it is master: enc_keys from its KMS, key_ID to the peer,
// derive, install — even when the key_ID could not be delivered. An odd ARNIKA_ID delays the first
// turn by INTERVAL/2. Turns and received key_IDs are handled one at a time, in arrival order.
import { appendFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { readPqcKeyFile, encodeBase64 } from '../../src/psk/index.ts';
import { fingerprint } from '../../src/secrets/fingerprint.ts';
import type { AgentConfig } from './config.ts';
import { decide, type PqcInput } from './decide.ts';
import { FaultPlan } from './faults.ts';
import { installPsk } from './install.ts';
import type { Kms, KmsKey } from './kms.ts';
import { listenForKeyIds, sendKeyId } from './peer.ts';
import { seal, unseal } from '../../src/secrets/seal.ts';

export interface AgentEvent {
  t: number;
  ev: 'start' | 'turn' | 'skip' | 'received' | 'sent' | 'send-failed' | 'kms-failed' | 'installed' | 'kept' | 'install-failed' | 'warning' | 'stop';
  role?: 'master' | 'backup';
  keyId?: string;
  psk?: string;
  kind?: string;
  why?: string;
}

/** What the lab's expected-PSK check needs about one installation. Lab-private file, mode 0600. */
export interface Observation {
  t: number;
  role: 'master' | 'backup';
  keyId: string;
  kind: string;
  /** The KMS key and PQC key (base64) the PSK was derived from, as JSON sealed under the lab's
   * observation key (src/secrets/seal.ts): key material never rests on disk in clear. */
  sealedInputs?: string;
  kmsFp?: string;
  pqcFp?: string;
  pskFp: string;
  faults: string[];
}

/** An observation with its inputs opened (in memory only), for the expected-PSK check. */
export type OpenedObservation = Omit<Observation, 'sealedInputs'> & { kmsKey?: string; pqc?: string };

export function openObservation(o: Observation, key: Uint8Array | undefined): OpenedObservation {
  const { sealedInputs, ...rest } = o;
  if (!sealedInputs || !key) return rest;
  return { ...rest, ...(JSON.parse(unseal(key, sealedInputs)) as { kmsKey?: string; pqc?: string }) };
}

export interface AgentDeps {
  kms: Pick<Kms, 'encKey' | 'decKey' | 'outage'>;
  install?: (pskBase64: string) => Promise<void>;
  send?: (keyId: string) => Promise<void>;
  faults?: FaultPlan;
  log?: (e: AgentEvent) => void;
}

export class Agent {
  private server: Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private queue: Promise<void> = Promise.resolve();
  private receivedSinceTurn = false;
  private nextTurn = 0;
  private stopped = false;
  private pqcWarned = false;
  readonly faults: FaultPlan;
  private readonly install: (psk: string) => Promise<void>;
  private readonly send: (keyId: string) => Promise<void>;
  private readonly log: (e: AgentEvent) => void;

  constructor(
    readonly config: AgentConfig,
    readonly deps: AgentDeps,
  ) {
    this.faults = deps.faults ?? new FaultPlan(new Set(), 0, Infinity);
    this.install = deps.install ?? ((psk) => installPsk(config.wg, config.wireguardInterface, config.wireguardPeerPublicKey, psk));
    this.send =
      deps.send ??
      ((keyId) =>
        this.faults.active('one-sided')
          ? sendKeyId('127.0.0.1', 9, keyId) // the fault: the peer is unreachable (discard port, closed)
          : sendKeyId(config.serverAddress.host, config.serverAddress.port, keyId));
    this.log = deps.log ?? ((e) => process.stdout.write(JSON.stringify(e) + '\n'));
  }

  async start(): Promise<void> {
    const c = this.config;
    this.server = await listenForKeyIds(c.listenAddress.host, c.listenAddress.port, (keyId) => {
      this.receivedSinceTurn = true;
      this.log({ t: Date.now(), ev: 'received', keyId });
      this.enqueue(() => this.backup(keyId));
    });
    const firstDelay = c.intervalMs + (c.arnikaId % 2 === 1 ? c.intervalMs / 2 : 0);
    this.nextTurn = Date.now() + firstDelay;
    this.log({ t: Date.now(), ev: 'start', why: `ARNIKA_ID ${c.arnikaId}, INTERVAL ${c.intervalMs} ms, first turn in ${firstDelay} ms, MODE ${c.mode}${this.faults.names.size ? `, faults ${[...this.faults.names].join(',')}` : ''}` });
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.nextTurn += this.config.intervalMs;
      this.enqueue(() => this.turn());
      this.schedule();
    }, Math.max(0, this.nextTurn - Date.now()));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    await this.queue;
    this.log({ t: Date.now(), ev: 'stop' });
  }

  private enqueue(job: () => Promise<void>): void {
    this.queue = this.queue.then(job).catch((err) => this.log({ t: Date.now(), ev: 'install-failed', why: err instanceof Error ? err.message : String(err) }));
  }

  private syncFaults(): void {
    this.deps.kms.outage = this.faults.active('kms-outage');
  }

  /** After a master turn without a KMS key, one more attempt after KMS_RETRY_INTERVAL (unless a key_ID arrives). */
  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer || this.config.kmsRetryIntervalMs >= this.nextTurn - Date.now()) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.receivedSinceTurn) this.enqueue(() => this.turn(true));
    }, this.config.kmsRetryIntervalMs);
  }

  private async turn(retry = false): Promise<void> {
    if (this.receivedSinceTurn && !retry) {
      this.receivedSinceTurn = false;
      this.log({ t: Date.now(), ev: 'skip', role: 'backup', why: 'received a key_ID since the last turn' });
      return;
    }
    this.syncFaults();
    this.log({ t: Date.now(), ev: 'turn', role: 'master', ...(retry ? { why: 'retry after KMS_RETRY_INTERVAL' } : {}) });
    let key: KmsKey | undefined;
    try {
      key = await this.deps.kms.encKey();
    } catch (err) {
      this.log({ t: Date.now(), ev: 'kms-failed', role: 'master', why: (err as Error).message });
      if (!retry) this.scheduleRetry();
    }
    if (key) {
      try {
        await this.send(key.keyId);
        this.log({ t: Date.now(), ev: 'sent', keyId: key.keyId });
      } catch (err) {
        // Arnika 1.x installs its new PSK anyway: a one-sided rotation.
        this.log({ t: Date.now(), ev: 'send-failed', keyId: key.keyId, why: (err as Error).message });
      }
    }
    await this.apply('master', key);
  }

  private async backup(keyId: string): Promise<void> {
    if (this.faults.active('skewed-interval')) await sleep(this.config.skewMs);
    this.syncFaults();
    let key: KmsKey | undefined;
    try {
      key = await this.deps.kms.decKey(keyId);
    } catch (err) {
      this.log({ t: Date.now(), ev: 'kms-failed', role: 'backup', keyId, why: (err as Error).message });
    }
    await this.apply('backup', key, keyId);
  }

  /** The PQC key through the harness's one key-file reader (src/psk/pqc-file.ts): one trailing LF/CRLF is
   * stripped as Arnika does, logged once as a warning (every turn would only repeat it). */
  private readPqc(): PqcInput {
    const file = this.config.pqcPskFile;
    if (!file) return { state: 'none' };
    const onWarning = (why: string) => {
      if (!this.pqcWarned) this.log({ t: Date.now(), ev: 'warning', why });
      this.pqcWarned = true;
    };
    try {
      return { state: 'ok', key: readPqcKeyFile(file, { onWarning }) };
    } catch (err) {
      return { state: 'unreadable', why: err instanceof Error ? err.message : String(err) };
    }
  }

  private async apply(role: 'master' | 'backup', key: KmsKey | undefined, keyId = key?.keyId): Promise<void> {
    const qkd = key ? new Uint8Array(Buffer.from(key.key, 'base64')) : undefined;
    const pqc = this.readPqc();
    const d = decide(this.config.mode, qkd, pqc, { wrongDerivation: this.faults.active('wrong-derivation') });
    if (d.action === 'keep') {
      this.log({ t: Date.now(), ev: 'kept', role, keyId, why: `PSK left unchanged: ${d.why}` });
      return;
    }
    const b64 = encodeBase64(d.psk);
    await this.install(b64);
    const t = Date.now();
    const pskFp = fingerprint(d.psk);
    this.log({ t, ev: 'installed', role, keyId, kind: d.kind, psk: pskFp, why: d.why });
    if (this.config.observationLog) {
      const o: Observation = {
        t,
        role,
        keyId: keyId ?? '',
        kind: d.kind,
        sealedInputs: this.config.observationKey
          ? seal(
              this.config.observationKey,
              JSON.stringify({
                kmsKey: d.kind === 'hybrid' || d.kind === 'qkd-only' ? key?.key : undefined,
                pqc: pqc.state === 'ok' && (d.kind === 'hybrid' || d.kind === 'pqc-only') ? encodeBase64(pqc.key) : undefined,
              }),
            )
          : undefined,
        kmsFp: qkd ? fingerprint(qkd) : undefined,
        pqcFp: pqc.state === 'ok' ? fingerprint(pqc.key) : undefined,
        pskFp,
        faults: [...this.faults.names].filter((f) => this.faults.active(f, t)),
      };
      appendFileSync(this.config.observationLog, JSON.stringify(o) + '\n', { mode: 0o600 });
    }
  }
}
