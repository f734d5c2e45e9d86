// Request bodies: read up to a cap (refusing early on a declared length above it), then decoded as strict
// UTF-8 JSON. Nothing here quotes the body back (it could be anything, in any size).
import type { IncomingMessage } from 'node:http';
import { badRequest, KmeError } from './errors.ts';

export type BodyResult = { ok: true; bytes: Buffer } | { ok: false; error?: KmeError };

const tooLarge = (cap: number): KmeError => new KmeError(400, 'format', `the request body exceeds the limit of ${cap} bytes`, undefined, true);

/** Reads the whole body, or stops at `cap` bytes (error with close); `{ok: false}` without error = the client went away. */
const EMPTY = Buffer.alloc(0);

export function readBody(req: IncomingMessage, cap: number): Promise<BodyResult> | BodyResult {
  const declared = req.headers['content-length'];
  if (declared === undefined && req.headers['transfer-encoding'] === undefined) {
    req.resume(); // no body (RFC 9112 §6.3): nothing to wait for
    return { ok: true, bytes: EMPTY };
  }
  if (declared !== undefined && Number(declared) > cap) return { ok: false, error: tooLarge(cap) };
  const encoding = req.headers['content-encoding'];
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (r: BodyResult): void => {
      if (done) return;
      done = true;
      req.off('data', onData);
      resolve(r);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > cap) {
        req.pause();
        finish({ ok: false, error: tooLarge(cap) });
      } else chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => {
      if (encoding !== undefined && encoding !== 'identity' && size > 0) finish({ ok: false, error: new KmeError(400, 'format', `content-encoding ${String(encoding).slice(0, 40)} is not supported`, undefined, true) });
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
