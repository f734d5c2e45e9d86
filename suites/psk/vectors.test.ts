// Known answers: RFC 5869 (HKDF plumbing) and vectors computed by fixtures/vectors/gen_vectors.py.
import { describe, expect, it } from 'vitest';
import { expand, extract, hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { sha3_256 } from '@noble/hashes/sha3.js';
import { decodeBase64Strict, derivePsk, hkdfSha3, type PskMode } from '../../src/psk/index.ts';
import { differ, hex, labelPskRequirements, loadVectors, same } from './helpers.ts';

labelPskRequirements();

interface HkdfCase { name: string; ikm: string; salt?: string; info?: string; length: number; prk: string; okm: string }
interface PskCase {
  name: string; mode: PskMode; qkd: string | null; pqc: string | null; psk: string; psk_hex: string;
  allow_variable_lengths: boolean; separated: boolean;
}

const rfc = loadVectors<HkdfCase>('rfc5869-hkdf-sha256.json');
const sha3 = loadVectors<HkdfCase>('hkdf-sha3-256.json');
const psk = loadVectors<PskCase>('psk.json');

function derive(c: PskCase) {
  const input = (v: string | null) => (v === null ? undefined : decodeBase64Strict(v, c.name));
  return derivePsk({ mode: c.mode, qkd: input(c.qkd), pqc: input(c.pqc) }, { allowVariableLengths: c.allow_variable_lengths });
}

function checkModeVectors(mode: PskMode) {
  const cases = psk.cases.filter((c) => c.mode === mode);
  expect(cases.length).toBeGreaterThanOrEqual(2);
  for (const c of cases) {
    const r = derive(c);
    expect(same(r.key, hex(c.psk_hex)), differ(c.name, r.key, hex(c.psk_hex))).toBe(true);
    expect(r.base64 === c.psk, `${c.name}: base64 form`).toBe(true);
    expect(r.separated, `${c.name}: separated flag`).toBe(c.separated);
  }
}

describe('PSK known-answer vectors', () => {
  it('psk/1 the HKDF plumbing reproduces RFC 5869 test cases 1-3 (HKDF-SHA256)', () => {
    expect(rfc.cases).toHaveLength(3);
    for (const c of rfc.cases) {
      const [ikm, salt, info] = [hex(c.ikm), hex(c.salt ?? ''), hex(c.info ?? '')];
      expect(same(extract(sha256, ikm, salt), hex(c.prk)), `${c.name}: PRK`).toBe(true);
      expect(same(hkdf(sha256, ikm, salt, info, c.length), hex(c.okm)), `${c.name}: OKM`).toBe(true);
    }
  });

  it('psk/2 the hybrid PSK matches the Arnika known answer', () => {
    const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'ascii'));
    const r = derivePsk({ qkd: ascii('0123456789abcdef0123456789abcdef'), pqc: ascii('fedcba9876543210fedcba9876543210') });
    const expected = hex('7ce1034642134ccf43d7783c4b9cf63ec052289be006df4eaeafd7f0cad90c95');
    expect(r.mode).toBe('hybrid');
    expect(same(r.key, expected), differ('known answer', r.key, expected)).toBe(true);
  });

  it('psk/4 HKDF-SHA3-256 (no salt, empty info) matches the independent vectors, PRK and OKM', () => {
    expect(sha3.generated.command).toContain('gen_vectors.py');
    for (const c of sha3.cases) {
      const ikm = hex(c.ikm);
      const prk = extract(sha3_256, ikm);
      expect(same(prk, hex(c.prk)), `${c.name}: PRK`).toBe(true);
      expect(same(expand(sha3_256, prk, undefined, c.length), hex(c.okm)), `${c.name}: OKM`).toBe(true);
      if (c.length === 32) expect(same(hkdfSha3(ikm), hex(c.okm)), `${c.name}: hkdfSha3`).toBe(true);
    }
  });

  it('psk/5 hybrid PSKs match the independent vectors (several lengths)', () => checkModeVectors('hybrid'));

  it('psk/6 QKD-only PSKs are the raw 32-byte KMS key, no HKDF', () => {
    checkModeVectors('qkd-only');
    for (const c of psk.cases.filter((v) => v.mode === 'qkd-only')) expect(c.psk === c.qkd, `${c.name}: PSK is the KMS key`).toBe(true);
  });

  it('psk/7 PQC-only PSKs (HKDF over the PQC key alone) match the independent vectors', () => checkModeVectors('pqc-only'));

  it('psk/8 no salt, an empty salt and 32 zero bytes give the same PRK; another salt does not', () => {
    for (const c of sha3.cases) {
      const ikm = hex(c.ikm);
      const none = extract(sha3_256, ikm);
      expect(same(extract(sha3_256, ikm, new Uint8Array(32)), none), `${c.name}: 32 zero bytes`).toBe(true);
      expect(same(extract(sha3_256, ikm, new Uint8Array(0)), none), `${c.name}: empty salt`).toBe(true);
      expect(same(extract(sha3_256, ikm, new Uint8Array(32).fill(1)), none), `${c.name}: salt 0x01…`).toBe(false);
    }
    // The RFC 5869 zero-length-salt case proves the same rule for SHA-256.
    const a3 = rfc.cases[2]!;
    expect(same(extract(sha256, hex(a3.ikm)), hex(a3.prk))).toBe(true);
  });
});
