// The replica agent (site B): listens on its tunnel address (and nowhere else unless told: each --listen
// is an address the service is reachable on), answers the primary's hello with its KEK's check value and
// the last sequence number it applied from that journal, takes part in the key ceremony, and applies
// puts and tombstones to its token one at a time (replicate.ts), acknowledging each. A newer session from
// the primary replaces an older one (the old one may be dead without knowing it: a cut link). A session
// silent for --idle-ms is closed.
import { createServer, type Server } from 'node:net';
import { formatHostPort, type HostPort } from '../kme/host-port.ts';
import { FramedConnection, LinkDown } from './connection.ts';
import type { SyncFault } from './faults.ts';
import { KekMismatch, type Exported, type PublicPartsBin } from './replicate.ts';
import { ProtocolError, type MessageOf, type Outgoing } from './protocol.ts';
import type { EventLog, StatusBoard } from './status.ts';
import type { TokenWorker } from './token-client.ts';

export interface ReplicaOptions {
  site: string;
  listen: HostPort[];
  /** Deadline of the hello after a connection is accepted, ms. */
  netTimeoutMs: number;
  /** A session with no message for this long is closed, ms (above the primary's ping interval). */
  idleMs: number;
  faults: Set<SyncFault>;
}

const bin = (s: string): Buffer => Buffer.from(s, 'base64');

