// Input separation of QKD ‖ PQC (no length prefix): holds for 32-byte QKD keys, breaks otherwise.
import { describe, expect, it } from 'vitest';
import { test } from '@fast-check/vitest';
import fc from 'fast-check';
import { decodeBase64Strict, deriveHybrid, derivePqcOnly, hybridIkm, PskInputError, splitHybridIkm } from '../../src/psk/index.ts';
import { differ, key32, keyBytes, labelPskRequirements, loadVectors, same } from './helpers.ts';
import { properties, real } from './predicates.ts';

labelPskRequirements();

interface PskCase { name: string; qkd: string | null; pqc: string | null; psk_hex: string }
const cases = loadVectors<PskCase>('psk.json').cases;
const vector = (prefix: string) => {
  const c = cases.find((v) => v.name.startsWith(prefix))!;
  const bytes = (s: string | null) => (s === null ? new Uint8Array(0) : decodeBase64Strict(s, c.name));
  return { qkd: bytes(c.qkd), pqc: bytes(c.pqc), psk: Buffer.from(c.psk_hex, 'hex') };
};

describe('PSK input separation', () => {
  test.prop([key32, keyBytes(1, 200)])('psk/16 with a 32-byte QKD key the IKM splits back into the same (QKD, PQC) pair', (q, p) => {
    const { qkd, pqc } = splitHybridIkm(hybridIkm(q, p));
    return same(qkd, q) && same(pqc, p);
  });

  it('psk/17 by default inputs outside 32 + 32 bytes are refused, so no re-split of an IKM is accepted', () => {
    fc.assert(properties.resplitRefused(real));
    const k = (n: number) => new Uint8Array(n).fill(7);
    for (const [q, p] of [[k(31), k(32)], [k(33), k(32)], [k(32), k(31)], [k(32), k(33)], [k(0), k(32)], [k(32), k(0)]] as const) {
      expect(() => deriveHybrid(q, p), `hybrid ${q.length}+${p.length}`).toThrow(PskInputError);
    }
    expect(() => derivePqcOnly(k(64)), 'PQC-only 64').toThrow(PskInputError);
    // Empty is refused even with the opt-out: it is a failed read, never a key.
    expect(() => deriveHybrid(k(32), k(0), { allowVariableLengths: true })).toThrow(/PQC key is empty/);
  });

  it('psk/18 outside the condition distinct inputs collide: (q‖x, y), (q, x‖y) and PQC-only(q‖x‖y) give one PSK', () => {
    const a = vector('counterexample: (q||x, y)');
    const b = vector('counterexample: (q, x||y)');
    const c = vector('counterexample: pqc-only');
    const optOut = { allowVariableLengths: true };
    const ra = deriveHybrid(a.qkd, a.pqc, optOut);
    const rb = deriveHybrid(b.qkd, b.pqc);
    const rc = derivePqcOnly(c.pqc, optOut);
    expect(same(ra.key, rb.key), differ('(q‖x, y) vs (q, x‖y)', ra.key, rb.key)).toBe(true);
    expect(same(rc.key, rb.key), differ('pqc-only(q‖x‖y) vs (q, x‖y)', rc.key, rb.key)).toBe(true);
    expect(same(rb.key, b.psk), differ('independent vector', rb.key, b.psk)).toBe(true);
    // The opt-out results are flagged; the default refuses both.
    expect([ra.separated, rb.separated, rc.separated]).toEqual([false, true, false]);
    expect(() => deriveHybrid(a.qkd, a.pqc)).toThrow(PskInputError);
    expect(() => derivePqcOnly(c.pqc)).toThrow(PskInputError);
  });
});
