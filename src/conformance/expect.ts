// Assertions shared by the ETSI 014 checks. Each throws a Failure that names what the standard wants,
// what came back, and which kind of deviation it is (so the lenient profile can tolerate the common ones).
import type { CallResult, KeyContainer } from '../kme/client.ts';
import type { RawResponse } from '../kme/transport.ts';
import { KmeTransportError } from '../kme/errors.ts';
import { fingerprint } from '../secrets/fingerprint.ts';
import { CannotEvaluate, Failure } from './verdict.ts';

export const MESSAGES = {
  sizeMultiple: 'size shall be a multiple of 8',
  extensionUnsupported: 'not all extension_mandatory parameters are supported',
  extensionUnmet: 'not all extension_mandatory request options could be met',
  extensionOptional: 'not all extension_optional request options handled',
  notFound: 'one or more keys specified are not found on KME',
} as const;

type Answer = CallResult<unknown> | RawResponse;

/** An answer whose body failed after its head (cut off, too large, too slow): the head's status and what followed. */
export interface HeadOnly {
  status: number;
  then: string;
}

/**
 * The answer to a request that ought to be refused, also when its body then failed: a 2xx/3xx head means
 * the KME served the request, whatever followed (the refusal rule), so it is judged, not an error. A
 * failure before any answer head is rethrown.
 */
export async function answerHead<T extends { status: number }>(call: Promise<T>): Promise<T | HeadOnly> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof KmeTransportError && err.responseStatus !== undefined) return { status: err.responseStatus, then: err.afterHead ?? 'the body failed' };
    throw err;
  }
}

/** ", then …" for an answer whose body failed after the head; empty otherwise. */
export const thenOf = (a: { status: number } | HeadOnly): string => ('then' in a ? `, then ${a.then}` : '');
export const rawOf = (a: Answer): RawResponse => ('raw' in a ? a.raw : a);

/** A 200 with a schema-valid key container of `n` keys of `sizeBits` each. */
export function expectKeys(res: CallResult<KeyContainer>, n: number, sizeBits: number, what: string): KeyContainer {
  const said = errorMessage(res.raw);
  // A 503 to enc_keys is the standard's answer of a KME with nothing to serve (an empty pool, e.g. right
  // after an earlier run emptied it): not the behaviour this request tests, so it cannot be judged. A 503
  // to dec_keys withholds keys already handed to the master: that is a finding.
  if (res.status === 503 && new URL(res.raw.url).pathname.endsWith('/enc_keys')) {
    throw new CannotEvaluate(`${what}: the KME answered 503, it has no key material to serve${said ? ` ("${truncate(said)}")` : ''}; let its key pool refill (Status stored_key_count) and run again`);
  }
  if (res.status !== 200) throw new Failure(`${what}: expected 200, got ${res.status}${said ? ` ("${truncate(said)}")` : ''}`);
  if (!res.data) throw new Failure(`${what}: the 200 body is not a valid key container (${res.schemaError ?? 'no body'})`);
  const keys = res.data.keys;
  if (keys.length !== n) throw new Failure(`${what}: expected ${n} key(s), got ${keys.length}${keys.length === 0 ? ' (an empty container)' : ''}`);
  const bytes = Math.ceil(sizeBits / 8);
  keys.forEach((k, i) => {
    const len = Buffer.from(k.key, 'base64').length;
    if (len !== bytes) throw new Failure(`${what}: key ${i} (${k.key_ID}) decodes to ${len} bytes; ${sizeBits} bits need ${bytes}`);
  });
  return res.data;
}

/** Whether an answer carries the Error format of clause 6.5; returns the problem or undefined. */
export function errorBodyProblem(raw: RawResponse): string | undefined {
  const body = raw.json();
  if (body === undefined) return `the body is not JSON (${raw.headers['content-type'] ?? 'no content type'}, ${raw.body.length} bytes)`;
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'the body is not a JSON object';
  const o = body as Record<string, unknown>;
  if (typeof o.message !== 'string') return `the body has no string "message" (members: ${Object.keys(o).slice(0, 5).join(', ') || 'none'})`;
  // A null `details` is an optional member sent as null: qkd014/6/1's finding (null-optional), not this one.
  if (o.details !== undefined && o.details !== null && (!Array.isArray(o.details) || o.details.some((d) => !d || typeof d !== 'object' || Array.isArray(d)))) {
    return '"details" is not an array of objects';
  }
  return undefined;
}

export function errorMessage(raw: RawResponse): string | undefined {
  const body = raw.json() as { message?: unknown } | undefined;
  return typeof body?.message === 'string' ? body.message : undefined;
}

/**
 * A 400 with an Error body (and the exact message when the standard gives one). Another 4xx is the
 * "status-code" deviation; a 2xx or 5xx is never tolerated.
 */
export function expect400(a: Answer, what: string, exactMessage?: string): void {
  const raw = rawOf(a);
  // A GET whose query values are ignored is served as if it had none: the get-query deviation, one cause everywhere.
  if (raw.status === 200 && raw.method === 'GET' && new URL(raw.url).search) throw new Failure(`${what}: expected 400, got 200 (the query was not judged)`, 'get-query');
  if (raw.status !== 400) {
    const tolerable = raw.status > 400 && raw.status < 500 && raw.status !== 401;
    throw new Failure(`${what}: expected 400, got ${raw.status}`, tolerable ? 'status-code' : undefined);
  }
  const problem = errorBodyProblem(raw);
  if (problem) throw new Failure(`${what}: the 400 body is not an Error (${problem})`, 'error-body');
  if (exactMessage !== undefined && errorMessage(raw) !== exactMessage) {
    throw new Failure(`${what}: expected message "${exactMessage}", got "${truncate(errorMessage(raw) ?? '')}"`, 'message-text');
  }
}

export function truncate(s: string, n = 120): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** Canonical 8-4-4-4-12 hex UUID; the version nibble is checked separately (odd versions only warn). */
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;


/** Same key_ID ⇒ same bytes: compares two containers by fingerprint, never printing keys. */
export function expectSameKeys(master: KeyContainer, slave: KeyContainer, what: string): void {
  const byId = new Map(slave.keys.map((k) => [k.key_ID, k.key]));
  for (const k of master.keys) {
    const other = byId.get(k.key_ID);
    if (other === undefined) throw new Failure(`${what}: key_ID ${k.key_ID} delivered to the master is missing at the slave`);
    const a = Buffer.from(k.key, 'base64');
    const b = Buffer.from(other, 'base64');
    if (!a.equals(b)) throw new Failure(`${what}: key_ID ${k.key_ID} has different bytes at the two KMEs (master ${fingerprint(a)}, slave ${fingerprint(b)})`);
  }
  if (slave.keys.length !== master.keys.length) throw new Failure(`${what}: the slave received ${slave.keys.length} key(s) for ${master.keys.length} key_ID(s)`);
}

/** JSON answers are labelled application/json (clause 4). */
export function expectJsonContentType(raw: RawResponse, what: string): void {
  const ct = raw.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(ct)) throw new Failure(`${what}: Content-Type is "${truncate(ct) || 'absent'}", not application/json`, 'content-type');
}
