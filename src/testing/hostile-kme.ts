// A hostile stand-in KME for tests: one TLS origin (client certificate requested, test PKI) that plays
// both KMEs of a pair — a minimal valid KME underneath (Status, enc_keys, dec_keys) — and answers with one
// hostile case: a head that trickles, a body that never ends or is huge, a certificate the client must
// refuse, a redirect to another host, bytes that are not UTF-8 or not JSON, a Content-Length that lies,
// a reset mid-response, 10⁶ keys in one container. Every timer and stream ends when the client leaves
// or when close() runs; `active` counts what is still running so tests can prove it.
import { createServer, type Server } from 'node:https';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createCa, issueLeaf } from '../pki/certificate.ts';
import type { TestPki } from '../pki/test-pki.ts';

/** Each case and what the server does. */
export const HOSTILE_CASES = {
  'slow-headers': 'the response head written one byte every few seconds (2 s by default)',
  'endless-body': 'a 200 JSON head, then a key container that grows by one entry every 5 ms and never ends',
  'huge-body': 'a 200 JSON head without Content-Length, then 100 MiB of body streamed with back-pressure',
  'wrong-name-cert': 'a server certificate from the trusted CA for another name (kme.invalid)',
  'untrusted-ca-cert': 'a server certificate for localhost from a CA the client does not trust',
  'expired-cert': 'a server certificate for localhost from the trusted CA that expired yesterday',
  redirect: 'a 307 to the same path on another host (127.0.0.2), whose server counts requests it gets',
  'invalid-utf8': 'key containers whose key_container_extension string carries bytes that are not UTF-8',
  'invalid-json': 'a 200 JSON head with a truncated JSON document',
  'lying-content-length': 'a Content-Length 1 KiB above the body sent, then silence until the client leaves',
  'reset-mid-response': 'a 200 JSON head and the first bytes of a container, then a TCP reset',
  'million-keys': 'one key container with 10⁶ 128-bit keys (≈ 53 MB), streamed with back-pressure',
  'connection-dropped': 'the connection destroyed as soon as the request arrives',
  'wrong-types': 'a 200 JSON object whose members all have the wrong type',
} as const;

export type HostileCase = keyof typeof HOSTILE_CASES;
export const HOSTILE_CASE_NAMES = Object.keys(HOSTILE_CASES) as HostileCase[];

/** Cases that are a bad certificate: the HTTP answers underneath are valid. */
export const CERTIFICATE_CASES: readonly HostileCase[] = ['wrong-name-cert', 'untrusted-ca-cert', 'expired-cert'];

export interface HostileKmeOptions {
  case: HostileCase;
  pki: TestPki;
  /** Which requests get the hostile answer: every one (default) or only enc_keys / dec_keys (Status stays valid). */
  scope?: 'all' | 'keys';
  /** slow-headers: ms between two bytes of the head (default 2000). */
  headByteMs?: number;
  /** huge-body: bytes of the body (default 100 MiB). */
  hugeBytes?: number;
  /** million-keys: keys in the container (default 10⁶). */
  keyCount?: number;
}

export interface HostileProfileOptions {
  timeoutMs?: number;
  runBudgetS?: number;
  maxResponseBytes?: number;
  /** File name inside pki.dir (default hostile-<case>.yaml). */
  file?: string;
}

export interface HostileKme {
  case: HostileCase;
  /** https://localhost:<port> — both KME A and KME B. */
  url: string;
  /** Requests the redirect target (another host) received; the client must never follow there. */
  readonly redirectHits: number;
  /** Requests the hostile origin received. */
  readonly requests: number;
  /** Base64 keys this KME handed out (the first 1000): none may show up in a report or an error text. */
  readonly servedKeys: ReadonlySet<string>;
  /** Streamed bodies (huge-body, million-keys) sent to their end: a client read them whole. */
  readonly completedStreams: number;
  /** Timers and hostile streams still running (0 once every client left or after close()). */
  readonly active: number;
  /** Writes a target profile for this KME (master SAE_A, slave SAE_B, outsider SAE_C); returns its path. */
  writeProfile(o?: HostileProfileOptions): string;
  /** Stops every timer and stream, destroys every connection, closes the listeners. */
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json';
const STATUS = { key_size: 256, stored_key_count: 1000, max_key_count: 100_000, max_key_per_request: 1, max_key_size: 256, min_key_size: 256, max_SAE_ID_count: 0 };
/** 0xC3 opens a two-byte sequence that 0x28 does not continue. */
const NOT_UTF8 = Buffer.from([0xc3, 0x28]);

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > 1 << 20) throw new Error('request body over 1 MiB');
    chunks.push(c);
  }
  try {
    return chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown) : {};
  } catch {
    return {};
  }
}

