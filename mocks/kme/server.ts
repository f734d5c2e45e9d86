// The transport of one KME: a TCP listener that hands each new connection to the TLS server of the current
// transport mode (or straight to HTTP under plain-http), so deviations switch at run time on the same port.
// TLS ≥ 1.2 with a client certificate requested; the mock, not Node, decides about a client whose
// certificate does not verify, so that it can log why (peer, failed check, subject, validity) before it
// closes the connection — faithful: refused; any-client-cert: served; unauthenticated-served-*: served
// with a hostile answer. HTTP runs on one server behind every TLS server; every socket has a handshake,
// header, request, keep-alive and idle timeout; HTTP parse errors get a 400 Error body and a close.
//
// Alerts (docs/mock-kme.md, "Refused clients"): Node's OpenSSL verify callback accepts every chain and
// leaves the verdict to JavaScript after the handshake, so no bad_certificate/unknown_ca/certificate_expired
// alert can be sent; the mock ends a refused connection with close_notify, the one alert left to it.
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { MockConfig } from './config.ts';
import type { DeviationSwitch } from './deviation-switch.ts';
import type { DeviationName } from './deviations.ts';
import { formatHostPort } from './host-port.ts';
import { JSON_TYPE } from './respond.ts';
import { clientCertificateVerdict, handshakeFailure } from './tls-refusal.ts';

export type TransportMode = 'strict' | 'any-cert' | 'unauth-oversized' | 'unauth-reset' | 'plain' | 'tls11' | 'tls13' | 'impostor';

/** How an unauthenticated client is answered under the unauthenticated-served-* deviations. */
export type UnauthenticatedShape = 'oversized' | 'reset';

type TlsProfile = 'default' | 'tls11' | 'tls13' | 'impostor';

export interface KmeServerOptions {
  host: string;
  port: number;
  /** PEM: the KME certificate (CN = KME ID), its key, and the CA that signs SAE certificates; `impostor`
   * is a CA-signed certificate for another host and KME ID (deviation kme-cert-mismatch). */
  tls: { cert: string | Buffer; key: string | Buffer; ca: string | Buffer; impostor?: { cert: string | Buffer; key: string | Buffer } };
  timeouts: MockConfig['timeouts'];
  deviations: DeviationSwitch;
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Called with one line for TLS refusals and failures (no key material). */
  log: (line: string) => void;
}

/** The deviation that selects each non-strict mode, by precedence. */
const MODES: Array<[DeviationName, TransportMode]> = [
  ['plain-http', 'plain'],
  ['any-client-cert', 'any-cert'],
  ['unauthenticated-served-oversized', 'unauth-oversized'],
  ['unauthenticated-served-reset', 'unauth-reset'],
  ['tls-1.1-accepted', 'tls11'],
  ['tls-1.3-only', 'tls13'],
  ['kme-cert-mismatch', 'impostor'],
];

const PROFILE: Record<Exclude<TransportMode, 'plain'>, TlsProfile> = {
  strict: 'default',
  'any-cert': 'default',
  'unauth-oversized': 'default',
  'unauth-reset': 'default',
  tls11: 'tls11',
  tls13: 'tls13',
  impostor: 'impostor',
};

export function modeOf(dev: DeviationSwitch): TransportMode {
  return MODES.find(([d]) => dev.has(d))?.[1] ?? 'strict';
}

