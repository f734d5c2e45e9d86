// The KMS↔KMS link between processes: newline-delimited JSON frames over TCP with mutual TLS, both ends
// authenticated by their KME certificates (CA-signed and carrying the expected KME ID). A KME may listen
// (`--link-listen`), dial (`--link-peer`), or both; every authenticated connection carries reservations in
// both directions, so one dialling side is enough. The dialler keeps its connection up (reconnecting with
// back-off); pings detect a dead peer; every reservation has an acknowledgement deadline.
//
// Frames: {"t":"hello","v":1,"kme_id":…,"check":…} first from both sides (check: a value derived from the
// link secret, so two ends with different --link-seed refuse each other), then {"t":"reserve","seq":n,
// "msg":…} → {"t":"ack","seq":n} or {"t":"nack","seq":n,"reason":…}, and {"t":"ping"}.
import { X509Certificate } from 'node:crypto';
import { isIP, type AddressInfo } from 'node:net';
import { connect, createServer, type PeerCertificate, type Server, type TLSSocket } from 'node:tls';
import { kmeIdInCertificate } from '../../src/kme/kme-id.ts';
import { LinkError, type KmsLink, type ReservationHandler } from './kms-link.ts';
import type { ReservationMessage } from './reservations.ts';
import { formatHostPort, type HostPort } from './host-port.ts';

export { formatHostPort, parseHostPort, type HostPort } from './host-port.ts';

export interface TcpLinkOptions {
  selfKmeId: string;
  peerKmeId: string;
  /** PEM: this KME's certificate and key (server and client usage), and the CA. */
  tls: { cert: string | Buffer; key: string | Buffer; ca: string | Buffer };
  listen?: HostPort;
  peer?: HostPort;
  /** QkdLink.check of this end. */
  check: string;
  ackTimeoutMs: number;
  connectTimeoutMs: number;
  pingMs: number;
  log: (line: string) => void;
}

const MAX_FRAME = 1024 * 1024;
const MAX_INBOUND = 8;

interface Pending {
  resolve: () => void;
  reject: (e: LinkError) => void;
  timer: NodeJS.Timeout;
}

class Connection {
  ready = false;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private readonly ping: NodeJS.Timeout;

