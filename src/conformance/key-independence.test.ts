import { randomBytes } from 'node:crypto';
import { md5, sha1 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { sha3_256 } from '@noble/hashes/sha3.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeRelations, distinctKeys, erfc, hashOfAnother, keyIdDerivation, monobit, monobitOf, prefixExtension, repeatedMaterial, startsWith, type RunKey } from './key-independence.ts';

const ID = '5f3c0a9e-1b2d-4c6e-8f70-9a1b2c3d4e5f';
const key = (bytes: Uint8Array, key_ID: string = crypto.randomUUID()): RunKey => ({ key_ID, bytes: Buffer.from(bytes), via: 'POST /api/v1/keys/SAE_B/enc_keys' });
const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const uuidBytes = (s: string): Uint8Array => Buffer.from(s.replace(/-/g, ''), 'hex');
/** SHA-256(seed) ‖ SHA-256(that) ‖ … cut to `length` (what hash-extending simulators do). */
const chain = (seed: Uint8Array, length: number): Buffer => {
  const out = Buffer.alloc(length);
  let block = seed;
  for (let at = 0; at < length; at += 32) {
    block = sha256(block);
    out.set(block.subarray(0, Math.min(32, length - at)), at);
  }
  return out;
};
const pad = (d: Uint8Array, length: number): Buffer => Buffer.concat([d, Buffer.alloc(length - d.length)]);
/** The unused low bits of the last byte cleared, as a KME serving `bits` in ceil(bits/8) bytes does. */
const mask = (b: Buffer, bits: number): Buffer => {
  const spare = b.length * 8 - bits;
  b[b.length - 1]! &= (0xff << spare) & 0xff;
  return b;
};

describe('erfc and the monobit test (NIST SP 800-22 section 2.1)', () => {
  it('matches reference values of erfc', () => {
    const ref: Array<[number, number]> = [
      [0, 1],
      [0.5, 0.4795001221869535],
      [1, 0.15729920705028513],
      [2, 0.004677734981047265],
      [2.9, 4.109787809945886e-5],
      [3, 2.209049699858544e-5],
      [3.5, 7.430983723414128e-7],
      [5, 1.5374597944280349e-12],
      [-1, 1.8427007929497148],
    ];
    for (const [x, y] of ref) expect(Math.abs(erfc(x) - y) / y).toBeLessThan(1e-8);
  });

  it("reproduces the standard's worked examples", () => {
    expect(monobitOf(10, 6).pValue).toBeCloseTo(0.527089, 6); // ε = 1011010101
    expect(monobitOf(100, 42).pValue).toBeCloseTo(0.109599, 6); // the 100-bit example, S = −16
  });

  it('passes random bytes and fails 75 % ones', () => {
    const fair = monobit(Array.from({ length: 40 }, () => key(randomBytes(32))));
    expect(fair.bits).toBe(10_240);
    expect(fair.pValue).toBeGreaterThan(1e-6); // fails with probability 1e-6 by construction
    const biased = monobit(Array.from({ length: 40 }, () => {
      const a = randomBytes(32);
      const b = randomBytes(32);
      return key(a.map((x, i) => x | b[i]!));
    }));
    expect(biased.pValue).toBeLessThan(1e-6);
    expect(biased.ones / biased.bits).toBeGreaterThan(0.7);
  });
});

describe('startsWith', () => {
  it('needs at least 8 bytes compared', () => {
    const d = randomBytes(32);
    expect(startsWith(d.subarray(0, 7), d)).toBe(false);
    expect(startsWith(d.subarray(0, 8), d)).toBe(true);
    expect(startsWith(Buffer.concat([d, randomBytes(8)]), d)).toBe(true);
  });
  it('lets only the last byte of the key be masked, and only its low bits', () => {
    const d = Buffer.from(randomBytes(33));
    d[32] = 0xff;
    expect(startsWith(mask(Buffer.from(d), 260), d)).toBe(true);
    const wrong = Buffer.from(d);
    wrong[10]! ^= 1;
    expect(startsWith(wrong, d)).toBe(false);
    const highBit = Buffer.from(d);
    highBit[32] = 0x7f;
    expect(startsWith(highBit, d)).toBe(false);
  });
});

describe('keyIdDerivation', () => {
  it('finds each common hash of the key_ID, truncated, padded or chained', () => {
    expect(keyIdDerivation(key(sha256(utf8(ID)), ID))).toBe('is SHA-256 of the key_ID string');
    expect(keyIdDerivation(key(chain(utf8(ID), 64), ID))).toBe('begins with SHA-256 of the key_ID string');
    expect(keyIdDerivation(key(mask(chain(utf8(ID), 33), 260), ID))).toBe('begins with SHA-256 of the key_ID string');
    expect(keyIdDerivation(key(sha1(utf8(ID)).subarray(0, 16), ID))).toBe('is SHA-1 of the key_ID string, truncated');
    expect(keyIdDerivation(key(pad(md5(uuidBytes(ID)), 32), ID))).toBe("begins with MD5 of the key_ID's 16 UUID bytes");
    expect(keyIdDerivation(key(sha3_256(utf8(ID.toUpperCase())), ID))).toBe('is SHA3-256 of the key_ID string in upper case');
    expect(keyIdDerivation(key(Buffer.concat([Buffer.alloc(16), md5(utf8(ID))]), ID))).toBe('is MD5 of the key_ID string, zero-padded in front');
  });
  it('finds nothing in independent keys', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 128 }), fc.uuid(), (bytes, id) => keyIdDerivation(key(bytes, id)) === undefined), { seed: 14, numRuns: 300 });
  });
});

