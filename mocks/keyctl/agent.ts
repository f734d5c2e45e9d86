// The built-in key-control agent: Arnika 1.x's behaviour on the wire and on WireGuard.
// Every INTERVAL a turn: a daemon that received a key_ID since its last turn skips it (it acted as
// backup when the key_ID arrived); otherwise it is master: enc_keys from its KMS, key_ID to the peer,
// derive, install — only once the peer ACKed the key_ID (Arnika 1.x installs anyway: the install-unacked
// switch, or the one-sided fault). An odd ARNIKA_ID delays the first turn by INTERVAL/2. Turns and
// received key_IDs are handled one at a time, in arrival order. Beyond Arnika 1.x, what a key control must
// do when its environment misbehaves (specs/requirements/wg.yaml wg/15–wg/21): every KMS call under
// KMS_HTTP_TIMEOUT, the next turn tried whatever the last KMS error, the installed PSK watched every second
// and re-installed when someone else changed it, only WIREGUARD_PEER_PUBLIC_KEY given a PSK, the PQC key
// read afresh for each derivation. Each has a switch that turns it off (mocks/keyctl/faults.ts).
import { appendFileSync, readFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { readPqcKeyFile, encodeBase64 } from '../../src/psk/index.ts';
import { fingerprint } from '../../src/secrets/fingerprint.ts';
import type { AgentConfig } from './config.ts';
import { decide, type PqcInput } from './decide.ts';
import { FaultPlan } from './faults.ts';
import { installPsk, listPeers, readPeerPsk } from './install.ts';
import type { Kms, KmsKey } from './kms.ts';
import { listenForKeyIds, sendKeyId } from './peer.ts';
import { seal, unseal } from '../../src/secrets/seal.ts';

export interface AgentEvent {
  t: number;
  ev: 'start' | 'turn' | 'skip' | 'received' | 'sent' | 'send-failed' | 'kms-failed' | 'installed' | 'kept' | 'install-failed' | 'warning' | 'stop' | 'halted' | 'restored' | 'watch-failed';
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
  /** The PSK now configured for the peer (base64, undefined for none); default `wg show <if> preshared-keys`. Never logged. */
  readPsk?: () => Promise<string | undefined>;
  /** Period of the PSK watch (default 1000 ms). */
  watchMs?: number;
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
  /** stop-on-kms-error: set after a failed KMS call; no turn and no received key_ID is acted on again. */
  private halted = false;
  private watchTimer: NodeJS.Timeout | undefined;
  private watching = false;
  private installing = false;
  /** The last PSK this agent installed (base64, memory only): what the watch restores. */
  private lastInstalled: string | undefined;
  private pqcCache: PqcInput | undefined;
  readonly faults: FaultPlan;
  private readonly install: (psk: string) => Promise<void>;
  private readonly readPsk: () => Promise<string | undefined>;
  private readonly send: (keyId: string) => Promise<void>;
  private readonly log: (e: AgentEvent) => void;

  constructor(
    readonly config: AgentConfig,
    readonly deps: AgentDeps,
  ) {
    this.faults = deps.faults ?? new FaultPlan(new Set(), 0, Infinity);
    this.install =
      deps.install ??
      (this.faults.has('all-peers')
        ? async (psk) => {
            // The switch: every peer of the interface gets the PSK (a decoy too), as a daemon that takes the interface's peer for granted.
            for (const peer of await listPeers(config.wg, config.wireguardInterface)) await installPsk(config.wg, config.wireguardInterface, peer, psk);
          }
        : (psk) => installPsk(config.wg, config.wireguardInterface, config.wireguardPeerPublicKey, psk));
    this.readPsk = deps.readPsk ?? (() => readPeerPsk(config.wg, config.wireguardInterface, config.wireguardPeerPublicKey));
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
    if (c.scheduleOriginFile) void this.startFrom(c.scheduleOriginFile);
    else this.startTurns(Date.now());
    if (!this.faults.has('no-psk-watch')) this.watchTimer = setInterval(() => void this.watch(), this.deps.watchMs ?? 1_000);
  }

  /** Turns counted from `origin` (epoch ms): the first after INTERVAL, for an odd ARNIKA_ID INTERVAL/2 later. */
  private startTurns(origin: number): void {
    const c = this.config;
    const firstDelay = c.intervalMs + (c.arnikaId % 2 === 1 ? c.intervalMs / 2 : 0);
    this.nextTurn = origin + firstDelay;
    // An origin in the past: skip whole intervals, keeping the phase (and so the roles).
    while (this.nextTurn < Date.now()) this.nextTurn += c.intervalMs;
    this.log({ t: Date.now(), ev: 'start', why: `ARNIKA_ID ${c.arnikaId}, INTERVAL ${c.intervalMs} ms, first turn in ${this.nextTurn - Date.now()} ms, MODE ${c.mode}${this.faults.names.size ? `, faults ${[...this.faults.names].join(',')}` : ''}` });
    this.schedule();
  }

  /** Waits (at most 60 s) for the lab's schedule-origin file, then starts the turns from it. */
  private async startFrom(file: string): Promise<void> {
    const until = Date.now() + 60_000;
    while (!this.stopped && Date.now() < until) {
      const origin = Number(readText(file)?.trim());
      if (Number.isFinite(origin) && origin > 0) return this.startTurns(origin);
      await sleep(100);
    }
    if (!this.stopped) {
      this.log({ t: Date.now(), ev: 'warning', why: `no schedule origin in ${file} within 60 s: turns counted from now` });
      this.startTurns(Date.now());
    }
  }

  /**
   * The PSK watch: reads the peer's configured PSK and, when it is not the last one this agent installed
   * (someone else set it), installs that one again — the two sites hold the same PSK again within about a
   * second. Skipped while an installation runs (it would read the PSK mid-change). Fingerprints only in the log.
   */
  private async watch(): Promise<void> {
    const mine = this.lastInstalled;
    if (this.stopped || this.watching || this.installing || mine === undefined) return;
    this.watching = true;
    try {
      const now = await this.readPsk();
      if (now === mine || this.installing || this.lastInstalled !== mine) return;
      this.installing = true;
      try {
        await this.install(mine);
      } finally {
        this.installing = false;
      }
      const found = now === undefined ? '(none)' : fingerprint(new Uint8Array(Buffer.from(now, 'base64')));
      this.log({ t: Date.now(), ev: 'restored', psk: fingerprint(new Uint8Array(Buffer.from(mine, 'base64'))), why: `the peer's PSK was changed behind the key control's back (found ${found}); installed the last PSK again` });
    } catch (err) {
      this.log({ t: Date.now(), ev: 'watch-failed', why: err instanceof Error ? err.message : String(err) });
    } finally {
      this.watching = false;
    }
  }

  /** stop-on-kms-error: the agent gives up for good after a failed KMS call (a daemon whose loop returned on error). */
  private haltOnKmsError(): void {
    if (!this.faults.has('stop-on-kms-error') || this.halted) return;
    this.halted = true;
    this.log({ t: Date.now(), ev: 'halted', why: 'stop-on-kms-error: a KMS call failed; no further turn or received key_ID is acted on' });
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
    if (this.watchTimer) clearInterval(this.watchTimer);
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    // A job stuck on a KMS without deadline (no-kms-deadline) must not keep the process from stopping.
    await Promise.race([this.queue, sleep(1_500)]);
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
    if (this.halted) return void this.log({ t: Date.now(), ev: 'skip', why: 'halted (stop-on-kms-error)' });
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
      this.haltOnKmsError();
      if (this.halted) return;
      if (!retry) this.scheduleRetry();
    }
    let acked = false;
    if (key) {
      try {
        await this.send(key.keyId);
        acked = true;
        this.log({ t: Date.now(), ev: 'sent', keyId: key.keyId });
      } catch (err) {
        this.log({ t: Date.now(), ev: 'send-failed', keyId: key.keyId, why: (err as Error).message });
      }
    }
    // Install only what the peer acknowledged: a PSK the peer will not install breaks the tunnel. Arnika 1.x
    // installs anyway (a one-sided rotation): the install-unacked switch and the one-sided fault.
    if (!acked && !(this.faults.has('install-unacked') || this.faults.active('one-sided'))) {
      this.log({ t: Date.now(), ev: 'kept', role: 'master', keyId: key?.keyId, why: key ? 'PSK left unchanged: the peer did not ACK the key_ID' : 'PSK left unchanged: no key_ID to send (no KMS key)' });
      return;
    }
    await this.apply('master', key);
  }

  private async backup(keyId: string): Promise<void> {
    if (this.halted) return void this.log({ t: Date.now(), ev: 'skip', keyId, why: 'halted (stop-on-kms-error)' });
    if (this.faults.active('skewed-interval')) await sleep(this.config.skewMs);
    this.syncFaults();
    let key: KmsKey | undefined;
    try {
      key = await this.deps.kms.decKey(keyId);
    } catch (err) {
      this.log({ t: Date.now(), ev: 'kms-failed', role: 'backup', keyId, why: (err as Error).message });
      this.haltOnKmsError();
      if (this.halted) return;
    }
    await this.apply('backup', key, keyId);
  }

  /** The PQC key through the harness's one key-file reader (src/psk/pqc-file.ts): one trailing LF/CRLF is
   * stripped as Arnika does, logged once as a warning (every turn would only repeat it). */
  private readPqc(): PqcInput {
    // pqc-cached: the first readable key is kept for good (a stale or newer key_out is never seen).
    if (this.pqcCache) return this.pqcCache;
    const read = this.readPqcFile();
    if (this.faults.has('pqc-cached') && read.state === 'ok') this.pqcCache = read;
    return read;
  }

  private readPqcFile(): PqcInput {
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
    this.installing = true;
    try {
      await this.install(b64);
      this.lastInstalled = b64;
    } finally {
      this.installing = false;
    }
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

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
