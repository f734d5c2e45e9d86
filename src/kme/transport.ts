// One HTTP exchange with a KME under an identity's TLS settings, a deadline and a response size cap.
// Both the typed SDK (through the fetch bridge) and raw negative-test requests go through here.
import { request } from 'undici';
import { afterResponseHead, classifyTransportError, KmeTransportError } from './errors.ts';
import type { SaeIdentity } from './identity.ts';
import { admitRequest, endpointOf, noteStall } from './run-budget.ts';
import { noteExchange } from './exchange-log.ts';

export interface RawRequest {
  method: string;
  /** Path (may include a query string) relative to the KME base URL, or an absolute URL. */
  path: string;
  query?: Record<string, string | number | Array<string | number>>;
  headers?: Record<string, string>;
  /** Bytes sent as-is; a string is sent as UTF-8; an object is JSON-encoded with a JSON content type. */
  body?: Uint8Array | string | object;
  /** Overrides the identity's deadline (ms). */
  timeoutMs?: number;
}

export interface RawResponse {
  method: string;
  url: string;
  /** Body bytes as sent (for evidence); undefined when none. */
  requestBody?: Uint8Array;
  requestHeaders: Record<string, string>;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  elapsedMs: number;
  /** The body as UTF-8 text. */
  text(): string;
  /** Parsed JSON, or undefined when the body is not JSON. */
  json(): unknown;
}

export function buildUrl(base: string, path: string, query?: RawRequest['query']): URL {
  const url = /^[a-z]+:\/\//i.test(path) ? new URL(path) : new URL(base.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`));
  for (const [k, v] of Object.entries(query ?? {})) {
    for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(item));
  }
  return url;
}

function encodeBody(body: RawRequest['body'], headers: Record<string, string>): Uint8Array | undefined {
  if (body === undefined) return undefined;
  if (body instanceof Uint8Array) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  return Buffer.from(JSON.stringify(body), 'utf8');
}

/**
 * Performs one exchange; throws KmeTransportError (never anything else) when no complete HTTP answer
 * arrives in time. A failure after the response head (body too large, cut off, too slow) carries the
 * head's status as `responseStatus`: the KME did answer, so it is no TLS-layer refusal.
 */
export async function exchange(identity: SaeIdentity, baseUrl: string, req: RawRequest): Promise<RawResponse> {
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
  const requestBody = encodeBody(req.body, headers);
  const url = buildUrl(baseUrl, req.path, req.query);
  const where = `${req.method} ${url.pathname} at ${url.host}`;
  const deadline = admitRequest(identity, url, where, req.timeoutMs ?? identity.timeoutMs); // run budget: may refuse at once
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, deadline);
  const started = performance.now();
  let head: number | undefined;
  let failureKind: string | undefined;
  let headHeaders: Record<string, string> = {};
  const chunks: Buffer[] = [];
  const answer = (body: Buffer): RawResponse => ({
    method: req.method,
    url: url.toString(),
    requestBody,
    requestHeaders: headers,
    status: head!,
    headers: headHeaders,
    body,
    elapsedMs: performance.now() - started,
    text: () => body.toString('utf8'),
    json: () => {
      try {
        return JSON.parse(body.toString('utf8')) as unknown;
      } catch {
        return undefined;
      }
    },
  });
  /** A failure after the head: marked as such, with the exchange so far as evidence (the body cut at 64 KiB). */
  const afterHead = (e: KmeTransportError): KmeTransportError => {
    const marked = afterResponseHead(e, head!, where);
    marked.partial = answer(Buffer.concat(chunks).subarray(0, 65_536));
    return marked;
  };
  try {
    const res = await request(url, {
      method: req.method as 'GET',
      headers,
      body: requestBody,
      dispatcher: identity.dispatcher,
      signal: controller.signal,
      maxRedirections: 0,
    } as Parameters<typeof request>[1]);
    head = res.statusCode;
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headHeaders[k] = Array.isArray(v) ? v.join(', ') : v;
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > identity.maxResponseBytes) {
      res.body.destroy();
      throw new KmeTransportError('response-too-large', `${where}: the response declares ${declared} bytes, over the cap of ${identity.maxResponseBytes}`);
    }
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > identity.maxResponseBytes) {
        res.body.destroy();
        throw new KmeTransportError('response-too-large', `${where}: the response exceeded the cap of ${identity.maxResponseBytes} bytes`);
      }
      chunks.push(chunk);
    }
    const body = Buffer.concat(chunks);
    chunks.length = 0; // the closures of `answer` keep this scope alive with the response: not the body twice
    return answer(body);
  } catch (err) {
    const failure = ((): KmeTransportError => {
      if (timedOut) {
        noteStall(identity, url, where, deadline);
        const late = new KmeTransportError('deadline', `${where}: no complete answer within the deadline of ${deadline} ms`);
        return head === undefined ? late : afterHead(late);
      }
      const classified = classifyTransportError(err, where);
      if (head !== undefined) return afterHead(classified);
      const local = classified.kind === 'connection-reset' || classified.kind === 'client-cert-rejected' ? identity.clientCertProblem() : undefined;
      return local ? new KmeTransportError(local.kind, `${where}: the KME closed the connection during or after the handshake; likely cause: ${local.text}`, classified.code) : classified;
    })();
    failureKind = failure.kind;
    throw failure;
  } finally {
    clearTimeout(timer);
    // A head counts as the status the target produced, whatever happened to the body after it.
    noteExchange({ method: req.method, endpoint: endpointOf(url), ...(head !== undefined ? { status: head } : { failure: failureKind ?? 'unknown' }) });
  }
}