  constructor(
    readonly socket: TLSSocket,
    readonly direction: 'in' | 'out',
    private readonly link: TcpKmsLink,
  ) {
    socket.setNoDelay(true);
    socket.setTimeout(link.o.pingMs * 3, () => socket.destroy(new Error('no traffic from the peer within three ping intervals')));
    this.ping = setInterval(() => this.send({ t: 'ping' }), link.o.pingMs).unref();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined); // 'close' follows
    socket.once('close', () => this.onClose());
    this.send({ t: 'hello', v: 1, kme_id: link.o.selfKmeId, check: link.o.check });
  }

  send(frame: object): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(`${JSON.stringify(frame)}\n`);
  }

  reserve(msg: ReservationMessage, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const seq = ++this.seq;
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new LinkError(`the peer KME ${this.link.o.peerKmeId} did not acknowledge the reservation within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(seq, { resolve, reject, timer });
      this.send({ t: 'reserve', seq, msg });
    });
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf(0x0a)) >= 0) {
      const line = this.buffer.subarray(0, nl).toString('utf8');
      this.buffer = this.buffer.subarray(nl + 1);
      if (line.trim() !== '') this.onFrame(line);
      if (this.socket.destroyed) return;
    }
    if (this.buffer.length > MAX_FRAME) this.fail('a frame from the peer exceeds 1 MiB');
  }

  private fail(reason: string): void {
    this.send({ t: 'bye', reason });
    this.link.o.log(`KMS link ${this.direction === 'out' ? 'to' : 'from'} ${this.link.o.peerKmeId}: ${reason}; closing`);
    this.socket.end();
    this.socket.destroySoon();
  }

  private onFrame(line: string): void {
    let f: { t?: unknown; seq?: unknown; msg?: unknown; kme_id?: unknown; check?: unknown; reason?: unknown };
    try {
      f = JSON.parse(line) as typeof f;
    } catch {
      return this.fail('the peer sent a frame that is not JSON');
    }
    if (f === null || typeof f !== 'object') return this.fail('the peer sent a frame that is not an object');
    if (f.t === 'hello') {
      if (f.kme_id !== this.link.o.peerKmeId) return this.fail(`the peer says it is ${String(f.kme_id)}, expected ${this.link.o.peerKmeId}`);
      if (f.check !== this.link.o.check) return this.fail('the peer holds a different link secret (--link-seed differs)');
      this.ready = true;
      this.link.connectionReady(this);
      return;
    }
    if (!this.ready) return this.fail('the peer sent a frame before its hello');
    const seq = typeof f.seq === 'number' ? f.seq : -1;
    switch (f.t) {
      case 'ping':
        return;
      case 'bye':
        this.link.o.log(`KMS link: the peer ${this.link.o.peerKmeId} closed the connection: ${String(f.reason).slice(0, 200)}`);
        return;
      case 'reserve': {
        const reason = this.link.apply(f.msg);
        this.send(reason === undefined ? { t: 'ack', seq } : { t: 'nack', seq, reason });
        return;
      }
      case 'ack':
      case 'nack': {
        const p = this.pending.get(seq);
        if (!p) return; // late answer after its deadline
        this.pending.delete(seq);
        clearTimeout(p.timer);
        if (f.t === 'ack') p.resolve();
        else p.reject(new LinkError(`the peer KME ${this.link.o.peerKmeId} refused the reservation: ${String(f.reason).slice(0, 200)}`));
        return;
      }
      default:
        return this.fail(`the peer sent an unknown frame type ${JSON.stringify(f.t)?.slice(0, 40)}`);
    }
  }

  private onClose(): void {
    clearInterval(this.ping);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new LinkError(`the KMS link to ${this.link.o.peerKmeId} closed before the reservation was acknowledged`));
    }
    this.pending.clear();
    this.link.connectionClosed(this);
  }
}

export class TcpKmsLink implements KmsLink {
  private readonly connections = new Set<Connection>();
  private handler: ReservationHandler | undefined;
  private server: Server | undefined;
  private closed = false;
  private dialing: TLSSocket | undefined;
  private redial: NodeJS.Timeout | undefined;
  private backoffMs = 100;
  private wasUp = false;
  private downLogged = false;
  private readonly waiters = new Set<(c: Connection | undefined) => void>();
  private listenAt: HostPort | undefined;

  private constructor(readonly o: TcpLinkOptions) {}

  /** Starts listening and/or dialling; resolves once the listener (if any) is bound. */
  static async start(o: TcpLinkOptions): Promise<TcpKmsLink> {
    const link = new TcpKmsLink(o);
    if (o.listen) await link.listen(o.listen);
    if (o.peer) link.dial();
    return link;
  }

  /** Where this end listens (with the actual port when 0 was asked). */
  get listenAddress(): HostPort | undefined {
    return this.listenAt;
  }

  onReservation(handler: ReservationHandler): void {
    this.handler = handler;
  }

  isUp(): boolean {
    return this.readyConnection() !== undefined;
  }

  async reserve(msg: ReservationMessage): Promise<void> {
    if (this.closed) throw new LinkError('the KMS link is closed');
    const conn = this.readyConnection() ?? (await this.waitReady(this.o.connectTimeoutMs));
    if (!conn) throw new LinkError(`the KMS link to ${this.o.peerKmeId} is down (no connection within ${this.o.connectTimeoutMs} ms)`);
    await conn.reserve(msg, this.o.ackTimeoutMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.redial);
    for (const w of [...this.waiters]) w(undefined);
    this.dialing?.destroy();
    for (const c of this.connections) c.socket.destroy();
    const server = this.server;
    if (server) await new Promise<void>((ok) => server.close(() => ok()));
  }

  /** Called by a connection for a reservation frame; returns a refusal reason or undefined. */
  apply(msg: unknown): string | undefined {
    if (!this.handler) return 'the KME is not ready';
    try {
      this.handler(msg as ReservationMessage);
      return undefined;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  }

  connectionReady(c: Connection): void {
    this.backoffMs = 100;
    if (!this.wasUp) this.o.log(`KMS link to ${this.o.peerKmeId} up (${c.direction === 'out' ? 'dialled' : 'accepted'} ${formatHostPort({ host: c.socket.remoteAddress ?? '?', port: c.socket.remotePort ?? 0 })})`);
    this.wasUp = true;
    this.downLogged = false;
    for (const w of this.waiters) w(c);
    this.waiters.clear();
  }

  connectionClosed(c: Connection): void {
    this.connections.delete(c);
    if (this.wasUp && !this.isUp() && !this.closed) {
      this.o.log(`KMS link to ${this.o.peerKmeId} down`);
      this.wasUp = false;
    }
  }

  private readyConnection(): Connection | undefined {
    let found: Connection | undefined;
    for (const c of this.connections) if (c.ready && !c.socket.destroyed) found = c; // the newest
    return found;
  }

  private waitReady(ms: number): Promise<Connection | undefined> {
    return new Promise((resolve) => {
      const done = (c: Connection | undefined): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve(c);
      };
      const timer = setTimeout(() => done(undefined), ms);
      this.waiters.add(done);
    });
  }

  private adopt(socket: TLSSocket, direction: 'in' | 'out'): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const inbound = [...this.connections].filter((c) => c.direction === 'in');
    if (direction === 'in' && inbound.length >= MAX_INBOUND) inbound[0]!.socket.destroy();
    this.connections.add(new Connection(socket, direction, this));
  }

  private peerCertOk(cert: PeerCertificate | undefined): boolean {
    try {
      return cert?.raw !== undefined && kmeIdInCertificate(new X509Certificate(cert.raw), this.o.peerKmeId);
    } catch {
      return false;
    }
  }

  private listen(at: HostPort): Promise<void> {
    const server = createServer({
      cert: this.o.tls.cert,
      key: this.o.tls.key,
      ca: this.o.tls.ca,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      handshakeTimeout: this.o.connectTimeoutMs,
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      if (!this.peerCertOk(socket.getPeerCertificate())) {
        this.o.log(`KMS link: refused a connection from ${socket.remoteAddress ?? '?'}: its certificate does not carry the KME ID ${this.o.peerKmeId}`);
        socket.destroy();
        return;
      }
      this.adopt(socket, 'in');
    });
    server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      this.o.log(`KMS link: TLS handshake from ${socket.remoteAddress ?? '?'} failed (${(err as NodeJS.ErrnoException).code ?? err.message})`);
    });
    server.on('error', (err) => this.o.log(`KMS link listener error: ${err.message}`));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(at.port, at.host, () => {
        server.off('error', reject);
        const a = server.address() as AddressInfo;
        this.listenAt = { host: at.host, port: a.port };
        resolve();
      });
    });
  }

  private dial(): void {
    const peer = this.o.peer;
    if (this.closed || !peer) return;
    const socket = connect({
      host: peer.host,
      port: peer.port,
      servername: isIP(peer.host) ? undefined : peer.host,
      cert: this.o.tls.cert,
      key: this.o.tls.key,
      ca: this.o.tls.ca,
      minVersion: 'TLSv1.2',
      // The peer is identified by its KME ID (carried in its CA-signed certificate), not by the address dialled.
      checkServerIdentity: (_host, cert) => (this.peerCertOk(cert) ? undefined : new Error(`the peer certificate does not carry the KME ID ${this.o.peerKmeId}`)),
    });
    this.dialing = socket;
    const timer = setTimeout(() => socket.destroy(new Error(`no TLS connection within ${this.o.connectTimeoutMs} ms`)), this.o.connectTimeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      this.dialing = undefined;
      this.adopt(socket, 'out');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!this.downLogged && !this.closed) {
        this.o.log(`KMS link: cannot reach the peer ${this.o.peerKmeId} at ${formatHostPort(peer)} (${err.code ?? err.message}); retrying`);
        this.downLogged = true;
      }
    });
    socket.once('close', () => {
      clearTimeout(timer);
      if (this.dialing === socket) this.dialing = undefined;
      if (this.closed) return;
      this.redial = setTimeout(() => this.dial(), this.backoffMs);
      this.redial.unref();
      this.backoffMs = Math.min(this.backoffMs * 2, 2000);
    });
  }
}
