// Request bodies: read up to a cap (refusing early on a declared length above it), then decoded as strict
// UTF-8 JSON. Nothing here quotes the body back (it could be anything, in any size).
import type { IncomingMessage } from 'node:http';
import { badRequest, KmeError } from './errors.ts';

export type BodyResult = { ok: true; bytes: Buffer } | { ok: false; error?: KmeError };

const tooLarge = (cap: number): KmeError => new KmeError(400, 'format', `the request body exceeds the limit of ${cap} bytes`, undefined, true);

const EMPTY = Buffer.alloc(0);

/**
 * Bytes of an oversized body read and discarded before answering 400. Answering while the client still
 * sends and then closing makes the kernel reset the connection, and a reset can discard the answer at the
 * client before it is read — so whether a client saw the 400 would depend on timing. Bodies above this
 * bound are cut off (400 with close) without reading them.
 */
export const DRAIN_BYTES = 16 * 1024 * 1024;
/** Milliseconds an oversized body is drained at most (a client that never finishes still gets its 400); the KME passes less when its request timeout is shorter. */
export const DRAIN_MS = 2000;

/**
 * Reads the whole body; one above `cap` bytes (declared or counted) is drained up to `DRAIN_BYTES` or
 * `drainMs` and refused with a 400 that closes the connection. `{ok: false}` without error = the client went away.
 */

export function readBody(req: IncomingMessage, cap: number, drainMs = DRAIN_MS): Promise<BodyResult> | BodyResult {
  const declared = req.headers['content-length'];
  if (declared === undefined && req.headers['transfer-encoding'] === undefined) {
    req.resume(); // no body (RFC 9112 §6.3): nothing to wait for
    return { ok: true, bytes: EMPTY };
  }
  if (declared !== undefined && Number(declared) > DRAIN_BYTES) return { ok: false, error: tooLarge(cap) };
  const encoding = req.headers['content-encoding'];
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    let drainTimer: NodeJS.Timeout | undefined;
    const finish = (r: BodyResult): void => {
      if (done) return;
      done = true;
      clearTimeout(drainTimer);
      req.off('data', onData);
      resolve(r);
    };
    const refuse = (): void => {
      req.pause();
      finish({ ok: false, error: tooLarge(cap) });
    };
    const startDrain = (): void => {
      chunks.length = 0; // kept no longer
      drainTimer ??= setTimeout(refuse, drainMs);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > DRAIN_BYTES) refuse();
      else if (size > cap) startDrain();
      else chunks.push(chunk);
    };
    if (declared !== undefined && Number(declared) > cap) startDrain();
    req.on('data', onData);
    req.once('end', () => {
      if (size > cap) finish({ ok: false, error: tooLarge(cap) });
      else if (encoding !== undefined && encoding !== 'identity' && size > 0) finish({ ok: false, error: new KmeError(400, 'format', `content-encoding ${String(encoding).slice(0, 40)} is not supported`, undefined, true) });
      else finish({ ok: true, bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) });
    });
    req.once('aborted', () => finish({ ok: false }));
    req.once('error', () => finish({ ok: false }));
    req.once('close', () => finish({ ok: false }));
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses a JSON object body; an empty body is `emptyAs` when given (POST enc_keys: `{}`), else an error. */
export function parseJsonObject(bytes: Buffer, what: string, emptyAs?: Record<string, unknown>): Record<string, unknown> {
  if (bytes.length === 0 || (emptyAs && /^\s*$/.test(bytes.toString('latin1')))) {
    if (emptyAs) return emptyAs;
    throw badRequest(`the ${what} body is missing`);
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw badRequest(`the ${what} body is not valid UTF-8`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // A stack overflow on absurd nesting is a malformed body too.
    throw badRequest(`the ${what} body is not valid JSON${err instanceof RangeError ? ' (nested too deeply)' : ''}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw badRequest(`the ${what} body must be a JSON object`);
  return value as Record<string, unknown>;
}
