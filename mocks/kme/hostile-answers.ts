// Answers shaped like transport failures, for deviations a client must survive in bounded time:
// a 200 head followed by an endless-looking body or a reset (unauthenticated-served-*), and stalls of the
// key endpoints (stall-body, lying-content-length, slow-headers). Each one ends when the client leaves,
// when its time bound passes, or when the KME stops (stopAll) — no timer outlives its connection.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { JSON_TYPE } from './respond.ts';

/** A rendered answer (respond.ts `render`): status, headers and body bytes. */
export interface Rendered {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

export interface HostileLimits {
  /** Bytes of the oversized body (default 256 MiB: far above any client cap, yet finite). */
  oversizedBytes: number;
  /** stall-body: milliseconds between two bytes (default 1 s). */
  trickleMs: number;
  /** slow-headers: milliseconds between two bytes of the head (default 2 s). */
  headByteMs: number;
  /** Longest a stall goes on before the connection is closed (default 10 min). */
  maxStallMs: number;
}

export const DEFAULT_HOSTILE_LIMITS: HostileLimits = { oversizedBytes: 256 * 1024 * 1024, trickleMs: 1000, headByteMs: 2000, maxStallMs: 10 * 60_000 };

const PADDING = Buffer.alloc(64 * 1024, 0x20);
const STATUS_TEXT: Record<number, string> = { 200: 'OK', 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 500: 'Internal Server Error', 503: 'Service Unavailable' };

export class HostileAnswers {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly limits: HostileLimits;

  constructor(limits: Partial<HostileLimits> = {}) {
    this.limits = { ...DEFAULT_HOSTILE_LIMITS, ...limits };
  }

  /** Timers still running (tests: stalls must clean up after themselves). */
  get active(): number {
    return this.timers.size;
  }

  /** Clears every running stall (the KME is stopping; its sockets are destroyed by the server). */
  stopAll(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.clear();
  }

  /** Calls `tick` every `ms` until it returns false, the socket closes or stopAll(). */
  private every(socket: NodeJS.EventEmitter, ms: number, tick: () => boolean): void {
    const timer = setInterval(() => {
      if (!tick()) stop();
    }, ms);
    const stop = (): void => {
      clearInterval(timer);
      this.timers.delete(timer);
    };
    this.timers.add(timer);
    socket.once('close', stop);
  }

  /** unauthenticated-served-oversized: a 200 JSON head, then `{"keys":[` and padding up to the bound, streamed with back-pressure. */
  oversized(res: ServerResponse): void {
    const total = this.limits.oversizedBytes;
    res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': String(total), 'cache-control': 'no-store' });
    res.write('{"keys":[');
    let left = total - '{"keys":['.length - ']}'.length;
    const pump = (): void => {
      while (left > 0 && !res.destroyed) {
        const n = Math.min(PADDING.length, left);
        left -= n;
        if (!res.write(n === PADDING.length ? PADDING : PADDING.subarray(0, n))) {
          res.once('drain', pump); // a client that stops reading stops the stream; its leaving ends it
          return;
        }
      }
      if (!res.destroyed) res.end(']}');
    };
    pump();
  }

  /** unauthenticated-served-reset: a 200 JSON head and the first bytes of a container, then the connection is destroyed. */
  reset(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': '4096', 'cache-control': 'no-store' });
    res.write('{"keys":[{"key_ID":"', () => req.socket.destroy());
  }

  /** stall-body: the head at once, then the body one byte per tick, then whitespace, until the bound. */
  stallBody(res: ServerResponse, out: Rendered): void {
    res.writeHead(out.status, out.headers); // no Content-Length: chunked, no end in sight
    res.flushHeaders();
    const body = Buffer.from(out.body);
    const until = Date.now() + this.limits.maxStallMs;
    let at = 0;
    this.every(res, this.limits.trickleMs, () => {
      if (res.destroyed) return false;
      if (Date.now() > until) {
        res.destroy();
        return false;
      }
      res.write(at < body.length ? body.subarray(at, at + 1) : ' '); // JSON allows trailing whitespace
      at++;
      return true;
    });
  }

  /** lying-content-length: a Content-Length above the body sent; then nothing (the idle timeout ends it). */
  lyingLength(res: ServerResponse, out: Rendered): void {
    const length = Buffer.byteLength(out.body);
    res.writeHead(out.status, { ...out.headers, 'content-length': String(length + 1024) });
    res.write(out.body);
  }

  /** slow-headers: the whole answer written straight to the socket, the head one byte per tick; then the connection closes. */
  slowHeaders(req: IncomingMessage, out: Rendered): void {
    const body = Buffer.from(out.body);
    const lines = [`HTTP/1.1 ${out.status} ${STATUS_TEXT[out.status] ?? 'Unknown'}`, ...Object.entries({ ...out.headers, 'content-length': String(body.length), connection: 'close' }).map(([k, v]) => `${k}: ${v}`)];
    const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
    const socket = req.socket;
    const until = Date.now() + this.limits.maxStallMs;
    let at = 0;
    this.every(socket, this.limits.headByteMs, () => {
      if (socket.destroyed) return false;
      if (Date.now() > until) {
        socket.destroy();
        return false;
      }
      socket.write(head.subarray(at, at + 1));
      at++;
      if (at < head.length) return true;
      socket.end(body);
      return false;
    });
  }
}