export class ReplicaAgent {
  private readonly servers: Server[] = [];
  private readonly sessions = new Set<FramedConnection>();
  private active: FramedConnection | undefined;
  /** Last sequence number applied per primary journal ID. */
  private readonly acked = new Map<string, number>();
  private countTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    readonly o: ReplicaOptions,
    private readonly worker: TokenWorker,
    private readonly board: StatusBoard,
    private readonly log: EventLog,
  ) {}

  /** Opens the token (errors: the agent cannot run), then listens on every --listen address. */
  async start(): Promise<void> {
    const { objects } = await this.worker.call('count', {});
    this.board.update((s) => (s.token = { label: this.worker.token ?? null, objects }));
    for (const at of this.o.listen) {
      const server = createServer((sock) => this.accept(new FramedConnection(sock)));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(at.port, at.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', (e) => this.log('listen-error', { at: formatHostPort(at), why: e.message }));
      this.servers.push(server);
    }
    this.board.update((s) => (s.state = 'listening'));
  }

  /** The addresses actually listened on (port 0 in --listen picks a free one). */
  get addresses(): string[] {
    return this.servers.map((s) => {
      const a = s.address();
      return typeof a === 'object' && a ? formatHostPort({ host: a.address, port: a.port }) : String(a);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.countTimer);
    for (const c of this.sessions) c.close('the agent is stopping');
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    await this.worker.close();
    this.board.update((s) => ((s.state = 'stopped'), (s.session = null)));
  }

  private accept(conn: FramedConnection): void {
    if (this.stopped) return conn.close('the agent is stopping');
    this.sessions.add(conn);
    void this.serve(conn).finally(() => this.sessions.delete(conn));
  }

  private async serve(conn: FramedConnection): Promise<void> {
    this.board.attach(conn);
    try {
      const hello = await conn.expect('hello', this.o.netTimeoutMs, 'hello');
      if (this.active && this.active !== conn) {
        this.active.send({ type: 'error', code: 'replaced', message: 'a newer session from the primary replaced this one', retry: true });
        this.active.close('replaced by a newer session');
      }
      this.active = conn;
      const session = { local: conn.local, remote: conn.remote, since: Date.now() };
      this.board.update((s) => ((s.session = session), (s.lastSession = session), s.counters.sessions++, (s.state = 'syncing')));
      this.log('connected', { local: conn.local, remote: conn.remote, peer: hello.site, journal: hello.journal, peerKek: hello.kek });
      const { kcv } = await this.hsm(conn, () => this.worker.call('kek', {}));
      if (!kcv) this.board.update((s) => (s.kek = { kcv: null, since: null }));
      conn.send({ type: 'welcome', site: this.o.site, kek: kcv, acked: this.acked.get(hello.journal) ?? 0 });
      for (;;) {
        const m = await conn.receive(this.o.idleMs, 'message');
        if (m.type === 'ping') conn.send({ type: 'pong', n: m.n });
        else if (m.type === 'ceremony') await this.transportKey(conn);
        else if (m.type === 'kek') await this.acceptKek(conn, m);
        else if (m.type === 'put' || m.type === 'delete') await this.apply(conn, hello.journal, m);
        else throw new ProtocolError(`unexpected ${m.type} from the primary`);
      }
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (err instanceof ProtocolError) conn.send({ type: 'error', code: err.code, message: why, retry: false });
      if (!this.stopped) this.log('disconnected', { remote: conn.remote, why });
    } finally {
      conn.close();
      this.board.detach(conn);
      if (this.active === conn) {
        this.active = undefined;
        if (!this.stopped) this.board.update((s) => ((s.session = null), (s.state = 'listening')));
      }
    }
  }

  private async transportKey(conn: FramedConnection): Promise<void> {
    this.board.update((s) => (s.state = 'ceremony'));
    const tk = await this.hsm(conn, () => this.worker.call('transport-key', {}));
    conn.send({ type: 'transport-key', modulus: tk.modulus.toString('base64'), exponent: tk.exponent.toString('base64'), fingerprint: tk.fingerprint });
    this.log('transport-key', { fingerprint: tk.fingerprint });
  }

  private async acceptKek(conn: FramedConnection, m: MessageOf<'kek'>): Promise<void> {
    const r = await this.hsm(conn, () => this.worker.call('accept-kek', { wrapped: bin(m.wrapped), kcv: m.kcv }));
    conn.send({ type: 'kek-result', kcv: r.kcv, agreed: r.agreed });
    if (r.agreed) {
      this.board.update((s) => ((s.kek = { kcv: r.kcv, since: Date.now() }), s.counters.ceremonies++, (s.state = 'syncing')));
      this.log('ceremony', { kcv: r.kcv });
    } else {
      this.board.update((s) => s.counters.ceremoniesAborted++);
      this.log('ceremony-aborted', { why: `the KEK check values differ (primary ${m.kcv}, replica ${r.kcv})` });
    }
  }

  private async apply(conn: FramedConnection, journal: string, m: MessageOf<'put'> | MessageOf<'delete'>): Promise<void> {
    let ack: Extract<Outgoing, { type: 'ack' }>;
    const name = m.type === 'put' ? { class: m.key.class, label: m.key.label, id: m.key.id } : m.object;
    if (m.type === 'put') {
      const exported: Exported = { key: m.key, kek: m.kek, ...(m.public ? { public: decodePublic(m.public) } : {}), ...(m.wrapped ? { wrapped: bin(m.wrapped) } : {}) };
      const r = await this.hsm(conn, () => this.worker.call('import', { exported, faults: { duplicate: this.o.faults.has('duplicate-imports'), nonSensitive: this.o.faults.has('unwrap-non-sensitive') } }));
      ack = { type: 'ack', seq: m.seq, result: r.result, fingerprint: r.fingerprint, copies: r.copies, ...(r.detail ? { detail: r.detail } : {}) };
      if (r.result === 'rejected') this.board.update((s) => s.rejected.push({ name, detail: r.detail ?? '' }));
      this.log('applied', { seq: m.seq, op: 'put', name, fingerprint: m.key.fingerprint, result: r.result, copies: r.copies, ...(r.detail ? { detail: r.detail } : {}), ...(m.wrapped ? { wrappedBytes: bin(m.wrapped).length } : {}) });
    } else {
      const { deleted } = await this.hsm(conn, () => this.worker.call('delete', { name: m.object }));
      ack = { type: 'ack', seq: m.seq, result: deleted ? 'deleted' : 'absent', copies: 0 };
      this.log('applied', { seq: m.seq, op: 'delete', name, result: ack.result, destroyed: deleted });
    }
    this.acked.set(journal, m.seq);
    this.board.count(ack.result);
    conn.send(ack);
    this.countSoon();
  }

  /**
   * Runs a token request for the session. The replica's KEK is not the one the put names: the primary
   * must run the ceremony again (error `kek`, retry). A token that failed or missed its deadline: error
   * `hsm`, retry (the next request starts a fresh PKCS#11 worker). Either way the session ends.
   */
  private async hsm<T>(conn: FramedConnection, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      const kek = err instanceof KekMismatch;
      conn.send({ type: 'error', code: kek ? 'kek' : 'hsm', message: why, retry: true });
      if (!kek) {
        this.log('hsm-error', { why });
        this.board.update((s) => ((s.hsm = { generation: this.worker.generation, lastError: why }), (s.lastError = why)));
      }
      throw new LinkDown(why);
    }
  }

  /** Refreshes the token's object count for the status, at most every 200 ms. */
  private countSoon(): void {
    if (this.countTimer) return;
    this.countTimer = setTimeout(() => {
      this.countTimer = undefined;
      this.worker
        .call('count', {})
        .then(({ objects }) => this.board.update((s) => (s.token.objects = objects)))
        .catch(() => undefined);
    }, 200);
  }
}

function decodePublic(p: NonNullable<MessageOf<'put'>['public']>): PublicPartsBin {
  return p.keyType === 'rsa' ? { keyType: 'rsa', modulus: bin(p.modulus), exponent: bin(p.exponent) } : { keyType: 'ec', params: bin(p.params), point: bin(p.point) };
}
