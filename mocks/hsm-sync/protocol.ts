// The replication protocol between the primary agent (site A: holds the reference token, dials) and the
// replica agent (site B: listens on its tunnel address). Version 1.
//
// Framing: each message is a 4-byte big-endian length N followed by N bytes of UTF-8 JSON (one object,
// N ≤ MAX_FRAME). Every message carries `v` (the protocol version) and `type`. Byte strings (public key
// parts, wrapped blobs) are base64. Wrapped blobs are ciphertext under the shared KEK, yet they are never
// logged: events show the object's fingerprint and the blob's length only.
//
//   A → B  hello {site, journal, kek}                      B → A  welcome {site, kek, acked}
//   (KEKs differ or are absent: the key ceremony)
//   A → B  ceremony                                        B → A  transport-key {modulus, exponent, fingerprint}
//   A → B  kek {wrapped (RSA-OAEP SHA-1), kcv}              B → A  kek-result {kcv, agreed}
//   (then, in journal order, one at a time)
//   A → B  put {seq, key, kek, public | wrapped}            B → A  ack {seq, result, …}
//   A → B  delete {seq, object}                            B → A  ack {seq, result}
//   A → B  ping {n}                                        B → A  pong {n}
//   either: error {code, message, retry} and the connection closes.
import { z } from 'zod';

export const PROTOCOL_VERSION = 1;
/** Largest frame accepted (bytes of JSON): an RSA-8192 private key wraps to ~4.8 KiB, base64 ~6.5 KiB. */
export const MAX_FRAME = 256 * 1024;

const b64 = z.string().max(64 * 1024).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');
const text = z.string().max(1024);
const hexId = z.string().max(512).regex(/^([0-9a-f]{2})*$/, 'lowercase hex');

export const objectName = z.object({ class: z.enum(['public-key', 'private-key', 'secret-key']), label: text, id: hexId });
export type WireName = z.infer<typeof objectName>;

export const USAGES = ['encrypt', 'decrypt', 'sign', 'verify', 'wrap', 'unwrap', 'derive'] as const;
export type Usage = (typeof USAGES)[number];
export const usages = z.partialRecord(z.enum(USAGES), z.boolean());
export type Usages = z.infer<typeof usages>;

/** What identifies one replicable key: name, key type, fingerprint (as `hsm compare` computes it) and usages. */
export const keyDescriptor = objectName.extend({
  keyType: z.enum(['rsa', 'ec', 'aes']),
  /** `sha256:…` (RSA/EC public parts) or `kcv:…` (AES, computed on the token). */
  fingerprint: z.string().regex(/^(sha256:[0-9a-f]{64}|kcv:[0-9a-f]{6})$/),
  usages,
});
export type KeyDescriptor = z.infer<typeof keyDescriptor>;

const kcv = z.string().regex(/^kcv:[0-9a-f]{6}$/);
const v = z.literal(PROTOCOL_VERSION);

