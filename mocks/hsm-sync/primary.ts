// The primary agent (site A, where keys are made): scans its token every --scan-ms, journals what changed
// (journal.ts), and sends the journal after the replica's acknowledgement to the replica's tunnel
// address, one entry at a time, each acknowledged under a deadline. A session starts with hello/welcome
// (the replica's KEK and acknowledgement), and with the key ceremony when the two KEKs differ or one is
// missing (kek.ts). When the link fails (refused, or silent: a missed deadline), the session ends and is
// retried with back-off; whatever the replica has not acknowledged is sent again.
import { setTimeout as sleep } from 'node:timers/promises';
import { rsaFingerprint } from '../../src/hsm/key-fingerprint.ts';
import { formatHostPort, type HostPort } from '../kme/host-port.ts';
import { FramedConnection, LinkDown } from './connection.ts';
import type { SyncFault } from './faults.ts';
import { CeremonyAborted } from './kek.ts';
import { Journal, type JournalEntry } from './journal.ts';
import { nameKey } from './key-state.ts';
import { ProtocolError, type MessageOf } from './protocol.ts';
import type { EventLog, StatusBoard } from './status.ts';
import type { TokenWorker } from './token-client.ts';

export interface PrimaryOptions {
  site: string;
  /** The replica's tunnel address. */
  peer: HostPort;
  /** The replica's underlay address (used only by the send-outside-tunnel fault). */
  peerUnderlay?: HostPort;
  /** Local address to connect from (e.g. this site's tunnel address); default: the kernel's choice. */
  bind?: string;
  scanMs: number;
  /** Deadline of each network wait (connect, welcome, pong), ms. */
  netTimeoutMs: number;
  /** Deadline of each PKCS#11 request, ms; added to waits in which the replica works on its token. */
  hsmTimeoutMs: number;
  /** Idle sessions are probed this often, ms. */
  pingMs: number;
  /** Largest pause between connection attempts, ms (back-off from 250 ms). */
  retryMaxMs: number;
  faults: Set<SyncFault>;
}

const b64 = (b: Buffer): string => b.toString('base64');

export class PrimaryAgent {
  readonly journal = new Journal();
  private acked = 0;
  private stopped = false;
  private running: Promise<void> | undefined;
  private scanTimer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private conn: FramedConnection | undefined;
  private wakeUp: (() => void) | undefined;
  private stopWaiters = new Set<() => void>();
  private corrupted = false;
  private pings = 0;
  private readonly unreplicableSeen = new Set<string>();

  constructor(
    readonly o: PrimaryOptions,
    private readonly worker: TokenWorker,
    private readonly board: StatusBoard,
    private readonly log: EventLog,
  ) {
    if (o.faults.has('send-outside-tunnel') && !o.peerUnderlay) throw new Error('the send-outside-tunnel fault needs --peer-underlay HOST:PORT');
    board.update((s) => (s.journal = { id: this.journal.id, seq: 0, acked: 0, pending: 0 }));
  }