/** Starts a hostile KME for one case; close() it in the test's teardown. */
export async function startHostileKme(o: HostileKmeOptions): Promise<HostileKme> {
  const c = o.case;
  const scope = o.scope ?? 'all';
  const timers = new Set<NodeJS.Timeout>();
  const streams = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  let requests = 0;
  let redirectHits = 0;
  let completedStreams = 0;
  let closed = false;
  const keys = new Map<string, string>(); // the valid KME underneath: key_ID → base64, handed to dec_keys once
  const servedKeys = new Set<string>();
  const served = (key: string): string => (servedKeys.size < 1000 && servedKeys.add(key), key);

  const every = (socket: Socket, ms: number, tick: () => boolean): void => {
    const stop = (): void => {
      clearInterval(t);
      timers.delete(t);
    };
    const t = setInterval(() => {
      if (closed || socket.destroyed || !tick()) stop();
    }, ms);
    timers.add(t);
    socket.once('close', stop);
  };
  /** A streamed answer: tracked until it finishes or its client leaves. */
  const track = (res: ServerResponse): void => {
    streams.add(res);
    res.once('close', () => streams.delete(res));
  };
  /** Writes `next()` chunks with back-pressure until it returns undefined, then ends. */
  const pump = (res: ServerResponse, next: () => Buffer | string | undefined): void => {
    track(res);
    const go = (): void => {
      for (;;) {
        if (closed || res.destroyed) return;
        const chunk = next();
        if (chunk === undefined) return void res.end(() => completedStreams++);
        if (!res.write(chunk)) return void res.once('drain', go);
      }
    };
    go();
  };
  const sendJson = (res: ServerResponse, status: number, body: unknown): void => void res.writeHead(status, { 'content-type': JSON_TYPE }).end(JSON.stringify(body));

  /** The valid KME: A serves SAE_B's requests, B serves SAE_A's (one origin for both). */
  const valid = async (req: IncomingMessage, res: ServerResponse, extension?: Buffer): Promise<void> => {
    const u = new URL(req.url ?? '/', 'https://x');
    const m = /^\/api\/v1\/keys\/([^/]+)\/(status|enc_keys|dec_keys)$/.exec(u.pathname);
    if (!m) return sendJson(res, 400, { message: 'not in this stand-in' });
    const [, sae, what] = m;
    const asA = sae === 'SAE_B';
    if (what === 'status') return sendJson(res, 200, { source_KME_ID: asA ? 'KME_A' : 'KME_B', target_KME_ID: asA ? 'KME_B' : 'KME_A', master_SAE_ID: 'SAE_A', slave_SAE_ID: 'SAE_B', ...STATUS });
    const body = req.method === 'POST' ? ((await readBody(req)) as Record<string, unknown>) : {};
    let entries: Array<{ key_ID: string; key: string }>;
    if (what === 'enc_keys') {
      if (!asA) return sendJson(res, 400, { message: 'not in this stand-in' });
      const n = Number(req.method === 'POST' ? (body.number ?? 1) : (u.searchParams.get('number') ?? 1));
      if (!Number.isInteger(n) || n < 1 || n > STATUS.max_key_per_request) return sendJson(res, 400, { message: 'number is over max_key_per_request' });
      entries = [{ key_ID: randomUUID(), key: served(randomBytes(32).toString('base64')) }];
      for (const e of entries) keys.set(e.key_ID, e.key);
    } else {
      if (asA) return sendJson(res, 400, { message: 'not in this stand-in' });
      const ids = req.method === 'GET' ? u.searchParams.getAll('key_ID') : Array.isArray(body.key_IDs) ? (body.key_IDs as Array<{ key_ID?: unknown }>).map((k) => String(k?.key_ID)) : [];
      if (!ids.length || !ids.every((id) => keys.has(id))) return sendJson(res, 400, { message: 'key not found' });
      entries = ids.map((id) => ({ key_ID: id, key: keys.get(id)! }));
      ids.forEach((id) => keys.delete(id));
    }
    const json = JSON.stringify({ keys: entries });
    if (!extension) return void res.writeHead(200, { 'content-type': JSON_TYPE }).end(json);
    res.writeHead(200, { 'content-type': JSON_TYPE }).end(Buffer.concat([Buffer.from(`${json.slice(0, -1)},"key_container_extension":{"note":"caf`), extension, Buffer.from('"}}')]));
  };

  /** The valid KME; a request it cannot read (a body over 1 MiB, a client that left) ends the connection. */
  const serveValid = (req: IncomingMessage, res: ServerResponse, extension?: Buffer): void => void valid(req, res, extension).catch(() => res.destroy());

  let redirectUrl = '';
  const hostile: Record<HostileCase, Handler> = {
    'slow-headers': (req) => {
      const head = Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: ${JSON_TYPE}\r\ncontent-length: 11\r\nconnection: close\r\n\r\n`, 'latin1');
      let at = 0;
      every(req.socket, o.headByteMs ?? 2000, () => {
        req.socket.write(head.subarray(at, ++at));
        if (at < head.length) return true;
        req.socket.end('{"keys":[]}');
        return false;
      });
    },
    'endless-body': (req, res) => {
      res.writeHead(200, { 'content-type': JSON_TYPE });
      res.write('{"keys":[');
      track(res);
      let n = 0;
      every(req.socket, 5, () => res.write(`{"key_ID":"${(n++).toString(16)}","key":"AAAA"},`) || true);
    },
    'huge-body': (_q, res) => {
      res.writeHead(200, { 'content-type': JSON_TYPE });
      const chunk = Buffer.alloc(1 << 16, 0x20);
      let left = (o.hugeBytes ?? 100 * 1024 * 1024) - '{"keys":[]}'.length;
      let stage = 0;
      pump(res, () => {
        if (stage === 0) return (stage = 1), '{"keys":[';
        if (left > 0) {
          const n = Math.min(chunk.length, left);
          left -= n;
          return n === chunk.length ? chunk : chunk.subarray(0, n);
        }
        if (stage === 1) return (stage = 2), ']}';
        return undefined;
      });
    },
    'wrong-name-cert': (req, res) => serveValid(req, res),
    'untrusted-ca-cert': (req, res) => serveValid(req, res),
    'expired-cert': (req, res) => serveValid(req, res),
    redirect: (req, res) => void res.writeHead(307, { location: `${redirectUrl}${req.url ?? '/'}` }).end(),
    'invalid-utf8': (req, res) => {
      if (/\/(enc|dec)_keys$/.test(new URL(req.url ?? '/', 'https://x').pathname)) return serveValid(req, res, NOT_UTF8);
      // Status: a valid object with one extension string that is not UTF-8
      res.writeHead(200, { 'content-type': JSON_TYPE }).end(Buffer.concat([Buffer.from('{"source_KME_ID":"KME_A","target_KME_ID":"KME_B","master_SAE_ID":"SAE_A","slave_SAE_ID":"SAE_B","key_size":256,"stored_key_count":1000,"max_key_count":100000,"max_key_per_request":1,"max_key_size":256,"min_key_size":256,"max_SAE_ID_count":0,"status_extension":{"note":"caf'), NOT_UTF8, Buffer.from('"}}')]));
    },
    'invalid-json': (_q, res) => void res.writeHead(200, { 'content-type': JSON_TYPE }).end('{"keys": [ {"key_ID": "1", "key": "AAAA" '),
    'lying-content-length': (_q, res) => {
      const body = '{"keys":[]}';
      res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': String(body.length + 1024) });
      res.write(body);
      track(res); // never ended: the client's deadline, its leaving or close() ends it
    },
    'reset-mid-response': (req, res) => {
      res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': '4096' });
      res.write('{"keys":[{"key_ID":"', () => resetSocket(req.socket));
    },
    'million-keys': (_q, res) => {
      res.writeHead(200, { 'content-type': JSON_TYPE });
      const total = o.keyCount ?? 1_000_000;
      const key = served(randomBytes(16).toString('base64')); // one 128-bit key in every entry: the count is what is hostile
      let sent = -1;
      pump(res, () => {
        if (sent === -1) return (sent = 0), '{"keys":[';
        if (sent > total) return undefined;
        if (sent === total) return (sent++, ']}');
        const batch: string[] = [];
        for (const end = Math.min(total, sent + 2000); sent < end; sent++) batch.push(`${sent ? ',' : ''}{"key_ID":"${sent.toString(16).padStart(8, '0')}","key":"${key}"}`);
        return batch.join('');
      });
    },
    'connection-dropped': (req) => req.socket.destroy(),
    'wrong-types': (_q, res) => sendJson(res, 200, { keys: 'none', source_KME_ID: 7, key_size: 'big', message: null }),
  };

  const tls = await serverCertificate(o.pki, c);
  const listen = async (server: Server, host: string): Promise<number> => {
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    });
    server.on('tlsClientError', () => {}); // a client refusing our certificate is the expected end of those cases
    await new Promise<void>((ok, fail) => server.once('error', fail).listen(0, host, ok));
    return (server.address() as AddressInfo).port;
  };
  const main = createServer({ ...tls, ca: readFileSync(o.pki.ca), requestCert: true, rejectUnauthorized: false }, (req, res) => {
    requests++;
    const keyEndpoint = /\/(enc|dec)_keys$/.test(new URL(req.url ?? '/', 'https://x').pathname);
    if (scope === 'keys' && !keyEndpoint) return serveValid(req, res);
    hostile[c](req, res);
  });
  const decoy = createServer({ cert: readFileSync(o.pki.kmes['kme-a']!.cert), key: readFileSync(o.pki.kmes['kme-a']!.key) }, (_q, res) => {
    redirectHits++;
    sendJson(res, 200, { keys: [] });
  });
  const port = await listen(main, '127.0.0.1');
  redirectUrl = `https://127.0.0.2:${await listen(decoy, '127.0.0.2')}`;
  const url = `https://localhost:${port}`;

  return {
    case: c,
    url,
    get redirectHits() {
      return redirectHits;
    },
    get requests() {
      return requests;
    },
    servedKeys,
    get completedStreams() {
      return completedStreams;
    },
    get active() {
      return timers.size + streams.size;
    },
    writeProfile(p: HostileProfileOptions = {}): string {
      const file = join(o.pki.dir, p.file ?? `hostile-${c}.yaml`);
      const sae = (id: string, k: string): string => `{ id: ${id}, kme: ${k}, cert: "${o.pki.saes[id]!.cert}", key: "${o.pki.saes[id]!.key}" }`;
      const lines = [
        `name: hostile-${c}`,
        'kmes:',
        `  A: { url: "${url}", ca: "${o.pki.ca}" }`,
        `  B: { url: "${url}", ca: "${o.pki.ca}" }`,
        'saes:',
        `  master: ${sae('SAE_A', 'A')}`,
        `  slave: ${sae('SAE_B', 'B')}`,
        `  outsider: ${sae('SAE_C', 'B')}`,
        `timeout_ms: ${p.timeoutMs ?? 500}`,
        `run_budget_s: ${p.runBudgetS ?? 60}`,
        `max_response_bytes: ${p.maxResponseBytes ?? 1024 * 1024}`,
        'allow_exhaustion: true',
      ];
      writeFileSync(file, lines.join('\n') + '\n');
      return file;
    },
    async close() {
      closed = true;
      for (const t of timers) clearInterval(t);
      timers.clear();
      for (const s of streams) s.destroy();
      streams.clear();
      for (const s of sockets) s.destroy();
      await Promise.all(
        [main, decoy].map(
          (s) =>
            new Promise<void>((ok) => {
              try {
                s.close(() => ok());
              } catch {
                ok(); // Node's idle-connection sweep can trip over a connection reset a moment ago; nothing is left to close
              }
            }),
        ),
      );
    },
  };
}

/** The server certificate of a case: the PKI's KME A, or one of the bad ones. */
async function serverCertificate(pki: TestPki, c: HostileCase): Promise<{ cert: string | Buffer; key: string | Buffer }> {
  const read = (f: { cert: string; key: string }) => ({ cert: readFileSync(f.cert), key: readFileSync(f.key) });
  if (c === 'wrong-name-cert') return read(pki.bad.wrongHostKme);
  if (c === 'expired-cert') return read(pki.bad.expiredKme);
  if (c === 'untrusted-ca-cert') {
    const stranger = await createCa('qkd-harness untrusted CA');
    const leaf = await issueLeaf(stranger, { cn: 'KME_A', dns: ['localhost'], ips: ['127.0.0.1'], usage: 'server' });
    return { cert: leaf.certPem + stranger.certPem, key: leaf.keyPem };
  }
  return read(pki.kmes['kme-a']!);
}

/** A TCP reset (RST) of the connection under a TLS socket; a plain destroy where the handle allows none. */
function resetSocket(socket: Socket): void {
  const tcp = (socket as Socket & { _parent?: Socket })._parent ?? socket; // the TLS socket wraps the TCP one
  try {
    tcp.resetAndDestroy();
    socket.destroy();
  } catch {
    socket.destroy();
  }
}
