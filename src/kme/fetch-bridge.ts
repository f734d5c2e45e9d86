// hey-api's client calls fetch(Request); undici's fetch cannot take a foreign Request ("Failed to parse URL").
// This bridge re-issues the request through our transport so the SDK inherits the identity's TLS
// settings, deadline and size cap, and records the exchange as evidence.
import type { SaeIdentity } from './identity.ts';
import { exchange, type RawResponse } from './transport.ts';
import { KmeTransportError } from './errors.ts';

const NULL_BODY = new Set([101, 103, 204, 205, 304]);

export function fetchBridge(identity: SaeIdentity, record: (r: RawResponse | KmeTransportError) => void): typeof fetch {
  return (async (input: Request | string | URL, init?: RequestInit) => {
    const req = input instanceof Request ? input : new Request(input, init);
    const bytes = req.body ? new Uint8Array(await req.arrayBuffer()) : undefined;
    const headers: Record<string, string> = {};
    req.headers.forEach((v, k) => {
      headers[k] = v;
    });
    let raw: RawResponse;
    try {
      raw = await exchange(identity, req.url, { method: req.method, path: req.url, headers, body: bytes });
      if (raw.status < 200 || raw.status > 599) {
        throw new KmeTransportError('protocol', `${req.method} ${new URL(req.url).pathname}: HTTP status ${raw.status} is not a final answer`);
      }
    } catch (err) {
      // hey-api turns a thrown fetch error into an opaque result; keep ours for the caller.
      record(err as KmeTransportError);
      throw err;
    }
    record(raw);
    // KmeClient reads the answer from `raw` (recorded above), never from what the SDK parses: handing the
    // SDK a copy of the body only doubled the memory (and CPU) of a large answer.
    return new Response(NULL_BODY.has(raw.status) ? null : new Uint8Array(0), { status: raw.status, headers: raw.headers });
  }) as typeof fetch;
}