  /** Opens the token and scans it once (errors: the agent cannot run), then replicates until stop(). */
  async start(): Promise<void> {
    await this.scan(true);
    this.scheduleScan();
    this.running = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.scanTimer);
    this.wakeUp?.();
    for (const w of this.stopWaiters) w();
    this.conn?.close('the agent is stopping');
    await Promise.race([Promise.all([this.running, this.scanning]), sleep(5_000)]);
    await this.worker.close();
    this.board.update((s) => ((s.state = 'stopped'), (s.session = null)));
  }

  // ---- scanning ------------------------------------------------------------------------------------

  private scheduleScan(): void {
    if (this.stopped) return;
    this.scanTimer = setTimeout(() => {
      this.scanning = this.scan(false).finally(() => this.scheduleScan());
    }, this.o.scanMs);
  }

  /** One scan → journal entries. `strict`: errors propagate (the first scan: the token must open). */
  private async scan(strict: boolean): Promise<void> {
    let r;
    try {
      r = await this.worker.call('scan', {});
    } catch (err) {
      if (strict) throw err;
      this.hsmFailure(err, 'scan');
      return;
    }
    const { added, dropped } = this.journal.record(r.keys, { dropDeletes: this.o.faults.has('drop-deletes') });
    for (const k of dropped) this.log('fault', { fault: 'drop-deletes', name: { class: k.class, label: k.label, id: k.id }, fingerprint: k.fingerprint, why: 'tombstone not journaled' });
    for (const e of added) this.log('journal', { seq: e.seq, op: e.op, ...describe(e) });
    for (const u of r.unreplicable) {
      const k = `${nameKey(u.name)}${u.why}`;
      if (this.unreplicableSeen.has(k)) continue;
      this.unreplicableSeen.add(k);
      this.log('unreplicable', { name: u.name, why: u.why });
    }
    this.board.update((s) => {
      s.counters.scans++;
      s.counters.droppedDeletes += dropped.length;
      s.token = { label: this.worker.token ?? null, objects: r.objects };
      s.unreplicable = r.unreplicable;
    });
    this.updateJournal();
    if (added.length) this.wakeUp?.();
  }

  // ---- sessions ------------------------------------------------------------------------------------

  private async run(): Promise<void> {
    let backoff = 250;
    while (!this.stopped) {
      try {
        const conn = await this.openSession();
        backoff = 250;
        await this.stream(conn);
      } catch (err) {
        if (this.stopped) break;
        const why = err instanceof Error ? err.message : String(err);
        this.log('disconnected', { why, retryInMs: backoff });
        this.board.update((s) => ((s.state = 'disconnected'), (s.lastError = why)));
        if (!(err instanceof LinkDown) && !(err instanceof ProtocolError) && !(err instanceof CeremonyAborted)) this.hsmFailure(err, 'session');
      } finally {
        this.conn?.close();
        if (this.conn) this.board.detach(this.conn);
        this.conn = undefined;
        this.board.update((s) => (s.session = null));
      }
      if (this.stopped) break;
      await this.pause(backoff);
      backoff = Math.min(backoff * 2, this.o.retryMaxMs);
    }
  }

  private async openSession(): Promise<FramedConnection> {
    const outside = this.o.faults.has('send-outside-tunnel');
    const target = outside ? this.o.peerUnderlay! : this.o.peer;
    if (outside) this.log('fault', { fault: 'send-outside-tunnel', target: formatHostPort(target), instead: formatHostPort(this.o.peer) });
    this.board.update((s) => (s.state = 'connecting'));
    // Outside the tunnel the source is the underlay's own address: --bind (the tunnel address) is not used.
    const conn = await FramedConnection.dial(target, this.o.netTimeoutMs, outside ? undefined : this.o.bind);
    this.conn = conn;
    this.board.attach(conn);
    if (this.stopped) throw new LinkDown('stopping');
    const session = { local: conn.local, remote: conn.remote, since: Date.now() };
    this.board.update((s) => ((s.session = session), (s.lastSession = session), s.counters.sessions++));
    this.log('connected', { local: conn.local, remote: conn.remote });

    const { kcv } = await this.worker.call('kek', {});
    if (!kcv) this.board.update((s) => (s.kek = { kcv: null, since: null })); // a new PKCS#11 worker holds none
    conn.send({ type: 'hello', site: this.o.site, journal: this.journal.id, kek: kcv });
    const w = await conn.expect('welcome', this.o.netTimeoutMs, 'welcome');
    this.acked = Math.min(w.acked, this.journal.seq);
    this.log('welcome', { peer: w.site, kek: w.kek, acked: w.acked });
    this.updateJournal();
    if (!kcv || w.kek !== kcv) await this.ceremony(conn);
    return conn;
  }

  private async ceremony(conn: FramedConnection): Promise<void> {
    const peerWait = this.o.netTimeoutMs + this.o.hsmTimeoutMs;
    this.board.update((s) => (s.state = 'ceremony'));
    conn.send({ type: 'ceremony' });
    const tk = await conn.expect('transport-key', peerWait, 'transport key');
    const modulus = Buffer.from(tk.modulus, 'base64');
    const exponent = Buffer.from(tk.exponent, 'base64');
    if (rsaFingerprint(modulus, exponent) !== tk.fingerprint) throw new ProtocolError("the replica's transport key does not match its fingerprint");
    try {
      const k = await this.worker.call('wrap-new-kek', { modulus, exponent });
      conn.send({ type: 'kek', wrapped: b64(k.wrapped), kcv: k.kcv });
      const r = await conn.expect('kek-result', peerWait, "the replica's KEK check value");
      const { kcv } = await this.worker.call('commit-kek', { kcv: r.kcv, agreed: r.agreed });
      this.board.update((s) => ((s.kek = { kcv, since: Date.now() }), s.counters.ceremonies++));
      this.log('ceremony', { kcv, replicaKcv: r.kcv, transportKey: tk.fingerprint });
    } catch (err) {
      if (err instanceof CeremonyAborted) {
        this.board.update((s) => ((s.kek = { kcv: null, since: null }), s.counters.ceremoniesAborted++));
        this.log('ceremony-aborted', { why: err.message });
      } else await this.worker.call('abort-kek', {}).catch(() => undefined);
      throw err;
    }
  }

  /** Sends the journal after the replica's acknowledgement, then keeps the idle session probed. */
  private async stream(conn: FramedConnection): Promise<void> {
    let cursor = this.acked;
    void conn.closed.then(() => this.wakeUp?.()); // an idle wait ends when the session does
    while (!this.stopped) {
      const e = this.journal.next(cursor);
      if (!e) {
        this.board.update((s) => (s.state = 'idle'));
        const w = await this.waitForWork();
        if (!conn.open) throw new LinkDown(await conn.closed);
        if (w === 'idle') {
          const n = ++this.pings;
          conn.send({ type: 'ping', n });
          const p = await conn.expect('pong', this.o.netTimeoutMs, 'pong');
          if (p.n !== n) throw new ProtocolError(`pong ${p.n} for ping ${n}`);
        }
        continue;
      }
      this.board.update((s) => (s.state = 'syncing'));
      const ack = e.op === 'put' ? await this.sendPut(conn, e) : await this.sendDelete(conn, e);
      if (ack) this.acknowledged(e, ack);
      cursor = e.seq;
    }
  }

  /** Sends one put; undefined when the entry is superseded (the key changed or went since). */
  private async sendPut(conn: FramedConnection, e: Extract<JournalEntry, { op: 'put' }>): Promise<{ ack: MessageOf<'ack'>; ms: number } | undefined> {
    const x = await this.worker.call('export', { key: e.key });
    if (x.status !== 'ok') {
      this.log('superseded', { seq: e.seq, ...describe(e), why: x.status });
      this.board.count('superseded');
      return undefined;
    }
    const { key, kek } = x.exported;
    let wrapped = x.exported.wrapped;
    if (wrapped && this.o.faults.has('corrupt-blob') && !this.corrupted) {
      this.corrupted = true;
      wrapped = Buffer.from(wrapped);
      wrapped[wrapped.length >> 1]! ^= 0x01;
      this.log('fault', { fault: 'corrupt-blob', seq: e.seq, ...describe(e), bytes: wrapped.length });
      this.board.count('corrupted');
    }
    const pub = x.exported.public;
    conn.send({
      type: 'put',
      seq: e.seq,
      key,
      kek,
      ...(pub ? { public: pub.keyType === 'rsa' ? { keyType: 'rsa', modulus: b64(pub.modulus), exponent: b64(pub.exponent) } : { keyType: 'ec', params: b64(pub.params), point: b64(pub.point) } } : {}),
      ...(wrapped ? { wrapped: b64(wrapped) } : {}),
    });
    const t0 = performance.now();
    this.board.count('sent');
    this.log('sent', { seq: e.seq, op: 'put', ...describe(e), ...(wrapped ? { wrappedBytes: wrapped.length } : {}) });
    const ack = await conn.expect('ack', this.o.netTimeoutMs + this.o.hsmTimeoutMs, `acknowledgement of #${e.seq}`);
    return { ack, ms: performance.now() - t0 };
  }

  private async sendDelete(conn: FramedConnection, e: Extract<JournalEntry, { op: 'delete' }>): Promise<{ ack: MessageOf<'ack'>; ms: number }> {
    conn.send({ type: 'delete', seq: e.seq, object: e.name });
    const t0 = performance.now();
    this.board.count('sent');
    this.log('sent', { seq: e.seq, op: 'delete', ...describe(e) });
    const ack = await conn.expect('ack', this.o.netTimeoutMs + this.o.hsmTimeoutMs, `acknowledgement of #${e.seq}`);
    return { ack, ms: performance.now() - t0 };
  }

  private acknowledged(e: JournalEntry, { ack, ms }: { ack: MessageOf<'ack'>; ms: number }): void {
    if (ack.seq !== e.seq) throw new ProtocolError(`acknowledgement of #${ack.seq} while #${e.seq} was awaited`);
    this.acked = e.seq;
    this.board.count(ack.result);
    if (e.op === 'put') this.board.latency(Math.round(ms * 10) / 10);
    if (ack.result === 'rejected') {
      const name = e.op === 'put' ? { class: e.key.class, label: e.key.label, id: e.key.id } : e.name;
      this.board.update((s) => s.rejected.push({ name, detail: ack.detail ?? '' }));
    }
    this.log('ack', { seq: e.seq, result: ack.result, ...describe(e), ms: Math.round(ms * 10) / 10, ...(ack.detail ? { detail: ack.detail } : {}), ...(ack.copies !== undefined ? { copies: ack.copies } : {}) });
    this.updateJournal();
  }

  // ---- helpers -------------------------------------------------------------------------------------

  private updateJournal(): void {
    this.board.update((s) => (s.journal = { id: this.journal.id, seq: this.journal.seq, acked: this.acked, pending: this.journal.seq - this.acked }));
  }

  /** Waits for a wake-up (new journal entries, the session's end, stop) → 'work', or the ping interval → 'idle'. */
  private waitForWork(): Promise<'work' | 'idle'> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => done('idle'), this.o.pingMs);
      const done = (w: 'work' | 'idle') => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve(w);
      };
      this.wakeUp = () => done('work');
    });
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.stopWaiters.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.stopWaiters.add(done);
    });
  }

  private hsmFailure(err: unknown, during: string): void {
    const why = err instanceof Error ? err.message : String(err);
    this.log('hsm-error', { during, why });
    this.board.update((s) => ((s.hsm = { generation: this.worker.generation, lastError: why }), (s.lastError = why)));
  }
}

/** An entry's name and fingerprint for events (never anything else about the key). */
function describe(e: JournalEntry): { name: { class: string; label: string; id: string }; fingerprint: string } {
  return e.op === 'put' ? { name: { class: e.key.class, label: e.key.label, id: e.key.id }, fingerprint: e.key.fingerprint } : { name: e.name, fingerprint: e.fingerprint };
}