describe('repeatedMaterial', () => {
  it('finds the same bytes under two key_IDs, and a key that is the first bytes of another', () => {
    const a = randomBytes(64);
    const found = repeatedMaterial([key(a.subarray(0, 32), 'A'), key(randomBytes(32), 'B'), key(a.subarray(0, 32), 'C'), key(a, 'D')]);
    expect(found.map((r) => `${r.key.key_ID} ${r.how} ${r.other!.key_ID}`).sort()).toEqual(['A has the same bytes as C', 'A is the first 32 bytes of D', 'C is the first 32 bytes of D']);
  });
  it('does not judge keys shorter than 8 bytes, nor the two copies of one key_ID', () => {
    const short = randomBytes(4);
    expect(repeatedMaterial([key(short, 'A'), key(short, 'B')])).toEqual([]);
    const k = randomBytes(32);
    const copies = distinctKeys([{ key_ID: 'X', bytes: k, via: 'POST enc_keys' }, { key_ID: 'X', bytes: k, via: 'POST dec_keys' }, { key_ID: 'Y', via: 'POST enc_keys' }]);
    expect(copies.map((c) => c.via)).toEqual(['POST enc_keys']);
    expect(repeatedMaterial(copies)).toEqual([]);
  });
  it('finds nothing among independent keys', () => {
    expect(repeatedMaterial(Array.from({ length: 500 }, () => key(randomBytes(32))))).toEqual([]);
  });
});

describe('prefixExtension', () => {
  it('finds a random prefix extended by a SHA-256 chain or by SHA3-256', () => {
    const prefix = randomBytes(32);
    expect(prefixExtension(key(Buffer.concat([prefix, chain(prefix, 96)])))).toBe('continues after its first 32 bytes with SHA-256 of them');
    expect(prefixExtension(key(mask(Buffer.concat([prefix, chain(prefix, 13)]), 356)))).toBe('continues after its first 32 bytes with SHA-256 of them');
    // fewer than 8 bytes after the prefix: too short to tell from chance
    expect(prefixExtension(key(mask(Buffer.concat([prefix, chain(prefix, 6)]), 300)))).toBeUndefined();
    const p16 = randomBytes(16);
    expect(prefixExtension(key(Buffer.concat([p16, sha3_256(p16).subarray(0, 16)])))).toBe('continues after its first 16 bytes with SHA3-256 of them');
  });
  it('finds nothing in independent keys', () => {
    for (let i = 0; i < 200; i++) expect(prefixExtension(key(randomBytes(128)))).toBeUndefined();
  });
});

describe('hashOfAnother', () => {
  it('finds a chain of keys, each a hash of the one before', () => {
    const keys = [key(randomBytes(32), 'k0')];
    for (let i = 1; i < 5; i++) keys.push(key(sha256(keys[i - 1]!.bytes), `k${i}`));
    keys.push(key(randomBytes(32), 'other'));
    expect(hashOfAnother(keys).map((r) => `${r.key.key_ID} ${r.how} ${r.other!.key_ID}`)).toEqual(['k1 is SHA-256 of k0', 'k2 is SHA-256 of k1', 'k3 is SHA-256 of k2', 'k4 is SHA-256 of k3']);
  });
  it('finds longer keys chained and SHA3-256 links, in any order of delivery', () => {
    const a = randomBytes(65);
    const b = chain(a, 65);
    const c = sha3_256(randomBytes(32));
    const found = hashOfAnother([key(b, 'b'), key(c, 'c'), key(a, 'a'), key(sha3_256(c).subarray(0, 16), 'd')]);
    expect(found.map((r) => `${r.key.key_ID} ${r.how} ${r.other!.key_ID}`).sort()).toEqual(['b begins with SHA-256 of a', 'd is SHA3-256 of c']);
  });
  it('finds nothing among independent keys', () => {
    expect(hashOfAnother(Array.from({ length: 500 }, () => key(randomBytes(32))))).toEqual([]);
  });
});

describe('describeRelations', () => {
  it('names key_IDs and fingerprints, never key bytes', () => {
    const a = randomBytes(32);
    const text = describeRelations(repeatedMaterial([key(a, 'A'), key(a, 'B')]));
    expect(text).toMatch(/^key_ID A \(sha256:[0-9a-f]{8}, 256 bits, from POST \/api\/v1\/keys\/SAE_B\/enc_keys\) has the same bytes as key_ID B/);
    expect(text).not.toContain(a.toString('base64'));
    expect(text).not.toContain(a.toString('hex').slice(0, 16));
  });
  it('shows at most three and counts the rest', () => {
    const a = randomBytes(32);
    const found = repeatedMaterial(['A', 'B', 'C', 'D'].map((id) => key(a, id)));
    expect(found).toHaveLength(6);
    expect(describeRelations(found)).toMatch(/; and 3 more$/);
  });
});
