// The lab's stand-in for Rosenpass: per site, one emulator that really exchanges an ML-KEM-768 key with
// its peer each epoch over the underlay and writes Rosenpass-style `key_out` files with Rosenpass's
// rekey and expiry timing (scalable), including a random key marked stale on expiry.
import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { fingerprint } from '../../src/secrets/fingerprint.ts';
import { FaultPlan } from '../keyctl/faults.ts';
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
}

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
      () => !this.faults.active('stale-pqc'),
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

  private async tick(): Promise<void> {
    const now = Date.now();
    if (this.faults.active('stale-pqc', now) && !this.staleFaultFired) {
      this.staleFaultFired = true;
      await this.enqueue(() => this.expire('fault: stale-pqc'));
    }
    if (this.lastExchangeAt !== undefined && !this.stale && now - this.lastExchangeAt > this.timing.rejectAfterMs) {
      await this.enqueue(() => this.expire('no exchange within the reject-after time'));
    }
    if (this.busy || now < this.nextAttemptAt || this.faults.active('stale-pqc', now)) return;
    const due =
      this.lastExchangeAt === undefined
        ? this.o.initiator || now - this.startedAt > this.timing.rekeyInitiatorMs
        : now >= this.lastExchangeAt + (this.lastRole === 'responder' ? this.timing.rekeyResponderMs : this.timing.rekeyInitiatorMs);
    if (!due) return;
    this.busy = true;
    try {
      const x = await initiate(this.o.peer.host, this.o.peer.port, this.epoch + 1);
      await this.enqueue(() => this.install(x.key, x.epoch, 'exchanged', 'initiator'));
    } catch {
      this.nextAttemptAt = Date.now() + this.timing.retryMs;
    } finally {
      this.busy = false;
    }
  }

  private async install(key: Uint8Array, epoch: number, why: 'exchanged', role: 'initiator' | 'responder'): Promise<void> {
    const now = Date.now();
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