export const message = z.discriminatedUnion('type', [
  z.object({ v, type: z.literal('hello'), site: text, journal: z.string().max(64), kek: kcv.nullable() }),
  z.object({ v, type: z.literal('welcome'), site: text, kek: kcv.nullable(), acked: z.number().int().nonnegative() }),
  z.object({ v, type: z.literal('ceremony') }),
  z.object({ v, type: z.literal('transport-key'), modulus: b64, exponent: b64, fingerprint: z.string().max(100) }),
  z.object({ v, type: z.literal('kek'), wrapped: b64, kcv }),
  z.object({ v, type: z.literal('kek-result'), kcv: kcv.nullable(), agreed: z.boolean() }),
  z.object({
    v,
    type: z.literal('put'),
    seq: z.number().int().positive(),
    key: keyDescriptor,
    /** The KCV of the KEK the blob is wrapped under (a replica with another KEK refuses, retry after a ceremony). */
    kek: kcv,
    public: z.union([z.object({ keyType: z.literal('rsa'), modulus: b64, exponent: b64 }), z.object({ keyType: z.literal('ec'), params: b64, point: b64 })]).optional(),
    /** CKM_AES_KEY_WRAP_PAD (RFC 5649) under the KEK: private and secret keys. */
    wrapped: b64.optional(),
  }),
  z.object({ v, type: z.literal('delete'), seq: z.number().int().positive(), object: objectName }),
  z.object({
    v,
    type: z.literal('ack'),
    seq: z.number().int().positive(),
    result: z.enum(['imported', 'replaced', 'present', 'rejected', 'deleted', 'absent']),
    /** Why a put was rejected (one sentence, no key material). */
    detail: z.string().max(2000).optional(),
    /** The copy's fingerprint as computed on the replica. */
    fingerprint: z.string().max(100).nullable().optional(),
    copies: z.number().int().nonnegative().optional(),
  }),
  z.object({ v, type: z.literal('ping'), n: z.number().int().nonnegative() }),
  z.object({ v, type: z.literal('pong'), n: z.number().int().nonnegative() }),
  z.object({ v, type: z.literal('error'), code: z.enum(['version', 'protocol', 'kek', 'hsm', 'replaced']), message: z.string().max(2000), retry: z.boolean() }),
]);

export type Message = z.infer<typeof message>;
export type MessageOf<T extends Message['type']> = Extract<Message, { type: T }>;
/** A message before `v` is added by `encodeFrame`. */
export type Outgoing = Message extends infer M ? (M extends { v: number } ? Omit<M, 'v'> : never) : never;

/** A frame that cannot be a protocol message (too large, not JSON, unknown version or shape). */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
  constructor(
    message: string,
    readonly code: 'version' | 'protocol' = 'protocol',
  ) {
    super(message);
  }
}

/** One frame: 4-byte big-endian length ‖ UTF-8 JSON of `{v, ...m}`. */
export function encodeFrame(m: Outgoing): Buffer {
  const body = Buffer.from(JSON.stringify({ v: PROTOCOL_VERSION, ...m }), 'utf8');
  if (body.length > MAX_FRAME) throw new ProtocolError(`message ${m.type} is ${body.length} bytes, more than ${MAX_FRAME}`);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

/** Validates one decoded JSON value. @throws ProtocolError naming the first problem (never echoing values). */
export function parseMessage(value: unknown): Message {
  const version = (value as { v?: unknown } | null)?.v;
  if (version !== PROTOCOL_VERSION) throw new ProtocolError(`protocol version ${JSON.stringify(version ?? null)} is not supported (this agent speaks ${PROTOCOL_VERSION})`, 'version');
  const r = message.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new ProtocolError(`malformed ${typeof (value as { type?: unknown }).type === 'string' ? `"${String((value as { type: string }).type).slice(0, 32)}" ` : ''}message: ${i.path.join('.') || 'message'}: ${i.message}`);
  }
  return r.data;
}

/** Reassembles frames from a byte stream; `push` returns the complete messages so far. */
export class FrameDecoder {
  private buffer: Buffer = Buffer.alloc(0);

  /** @throws ProtocolError on an oversized frame, bad JSON or an invalid message (the stream is then unusable). */
  push(chunk: Buffer): Message[] {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const out: Message[] = [];
    while (this.buffer.length >= 4) {
      const n = this.buffer.readUInt32BE(0);
      if (n > MAX_FRAME) throw new ProtocolError(`frame of ${n} bytes announced, more than ${MAX_FRAME}`);
      if (this.buffer.length < 4 + n) break;
      const body = this.buffer.subarray(4, 4 + n);
      this.buffer = this.buffer.subarray(4 + n);
      let value: unknown;
      try {
        value = JSON.parse(body.toString('utf8'));
      } catch {
        throw new ProtocolError(`frame of ${n} bytes is not JSON`);
      }
      out.push(parseMessage(value));
    }
    return out;
  }
}
