// The KPI load engine: raw HTTP/1.1 exchanges with a KME over undici's low-level dispatcher, each with
// a whole-request deadline and a response size cap, on keep-alive connection pools (warm) or on a fresh
// connection with a full TLS handshake per request (cold). It never throws for a failed exchange: every
// outcome is a Reply, so load loops keep counting. Chosen over autocannon after measuring both against
// the mock (docs/kpi.md): the same client CPU per request, and autocannon skips server certificate
// verification, cannot cap bodies or chain enc_keys → dec_keys across two KMEs.
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { Client, Pool, type Dispatcher } from 'undici';
import { classifyTransportError } from '../kme/errors.ts';

/** Where and as whom: one SAE's view of one KME (mutual TLS material as PEM buffers; none for http://). */
export interface Endpoint {
  /** KME base URL as in the profile (may carry a path prefix). */
  url: string;
  saeId: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
}

export interface EngineOptions {
  /** Whole-exchange deadline in ms (connect + head + body). */
  timeoutMs: number;
  /** Response body cap in bytes: the exchange is aborted past it. */
  maxResponseBytes: number;
  /** Keep-alive connections per endpoint (the concurrency a scenario runs at). */
  connections: number;
}

export interface Exchange {
  method: 'GET' | 'POST';
  /** Path below the KME base URL, with query. */
  path: string;
  /** JSON body (POST). */
  json?: unknown;
}

/** Why an exchange did not complete; `detail` is one sentence without key material. */
export interface ReplyFailure {
  kind: string;
  detail: string;
}

export interface Reply {
  /** HTTP status of the response head; 0 when none arrived. */
  status: number;
  /** Wall time from dispatch to the end of the body (or the failure), ms. */
  ms: number;
  bytes: number;
  /** The body, only when asked for (`keepBody`) and complete. */
  body?: Buffer;
  failure?: ReplyFailure;
}

export const isOk = (r: Reply): boolean => r.failure === undefined && r.status >= 200 && r.status < 300;

class Abort extends Error {
  constructor(readonly failure: ReplyFailure) {
    super(failure.detail);
  }
}

const HEADERS = { accept: 'application/json' } as const;
const JSON_HEADERS = { accept: 'application/json', 'content-type': 'application/json' } as const;

export class LoadEngine {
  private readonly pools = new Map<Endpoint, { pool: Pool; base: string }>();
  private readonly cold = new Set<Client>();
  private closed = false;

  constructor(readonly options: EngineOptions) {}

  private connect(ep: Endpoint, cold: boolean) {
    return {
      ca: ep.ca,
      cert: ep.cert,
      key: ep.key,
      servername: ep.servername,
      minVersion: 'TLSv1.2' as const,
      rejectUnauthorized: true,
      timeout: this.options.timeoutMs,
      // Cold means a full handshake: no TLS session resumption from an earlier connection.
      ...(cold ? { maxCachedSessions: 0 } : {}),
      checkServerIdentity: (host: string, cert: PeerCertificate) => checkServerIdentity(ep.servername ?? host, cert),
    };
  }

  private target(ep: Endpoint): { origin: string; base: string } {
    const u = new URL(ep.url);
    return { origin: u.origin, base: u.pathname.replace(/\/+$/, '') };
  }

  private warm(ep: Endpoint): { pool: Pool; base: string } {
    let hit = this.pools.get(ep);
    if (!hit) {
      const { origin, base } = this.target(ep);
      const t = this.options.timeoutMs;
      // pipelining 1: a latency is one request's own, never time queued behind another on the socket.
      const pool = new Pool(origin, { connections: this.options.connections, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: t, bodyTimeout: t, connect: this.connect(ep, false) });
      hit = { pool, base };
      this.pools.set(ep, hit);
    }
    return hit;
  }

