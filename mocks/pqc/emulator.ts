// The lab's stand-in for Rosenpass: per site, one emulator that really exchanges an ML-KEM-768 key with
// its peer each epoch over the underlay and writes Rosenpass-style `key_out` files with Rosenpass's
// rekey and expiry timing (scalable), including a random key marked stale on expiry.
import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { fingerprint } from '../../src/secrets/fingerprint.ts';
import { FaultPlan } from '../keyctl/faults.ts';
import type { FaultsFile } from '../kme/faults-file.ts';
import { initiate, serve } from './exchange.ts';
import { writeKeyFile } from './keyfile.ts';
import { scaledTiming, type PqcTiming } from './timing.ts';

export interface PqcEmulatorOptions {
  /** This peer's and the other peer's names (for Rosenpass-style output lines). */
  name: string;
  peerName: string;
  listen: { host: string; port: number };
  peer: { host: string; port: number };
  keyOut: string;
  /** Starts the first exchange (the other side waits for it). */
  initiator: boolean;
  timing?: PqcTiming;
  faults?: FaultPlan;
  /** How long a half-written file stays half-written under the half-written-pqc fault. */
  halfWrittenMs?: number;
  /** JSON-lines event log (fingerprints only). */
  events?: string;
  /** Rosenpass-style notification lines (default: stdout). */
  out?: (line: string) => void;
  /** Lab-only run-time faults (`stale`, `stop`) from a control file, re-read each tick (mocks/kme/faults-file.ts). */
  control?: FaultsFile<PqcControlFault>;
}

/**
 * Run-time faults of the control file: `stale` — stop exchanging and replace the key at once by a random
 * key marked stale; `stop` — stop exchanging, key_out untouched (no expiry either: a frozen Rosenpass).
 * When such a window ends the emulator exchanges at once, so both sites share a fresh key again.
 */
export const PQC_CONTROL_FAULTS = ['stale', 'stop'] as const;
export type PqcControlFault = (typeof PQC_CONTROL_FAULTS)[number];

export type PqcEvent = { t: number; epoch: number; why: 'exchanged' | 'stale'; fp: string; role?: 'initiator' | 'responder'; cause?: string };

export class PqcEmulator {
  readonly timing: PqcTiming;
  readonly faults: FaultPlan;
  private server: Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();
  private lastExchangeAt: number | undefined;
  private lastRole: 'initiator' | 'responder' | undefined;
  private epoch = 0;
  private stale = false;
  private staleFaultFired = false;
  private halfFaultFired = false;
  private nextAttemptAt = 0;
  private queue: Promise<void> = Promise.resolve();
  private busy = false;
  /** The `from` of the control-file stale window whose key was already replaced (once per window). */
  private staleWindowFired: number | undefined;
  /** A control-file window was in effect at the last tick: exchange as soon as it is over. */
  private controlPaused = false;
  private pendingResume = false;

  constructor(readonly o: PqcEmulatorOptions) {
    this.timing = o.timing ?? scaledTiming(1);
    this.faults = o.faults ?? new FaultPlan(new Set(), 0, Infinity);
  }

  start(): void {
    this.server = serve(
      this.o.listen.port,
      this.o.listen.host,
      (x) => this.enqueue(() => this.install(x.key, x.epoch, 'exchanged', 'responder')),
      (proposed) => Math.max(this.epoch + 1, proposed),
      // Both sides initiating at once (say, both retrying after a fault window) would leave each with the
      // other's key last: the designated initiator declines while its own exchange runs, so only one completes.
      () => !this.faults.active('stale-pqc') && !this.controlled() && !(this.busy && this.o.initiator),
    );
    this.server.on('error', (e) => this.o.out?.(`error ${String(e)}`));
    this.timer = setInterval(() => void this.tick(), Math.max(20, Math.min(250, this.timing.retryMs, this.timing.rekeyResponderMs / 40)));
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    await this.queue;
  }

  private enqueue(job: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(job, job);
    return this.queue;
  }

  /** A control-file window (stale or stop) holds now. */
  private controlled(now = Date.now()): boolean {
    return Boolean(this.o.control && (this.o.control.active('stale', now) || this.o.control.active('stop', now)));
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    const staleWindow = this.o.control?.window('stale', now);
    if (staleWindow && this.staleWindowFired !== staleWindow.from) {
      this.staleWindowFired = staleWindow.from;
      await this.enqueue(() => this.expire('fault: pqc-stale (faults file)'));
    }
    if (this.controlled(now)) {
      this.controlPaused = true;
      return;
    }
    let resume = false;
    if (this.controlPaused) {
      // The window is over: like a restarted Rosenpass, no old key to expire; exchange at once.
      this.controlPaused = false;
      if (this.lastExchangeAt !== undefined && !this.stale) this.lastExchangeAt = now;
      this.nextAttemptAt = 0;
      resume = true;
    }
    if (this.faults.active('stale-pqc', now) && !this.staleFaultFired) {
      this.staleFaultFired = true;
      await this.enqueue(() => this.expire('fault: stale-pqc'));
    }
    if (this.lastExchangeAt !== undefined && !this.stale && now - this.lastExchangeAt > this.timing.rejectAfterMs) {
      await this.enqueue(() => this.expire('no exchange within the reject-after time'));
    }
    if (this.busy || now < this.nextAttemptAt || this.faults.active('stale-pqc', now)) return;
    const due =
      resume ||
      this.pendingResume ||
      (this.lastExchangeAt === undefined
        ? this.o.initiator || now - this.startedAt > this.timing.rekeyInitiatorMs
        : now >= this.lastExchangeAt + (this.lastRole === 'responder' ? this.timing.rekeyResponderMs : this.timing.rekeyInitiatorMs));
    if (!due) return;
    this.busy = true;
    try {
      const x = await initiate(this.o.peer.host, this.o.peer.port, this.epoch + 1);
      this.pendingResume = false;
      await this.enqueue(() => this.install(x.key, x.epoch, 'exchanged', 'initiator'));
    } catch {
      if (resume) this.pendingResume = true; // keep trying at the retry period until one exchange succeeds
      this.nextAttemptAt = Date.now() + this.timing.retryMs;
    } finally {
      this.busy = false;
    }
  }

  private async install(key: Uint8Array, epoch: number, why: 'exchanged', role: 'initiator' | 'responder'): Promise<void> {
    const now = Date.now();
    this.pendingResume = false;
    this.lastExchangeAt = now;
    this.lastRole = role;
    this.epoch = Math.max(this.epoch, epoch);
    this.stale = false;
    let pause = 0;
    if (this.faults.active('half-written-pqc', now) && !this.halfFaultFired) {
      this.halfFaultFired = true;
      pause = this.o.halfWrittenMs ?? 5_000;
    }
    await writeKeyFile(this.o.keyOut, key, pause);
    this.emit({ t: now, epoch: this.epoch, why, fp: fingerprint(key), role, ...(pause ? { cause: `fault: half-written for ${pause} ms` } : {}) });
  }

  private async expire(cause: string): Promise<void> {
    this.stale = true;
    const key = new Uint8Array(randomBytes(32));
    await writeKeyFile(this.o.keyOut, key);
    this.emit({ t: Date.now(), epoch: this.epoch, why: 'stale', fp: fingerprint(key), cause });
  }

  private emit(e: PqcEvent): void {
    (this.o.out ?? ((l) => process.stdout.write(l + '\n')))(`output-key peer ${this.o.peerName} key-file "${this.o.keyOut}" ${e.why}`);
    if (this.o.events) appendFileSync(this.o.events, JSON.stringify(e) + '\n', { mode: 0o600 });
  }
}
