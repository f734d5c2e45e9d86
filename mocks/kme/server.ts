// The transport of one KME: a TCP listener that hands each new connection to the right inner server —
// HTTPS requiring a CA-signed client certificate (faithful), HTTPS accepting any client certificate or
// none (deviation any-client-cert), or plain HTTP (deviation plain-http) — so deviations switch at run
// time on the same port. TLS ≥ 1.2; every socket has a handshake, header, request, keep-alive and idle
// timeout; HTTP parse errors are answered with a 400 Error body and the connection closed.
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { MockConfig } from './config.ts';
import type { DeviationSwitch } from './deviation-switch.ts';
import { JSON_TYPE } from './respond.ts';

export type TransportMode = 'strict' | 'any-cert' | 'plain' | 'tls11' | 'tls13' | 'impostor';

export interface KmeServerOptions {
  host: string;
  port: number;
  /** PEM: the KME certificate (CN = KME ID), its key, and the CA that signs SAE certificates; `impostor`
   * is a CA-signed certificate for another host and KME ID (deviation kme-cert-mismatch). */
  tls: { cert: string | Buffer; key: string | Buffer; ca: string | Buffer; impostor?: { cert: string | Buffer; key: string | Buffer } };
  timeouts: MockConfig['timeouts'];
  deviations: DeviationSwitch;
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Called with one line for TLS failures (no key material). */
  log: (line: string) => void;
}

const MODES: Array<[Parameters<DeviationSwitch['has']>[0], TransportMode]> = [
  ['plain-http', 'plain'],
  ['any-client-cert', 'any-cert'],
  ['tls-1.1-accepted', 'tls11'],
  ['tls-1.3-only', 'tls13'],
  ['kme-cert-mismatch', 'impostor'],
];

export function modeOf(dev: DeviationSwitch): TransportMode {
  return MODES.find(([d]) => dev.has(d))?.[1] ?? 'strict';
}

const PARSE_ERROR = (() => {
  const body = JSON.stringify({ message: 'the request is not valid HTTP/1.1' });
  return `HTTP/1.1 400 Bad Request\r\ncontent-type: ${JSON_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
})();

export class KmeServer {
  private readonly front: NetServer;
  private readonly inner: Record<TransportMode, HttpServer | HttpsServer>;
  private readonly sockets = new Map<Socket, TransportMode>();
  private boundPort = 0;

  private constructor(private readonly o: KmeServerOptions) {
    const t = o.timeouts;
    const http = {
      headersTimeout: t.headers_ms,
      requestTimeout: t.request_ms,
      keepAliveTimeout: t.keep_alive_ms,
      connectionsCheckingInterval: 1000,
      maxHeaderSize: 16 * 1024,
    };
    const tls = { cert: o.tls.cert, key: o.tls.key, ca: o.tls.ca, minVersion: 'TLSv1.2' as 'TLSv1.2' | 'TLSv1.1' | 'TLSv1.3', requestCert: true, handshakeTimeout: t.handshake_ms };
    const strict = { ...tls, ...http, rejectUnauthorized: true };
    this.inner = {
      strict: createHttpsServer(strict, o.handler),
      'any-cert': createHttpsServer({ ...tls, ...http, rejectUnauthorized: false }, o.handler),
      plain: createHttpServer(http, o.handler),
      tls11: createHttpsServer({ ...strict, minVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }, o.handler),
      tls13: createHttpsServer({ ...strict, minVersion: 'TLSv1.3' }, o.handler),
      impostor: createHttpsServer({ ...strict, ...(o.tls.impostor ?? {}) }, o.handler),
    };
    for (const [mode, server] of Object.entries(this.inner)) {
      server.timeout = t.idle_ms;
      server.maxHeadersCount = 100;
      server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
        if (socket.writable && err.code !== 'ECONNRESET' && !(socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) socket.end(PARSE_ERROR);
        socket.destroy();
      });
      server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: Socket) => {
        o.log(`TLS handshake from ${socket.remoteAddress ?? '?'} refused (${mode}): ${err.code ?? err.message}`);
      });
      // Arms the HTTP servers' header/request timeout checks, which Node starts on 'listening': these
      // servers never listen themselves, the front hands them connections.
      server.emit('listening');
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

  private accept(socket: Socket): void {
    const mode = modeOf(this.o.deviations);
    this.sockets.set(socket, mode);
    socket.setNoDelay(true);
    socket.setTimeout(this.o.timeouts.idle_ms, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.once('close', () => this.sockets.delete(socket));
    this.inner[mode].emit('connection', socket);
  }

  /** A switch of transport deviation takes effect at once: connections of the previous mode are closed. */
  private dropOtherModes(): void {
    const mode = modeOf(this.o.deviations);
    for (const [socket, m] of this.sockets) if (m !== mode) socket.destroy();
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((ok) => this.front.close(() => ok()));
    for (const server of Object.values(this.inner)) {
      server.closeAllConnections();
      server.removeAllListeners('listening');
      server.close();
    }
    for (const socket of this.sockets.keys()) socket.destroy();
    await closed;
  }
}