  /**
   * One exchange. `cold`: on a new connection (TCP + full TLS handshake) closed afterwards; otherwise on
   * the endpoint's keep-alive pool. `keepBody`: return the body (still capped). Never rejects.
   */
  send(ep: Endpoint, ex: Exchange, o: { cold?: boolean; keepBody?: boolean } = {}): Promise<Reply> {
    if (this.closed) return Promise.resolve({ status: 0, ms: 0, bytes: 0, failure: { kind: 'closed', detail: 'the load engine is closed' } });
    let dispatcher: Dispatcher;
    let base: string;
    if (o.cold) {
      const t = this.target(ep);
      const client = new Client(t.origin, { pipelining: 1, headersTimeout: this.options.timeoutMs, bodyTimeout: this.options.timeoutMs, connect: this.connect(ep, true) });
      this.cold.add(client);
      dispatcher = client;
      base = t.base;
    } else {
      const w = this.warm(ep);
      dispatcher = w.pool;
      base = w.base;
    }
    const cap = this.options.maxResponseBytes;
    const timeoutMs = this.options.timeoutMs;
    const where = `${ex.method} ${ex.path.split('?')[0]} at ${ep.url}`;
    const body = ex.json === undefined ? undefined : Buffer.from(JSON.stringify(ex.json));
    return new Promise<Reply>((resolve) => {
      const started = performance.now();
      let status = 0;
      let bytes = 0;
      const chunks: Buffer[] | undefined = o.keepBody ? [] : undefined;
      let controller: Dispatcher.DispatchController | undefined;
      let done = false;
      const finish = (failure?: ReplyFailure): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (o.cold) {
          const c = dispatcher as Client;
          this.cold.delete(c);
          c.destroy().catch(() => undefined);
        }
        const reply: Reply = { status, ms: performance.now() - started, bytes };
        if (failure) reply.failure = failure;
        else if (chunks) reply.body = Buffer.concat(chunks);
        resolve(reply);
      };
      const abort = (f: ReplyFailure): void => {
        if (controller && !controller.aborted) controller.abort(new Abort(f));
        finish(f); // also when no controller yet (queued for a connection): the deadline holds regardless
      };
      const timer = setTimeout(() => abort({ kind: 'deadline', detail: `${where}: no complete answer within the deadline of ${timeoutMs} ms` }), timeoutMs);
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart(c) {
          controller = c;
          if (done) c.abort(new Abort({ kind: 'deadline', detail: 'late start' }));
        },
        onResponseStart(c, statusCode, headers) {
          if (statusCode < 200) return; // 1xx: the final head follows
          status = statusCode;
          const declared = Number(headers['content-length']);
          if (Number.isFinite(declared) && declared > cap) abort({ kind: 'response-too-large', detail: `${where}: the response declares ${declared} bytes, over the cap of ${cap}` });
        },
        onResponseData(_c, chunk) {
          bytes += chunk.length;
          if (bytes > cap) return abort({ kind: 'response-too-large', detail: `${where}: the response exceeded the cap of ${cap} bytes` });
          chunks?.push(chunk);
        },
        onResponseEnd() {
          finish();
        },
        onResponseError(_c, err) {
          if (done) return;
          if (err instanceof Abort) return finish(err.failure);
          const t = classifyTransportError(err, where);
          finish({ kind: t.kind, detail: t.message });
        },
      };
      try {
        dispatcher.dispatch({ origin: undefined, path: base + ex.path, method: ex.method, headers: body ? JSON_HEADERS : HEADERS, body } as Dispatcher.DispatchOptions, handler);
      } catch (err) {
        const t = classifyTransportError(err, where);
        finish({ kind: t.kind, detail: t.message });
      }
    });
  }

  /** Closes every connection at once (in-flight exchanges end as failures). */
  async close(): Promise<void> {
    this.closed = true;
    const all: Array<Promise<unknown>> = [...this.pools.values()].map((p) => p.pool.destroy());
    for (const c of this.cold) all.push(c.destroy());
    this.pools.clear();
    this.cold.clear();
    await Promise.allSettled(all);
  }
}
