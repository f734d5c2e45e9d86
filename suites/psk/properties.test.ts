// Properties of the derivation (fast-check; seed and run count from vitest.setup.ts), and proof that
// each one can fail: the same predicate run against a deliberately broken derivation.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { deriveHybrid, derivePqcOnly, hkdfSha3 } from '../../src/psk/index.ts';
import { properties, real, type Derivation } from './predicates.ts';
import { labelPskRequirements } from './helpers.ts';

labelPskRequirements();

const concat = (a: Uint8Array, b: Uint8Array) => new Uint8Array([...a, ...b]);
const sorted = (a: Uint8Array, b: Uint8Array) => (Buffer.compare(a, b) <= 0 ? [a, b] : [b, a]) as [Uint8Array, Uint8Array];
let calls = 0;

/** One plausible bug per property; each must be caught by that property's predicate. */
const broken: Record<keyof typeof properties, Derivation> = {
  deterministic: { ...real, hybrid: (q, p) => hkdfSha3(concat(concat(q, p), Uint8Array.of(calls++ & 0xff))) },
  wgFormat: { ...real, hybrid: (q, p) => real.hybrid(q, p).slice(0, 31) },
  swapChanges: { ...real, hybrid: (q, p) => hkdfSha3(concat(...sorted(q, p))) },
  bitFlipChanges: { ...real, hybrid: (q) => hkdfSha3(q) }, // ignores PQC
  modesDiffer: { ...real, hybrid: (q) => q.slice() }, // falls back to QKD-only
  differential: { ...real, kdf: (ikm) => hkdf(sha256, ikm, undefined, undefined, 32), hybrid: (q, p) => hkdf(sha256, concat(q, p), undefined, undefined, 32) },
  resplitRefused: {
    ...real,
    hybrid: (q, p) => deriveHybrid(q, p, { allowVariableLengths: true }).key,
    pqcOnly: (p) => derivePqcOnly(p, { allowVariableLengths: true }).key,
  },
};

describe('PSK properties', () => {
  it('psk/9 the derivation is deterministic in every mode', () => fc.assert(properties.deterministic(real)));

  it('psk/10 every PSK is 32 bytes that wg accepts as base64 (44 characters, one "=", decodes to 32 bytes)', () =>
    fc.assert(properties.wgFormat(real)));

  it('psk/3 swapping QKD and PQC changes the PSK', () => fc.assert(properties.swapChanges(real)));

  it('psk/11 any single-bit flip in the QKD or the PQC key changes the PSK', () => fc.assert(properties.bitFlipChanges(real)));

  it('psk/12 hybrid, QKD-only and PQC-only differ for the same inputs', () => fc.assert(properties.modesDiffer(real)));

  it("psk/13 the derivation agrees with Node's crypto.hkdfSync('sha3-256') on random inputs", () =>
    fc.assert(properties.differential(real)));

  it('psk/14 each property catches a deliberately broken derivation', () => {
    for (const [name, property] of Object.entries(properties) as Array<[keyof typeof properties, (d: Derivation) => fc.IProperty<unknown>]>) {
      const result = fc.check(property(broken[name]));
      expect(result.failed, `${name} should reject the broken derivation`).toBe(true);
      expect(String(result.errorInstance), `${name} should fail by its predicate, not by an exception`).toMatch(/returning false/);
    }
  });
});
