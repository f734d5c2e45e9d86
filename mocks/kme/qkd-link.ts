// The simulated QKD link: both ends hold the same link secret and so derive the same key stream and the
// same key_IDs without talking (the way two QKD devices end up with identical distilled key).
//
// The stream is split into lanes, one per (master KME, epoch): the KME that serves enc_keys takes key
// material from its own lane only, so two KMEs allocating at the same time can never hand out the same
// bits; a fresh random epoch per KME start keeps a restarted KME from repeating keys or key_IDs. A lane is
// AES-256-CTR keystream under a lane key derived with HMAC-SHA-256 from the link secret, addressable at
// any byte offset: a reservation names (lane, offset, size) and the peer derives the identical bytes.
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';

const LABEL = 'qkd-harness mock QKD link v1';

export class LinkSeedError extends Error {
  override name = 'LinkSeedError';
}

/** A link seed: 16 to 64 bytes as hex. */
export const LINK_SEED_RE = /^(?:[0-9a-fA-F]{2}){16,64}$/;

/** Parses a link seed given as hex (at least 16 bytes). */
export function parseLinkSeed(hex: string): Buffer {
  if (!LINK_SEED_RE.test(hex)) throw new LinkSeedError('the link seed must be 32 to 128 hex digits (16 to 64 bytes)');
  return Buffer.from(hex, 'hex');
}

export class QkdLink {
  private readonly lanes = new Map<string, Lane>();

  private constructor(private readonly secret: Buffer) {}

  static fromSeed(seed: Buffer | string): QkdLink {
    const secret = typeof seed === 'string' ? parseLinkSeed(seed) : Buffer.from(seed);
    if (secret.length < 16) throw new LinkSeedError('the link seed must be at least 16 bytes');
    return new QkdLink(secret);
  }

  /** A link with a random secret: both KMEs in one process share the instance. */
  static random(): QkdLink {
    return new QkdLink(randomBytes(32));
  }

  /** A value both ends can compare to find out whether they hold the same secret (reveals nothing of it). */
  get check(): string {
    return createHmac('sha256', this.secret).update(`${LABEL}\0check`).digest('hex').slice(0, 32);
  }

  /** The lane of keys served by `masterKmeId` in one of its runs (`epoch`: hex chosen at its start). */
  lane(masterKmeId: string, epoch: string): Lane {
    const name = `${masterKmeId}\0${epoch}`;
    let lane = this.lanes.get(name);
    if (!lane) {
      const key = createHmac('sha256', this.secret).update(`${LABEL}\0lane\0${name}`).digest();
      const idKey = createHmac('sha256', this.secret).update(`${LABEL}\0ids\0${name}`).digest();
      lane = new Lane(masterKmeId, epoch, key, idKey);
      if (this.lanes.size >= 64) this.lanes.delete(this.lanes.keys().next().value!); // peers restart rarely
      this.lanes.set(name, lane);
    }
    return lane;
  }
}

export class Lane {
  constructor(
    readonly masterKmeId: string,
    readonly epoch: string,
    private readonly streamKey: Buffer,
    private readonly idKey: Buffer,
  ) {}

  /** `length` bytes of key stream starting at byte `offset`. */
  bytes(offset: number, length: number): Buffer {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) throw new RangeError('lane offsets are non-negative safe integers');
    const block = Math.floor(offset / 16);
    const skip = offset % 16;
    const iv = Buffer.alloc(16);
    iv.writeBigUInt64BE(BigInt(block), 8);
    const cipher = createCipheriv('aes-256-ctr', this.streamKey, iv);
    const out = cipher.update(Buffer.alloc(skip + length));
    return out.subarray(skip);
  }

  /** A key of `size` bits at `offset`: ceil(size/8) bytes, the unused low bits of the last byte zero. */
  key(offset: number, size: number): Buffer {
    return maskBits(this.bytes(offset, Math.ceil(size / 8)), size);
  }

  /** The key_ID of the key at `offset`: a UUID in version-4 layout derived from the link secret. */
  keyId(offset: number): string {
    const b = createHmac('sha256', this.idKey).update(u64(offset)).digest();
    b[6] = (b[6]! & 0x0f) | 0x40;
    b[8] = (b[8]! & 0x3f) | 0x80;
    const h = b.toString('hex', 0, 16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  }
}

/** Keeps the first `size` bits (MSB first) of `bytes`, zeroing the rest of the last byte. */
export function maskBits(bytes: Buffer, size: number): Buffer {
  const rest = size % 8;
  if (rest !== 0 && bytes.length > 0) bytes[bytes.length - 1] = bytes[bytes.length - 1]! & ((0xff << (8 - rest)) & 0xff);
  return bytes;
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** A fresh epoch for a KME start. */
export const newEpoch = (): string => randomBytes(8).toString('hex');
