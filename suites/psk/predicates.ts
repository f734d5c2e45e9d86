// The PSK properties as fast-check properties over an interchangeable derivation, so the same
// predicate runs against the real code (must hold) and against deliberately broken ones (must fail).
import { hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { deriveHybrid, derivePqcOnly, deriveQkdOnly, encodeBase64, base64Problem, hkdfSha3, PskInputError } from '../../src/psk/index.ts';
import { key32, keyBytes, same } from './helpers.ts';

export interface Derivation {
  hybrid(qkd: Uint8Array, pqc: Uint8Array): Uint8Array;
  qkdOnly(qkd: Uint8Array): Uint8Array;
  pqcOnly(pqc: Uint8Array): Uint8Array;
  /** The bare KDF, for the differential on arbitrary IKM. */
  kdf(ikm: Uint8Array): Uint8Array;
}

export const real: Derivation = {
  hybrid: (q, p) => deriveHybrid(q, p).key,
  qkdOnly: (q) => deriveQkdOnly(q).key,
  pqcOnly: (p) => derivePqcOnly(p).key,
  kdf: hkdfSha3,
};

/** Node's OpenSSL HKDF: the reference of the differential. */
export const nodeHkdf = (ikm: Uint8Array): Uint8Array =>
  new Uint8Array(hkdfSync('sha3-256', ikm, Buffer.alloc(0), Buffer.alloc(0), 32));

const concat = (a: Uint8Array, b: Uint8Array) => new Uint8Array([...a, ...b]);

/** What `wg` accepts: 44 characters of canonical padded base64 ending in one '=', decoding to 32 bytes. */
export function wgAccepts(b64: string): boolean {
  return b64.length === 44 && b64.endsWith('=') && !b64.endsWith('==') && base64Problem(b64) === undefined && Buffer.from(b64, 'base64').length === 32;
}

export const properties = {
  deterministic: (d: Derivation) =>
    fc.property(key32, key32, (q, p) =>
      same(d.hybrid(q, p), d.hybrid(q.slice(), p.slice())) && same(d.qkdOnly(q), d.qkdOnly(q.slice())) && same(d.pqcOnly(p), d.pqcOnly(p.slice())),
    ),

  wgFormat: (d: Derivation) =>
    fc.property(key32, key32, (q, p) => [d.hybrid(q, p), d.qkdOnly(q), d.pqcOnly(p)].every((k) => k.length === 32 && wgAccepts(encodeBase64(k)))),

  swapChanges: (d: Derivation) =>
    fc.property(key32, key32, (q, p) => {
      fc.pre(!same(q, p));
      return !same(d.hybrid(q, p), d.hybrid(p, q));
    }),

  bitFlipChanges: (d: Derivation) =>
    fc.property(key32, key32, fc.boolean(), fc.nat(255), (q, p, inQkd, bit) => {
      const flip = (k: Uint8Array) => { const c = k.slice(); c[bit >> 3]! ^= 1 << (bit & 7); return c; };
      if (inQkd) return !same(d.hybrid(q, p), d.hybrid(flip(q), p)) && !same(d.qkdOnly(q), d.qkdOnly(flip(q)));
      return !same(d.hybrid(q, p), d.hybrid(q, flip(p))) && !same(d.pqcOnly(p), d.pqcOnly(flip(p)));
    }),

  modesDiffer: (d: Derivation) =>
    fc.property(key32, key32, (q, p) => {
      const [h, qo, po] = [d.hybrid(q, p), d.qkdOnly(q), d.pqcOnly(p)];
      return !same(h, qo) && !same(h, po) && !same(qo, po);
    }),

  // IKM lengths 0..300 cross the 136-byte SHA3-256 block boundary.
  differential: (d: Derivation) =>
    fc.property(key32, key32, keyBytes(0, 300), (q, p, ikm) =>
      same(d.kdf(ikm), nodeHkdf(ikm)) && same(d.hybrid(q, p), nodeHkdf(concat(q, p))) && same(d.pqcOnly(p), nodeHkdf(p)),
    ),

  /** Moving the split point of the same IKM either is refused or yields a different PSK. */
  resplitRefused: (d: Derivation) =>
    fc.property(key32, key32, fc.integer({ min: 1, max: 63 }), (q, p, k) => {
      fc.pre(k !== 32);
      const ikm = concat(q, p);
      const outcomes: Array<() => Uint8Array> = [() => d.hybrid(ikm.slice(0, k), ikm.slice(k)), () => d.pqcOnly(ikm)];
      return outcomes.every((run) => {
        try {
          return !same(run(), d.hybrid(q, p));
        } catch (err) {
          return err instanceof PskInputError;
        }
      });
    }),
};
