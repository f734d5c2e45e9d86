// Writes an answer: a Status, a Key container (keys as bytes, encoded here) or a KmeError as the Error
// body. Faithful mode: `Content-Type: application/json; charset=utf-8` on every JSON answer, standard
// padded Base64, `keys`, `message`. The presentation deviations are applied here, each in one place,
// including those that alter single Status members (the Status handler computes the faithful values).
import { randomInt } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeviationSwitch } from './deviation-switch.ts';
import { KmeError } from './errors.ts';

export interface DeliveredKey {
  key_ID: string;
  key: Buffer;
}

export type Answer = { status: 200; body: Record<string, unknown> } | { status: 200; keys: DeliveredKey[] } | KmeError;

export const JSON_TYPE = 'application/json; charset=utf-8';

export interface Written {
  status: number;
}

/** Bytes of the invalid-utf8 deviation: 0xC3 opens a two-byte sequence that 0x28 ('(') does not continue. */
export const INVALID_UTF8 = Buffer.from([0xc3, 0x28]);

/** A Status body under the Status presentation deviations (a copy; the faithful body is returned as is). */
function statusBody(body: Record<string, unknown>, dev: DeviationSwitch): Record<string, unknown> {
  const bad = dev.has('status-bad-member');
  const nulls = dev.has('null-optional-members');
  const random = dev.has('status-count-random');
  if (!bad && !nulls && !random) return body;
  const out = { ...body };
  if (bad) out.target_KME_ID = 0; // deviation: status-bad-member
  if (random && typeof out.max_key_count === 'number') out.stored_key_count = randomInt(0, out.max_key_count + 1); // deviation: status-count-random
  if (nulls) out.status_extension = null; // deviation: null-optional-members
  return out;
}

/** The JSON of a Key container; the invalid-utf8 deviation splices raw bytes into a string member. */
function keyContainer(keys: DeliveredKey[], dev: DeviationSwitch): string | Buffer {
  const encode = dev.has('url-safe-base64') ? (b: Buffer) => b.toString('base64url') : (b: Buffer) => b.toString('base64');
  const nulls = dev.has('null-optional-members');
  const member = dev.has('key-member-renamed') ? 'key_value' : 'key'; // deviation: key-member-renamed
  const entry: (k: DeliveredKey) => Record<string, unknown> = nulls
    ? (k: DeliveredKey) => ({ key_ID: k.key_ID, key_ID_extension: null, [member]: encode(k.key), key_extension: null })
    : member === 'key'
      ? (k: DeliveredKey) => ({ key_ID: k.key_ID, key: encode(k.key) })
      : (k: DeliveredKey) => ({ key_ID: k.key_ID, key_value: encode(k.key) });
  const entries = keys.map(entry);
  const container: Record<string, unknown> = dev.has('keys-capitalised') ? { Keys: entries } : { keys: entries };
  if (dev.has('invalid-utf8')) {
    // deviation: invalid-utf8 — the member is closed around the raw bytes, so the body is not UTF-8
    const json = JSON.stringify(container);
    return Buffer.concat([Buffer.from(`${json.slice(0, -1)},"key_container_extension":{"vendor_note":"caf`), INVALID_UTF8, Buffer.from('"}}')]);
  }
  if (nulls) container.key_container_extension = null;
  return JSON.stringify(container);
}

/** The status line, headers and body for an answer under the active deviations (pure; no I/O). */
export function render(answer: Answer, dev: DeviationSwitch): { status: number; headers: Record<string, string>; body: string | Buffer } {
  const jsonType = dev.has('no-json-content-type') ? 'text/plain; charset=utf-8' : JSON_TYPE;
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  if (answer instanceof KmeError) {
    if (answer.close) headers.connection = 'close';
    let status: number = answer.status;
    if (status === 400 && answer.kind === 'format' && dev.has('500-on-bad-input')) {
      const trace = new Error(answer.message).stack ?? answer.message;
      return { status: 500, headers: { ...headers, 'content-type': 'text/plain; charset=utf-8' }, body: `Internal Server Error\n${trace}\n` };
    }
    if (status === 401 && dev.has('html-on-401')) {
      return { status, headers: { ...headers, 'content-type': 'text/html; charset=utf-8' }, body: '<!DOCTYPE html>\n<html><head><title>401 Unauthorized</title></head><body><h1>401 Unauthorized</h1><p>Access denied.</p></body></html>\n' };
    }
    if (status === 400 && dev.has('404-instead-of-400')) status = 404;
    if (answer.kind === 'exhausted' && dev.has('exhaustion-404')) status = 404;
    // deviation: null-optional-members also sends an absent `details` as null
    const body = dev.has('detail-errors') ? { detail: answer.message } : answer.details ? { message: answer.message, details: answer.details } : dev.has('null-optional-members') ? { message: answer.message, details: null } : { message: answer.message };
    return { status, headers: { ...headers, 'content-type': jsonType }, body: JSON.stringify(body) };
  }
  if ('keys' in answer) {
    let body = keyContainer(answer.keys, dev);
    if (dev.has('truncated-json')) body = body.slice(0, Math.max(1, Math.floor(body.length / 2)));
    return { status: 200, headers: { ...headers, 'content-type': jsonType }, body };
  }
  return { status: 200, headers: { ...headers, 'content-type': jsonType }, body: JSON.stringify(statusBody(answer.body, dev)) };
}

/** Sends the answer (after the slow-answers delay when that deviation is on); resolves with the status sent. */
export async function writeAnswer(req: IncomingMessage, res: ServerResponse, answer: Answer, dev: DeviationSwitch, slowMs: number): Promise<Written | undefined> {
  if (dev.has('slow-answers') && slowMs > 0) {
    // deviation: slow-answers
    await new Promise<void>((ok) => {
      const timer = setTimeout(ok, slowMs);
      timer.unref();
      res.once('close', () => {
        clearTimeout(timer);
        ok();
      });
    });
  }
  if (res.destroyed || res.headersSent || req.socket.destroyed) return undefined;
  const out = render(answer, dev);
  res.writeHead(out.status, { ...out.headers, 'content-length': String(Buffer.byteLength(out.body)) });
  res.end(out.body); // the body goes out with the head in one write
  if (out.headers.connection === 'close') res.once('finish', () => req.destroy());
  return { status: out.status };
}