const PARSE_ERROR = (() => {
  const body = JSON.stringify({ message: 'the request is not valid HTTP/1.1' });
  return `HTTP/1.1 400 Bad Request\r\ncontent-type: ${JSON_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
})();

/** How long a refused client may take to read close_notify before its connection is destroyed. */
const REFUSAL_GRACE_MS = 1000;

/** One accepted TCP connection. `settled`: its TLS outcome (or plain HTTP) is known, nothing more to log at close. */
interface Connection {
  socket: Socket;
  mode: TransportMode;
  peer: string;
  settled: boolean;
}

const peerOf = (s: Socket): string | undefined => (s.remoteAddress ? formatHostPort({ host: s.remoteAddress, port: s.remotePort ?? 0 }) : undefined);

export class KmeServer {
  private readonly front: NetServer;
  private readonly http: HttpServer;
  private readonly tls: Record<TlsProfile, TlsServer>;
  private readonly connections = new Map<Socket, Connection>();
  /** The same connections by peer HOST:PORT: a TLS socket is found through its peer address (Node links it to its TCP socket only internally). */
  private readonly byPeer = new Map<string, Connection>();
  private readonly unauthenticated = new WeakMap<object, UnauthenticatedShape>();
  private boundPort = 0;
  private closing = false;

  private constructor(private readonly o: KmeServerOptions) {
    const t = o.timeouts;
    this.http = createHttpServer(
      { headersTimeout: t.headers_ms, requestTimeout: t.request_ms, keepAliveTimeout: t.keep_alive_ms, connectionsCheckingInterval: 1000, maxHeaderSize: 16 * 1024 },
      o.handler,
    );
    this.http.timeout = t.idle_ms;
    this.http.maxHeadersCount = 100;
    this.http.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      if (socket.writable && err.code !== 'ECONNRESET' && !(socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) socket.end(PARSE_ERROR);
      socket.destroy();
    });
    // Arms the header/request timeout checks, which Node starts on 'listening': this server never listens
    // itself, the front (or a TLS server) hands it connections.
    this.http.emit('listening');

    // rejectUnauthorized: false — the mock decides in admit(), where it can still see the certificate.
    const base = { cert: o.tls.cert, key: o.tls.key, ca: o.tls.ca, minVersion: 'TLSv1.2' as const, requestCert: true, rejectUnauthorized: false, handshakeTimeout: t.handshake_ms };
    this.tls = {
      default: createTlsServer(base),
      tls11: createTlsServer({ ...base, minVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
      tls13: createTlsServer({ ...base, minVersion: 'TLSv1.3' }),
      impostor: createTlsServer({ ...base, ...(o.tls.impostor ?? {}) }),
    };
    for (const server of Object.values(this.tls)) {
      server.on('secureConnection', (socket: TLSSocket) => this.admit(socket));
      server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => this.handshakeFailed(err, socket));
    }
    this.front = createNetServer((socket) => this.accept(socket));
    this.front.on('error', (err) => o.log(`listener error: ${err.message}`));
    o.deviations.onChange(() => this.dropOtherModes());
  }

  static async start(o: KmeServerOptions): Promise<KmeServer> {
    const s = new KmeServer(o);
    await new Promise<void>((resolve, reject) => {
      s.front.once('error', reject);
      s.front.listen(o.port, o.host, () => {
        s.front.off('error', reject);
        resolve();
      });
    });
    s.boundPort = (s.front.address() as AddressInfo).port;
    return s;
  }

  get port(): number {
    return this.boundPort;
  }

  /** The hostile answer owed to this client, when it was let in unauthenticated by an unauthenticated-served-* deviation. */
  unauthenticatedShape(socket: object): UnauthenticatedShape | undefined {
    return this.unauthenticated.get(socket);
  }

  /** Lifts every idle timeout off the connection of `socket` (a request the KME holds unanswered on purpose: faults file `hang`). */
  holdOpen(socket: Socket): void {
    socket.setTimeout(0);
    const c = this.byPeer.get(peerOf(socket) ?? '?');
    c?.socket.setTimeout(0);
  }

  private accept(socket: Socket): void {
    const mode = modeOf(this.o.deviations);
    const c: Connection = { socket, mode, peer: peerOf(socket) ?? '?', settled: mode === 'plain' };
    this.connections.set(socket, c);
    this.byPeer.set(c.peer, c);
    socket.setNoDelay(true);
    socket.setTimeout(this.o.timeouts.idle_ms, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.once('close', () => {
      this.connections.delete(socket);
      if (this.byPeer.get(c.peer) === c) this.byPeer.delete(c.peer);
      // A handshake that failed with a live socket was logged by handshakeFailed; this is the client hanging up.
      if (!c.settled && !this.closing) this.o.log(`TLS handshake from ${c.peer} not completed (${mode}): the client closed the connection`);
    });
    if (mode === 'plain') this.http.emit('connection', socket);
    else this.tls[PROFILE[mode]].emit('connection', socket);
  }

  /** A completed handshake: authenticated clients go to HTTP; the others as the mode says. */
  private admit(socket: TLSSocket): void {
    const peer = peerOf(socket) ?? '?';
    const c = this.byPeer.get(peer);
    if (c) c.settled = true;
    const mode = c?.mode ?? modeOf(this.o.deviations);
    if (socket.authorized || mode === 'any-cert') {
      this.http.emit('connection', socket);
      return;
    }
    const why = clientCertificateVerdict(socket);
    if (mode === 'unauth-oversized' || mode === 'unauth-reset') {
      this.unauthenticated.set(socket, mode === 'unauth-oversized' ? 'oversized' : 'reset');
      this.o.log(`TLS client ${peer} not authenticated, served anyway (${mode}): ${why}`);
      this.http.emit('connection', socket);
      return;
    }
    this.o.log(`TLS client ${peer} refused (${mode}): ${why}`);
    // close_notify, then the connection goes: nothing of it reaches HTTP.
    socket.on('error', () => undefined);
    socket.end();
    const timer = setTimeout(() => socket.destroy(), REFUSAL_GRACE_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  /** A handshake that failed (protocol, timeout, the client's alert): logged, and the connection goes. */
  private handshakeFailed(err: NodeJS.ErrnoException, socket: TLSSocket): void {
    const peer = peerOf(socket);
    socket.destroy();
    if (!peer) return; // already closed: the TCP connection's close names the peer
    const c = this.byPeer.get(peer);
    if (c) c.settled = true;
    if (!this.closing) this.o.log(`TLS handshake from ${peer} failed (${c?.mode ?? modeOf(this.o.deviations)}): ${handshakeFailure(err)}`);
  }

  /** A switch of transport deviation takes effect at once: connections of the previous mode are closed. */
  private dropOtherModes(): void {
    const mode = modeOf(this.o.deviations);
    for (const c of this.connections.values()) {
      if (c.mode === mode) continue;
      c.settled = true;
      c.socket.destroy();
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    const closed = new Promise<void>((ok) => this.front.close(() => ok()));
    for (const c of this.connections.values()) c.socket.destroy();
    this.http.closeAllConnections();
    this.http.removeAllListeners('listening');
    this.http.close();
    for (const server of Object.values(this.tls)) server.close();
    await closed;
  }
}
