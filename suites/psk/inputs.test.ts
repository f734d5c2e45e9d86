// Inputs the derivation cannot take: clear PskInputErrors that never show key material.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeBase64Strict, derivePsk, deriveQkdOnly, encodeBase64, parsePqcKeyFile, PskInputError } from '../../src/psk/index.ts';
import { key32, keyBytes, labelPskRequirements, leaksKey } from './helpers.ts';

labelPskRequirements();

function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (err instanceof PskInputError) return err.message; // the stack repeats the message, then code frames
    throw err;
  }
  throw new Error('expected a PskInputError');
}

describe('PSK inputs', () => {
  it('psk/15 a KMS key that is not exactly 32 bytes cannot become a QKD-only PSK, even with the opt-out', () => {
    for (const n of [0, 1, 16, 31, 33, 64]) {
      const k = new Uint8Array(n).fill(9);
      expect(() => deriveQkdOnly(k), `${n} bytes`).toThrow(/cannot become a WireGuard PSK/);
      expect(() => derivePsk({ qkd: k }, { allowVariableLengths: true }), `${n} bytes, opt-out`).toThrow(PskInputError);
    }
  });

  it('psk/21 error messages never contain key material', () => {
    const wrongLength = keyBytes(8, 100).filter((k) => k.length !== 32);
    fc.assert(
      fc.property(wrongLength, key32, (k, good) =>
        [() => derivePsk({ qkd: k, pqc: good }), () => derivePsk({ qkd: good, pqc: k }), () => derivePsk({ qkd: k }), () => derivePsk({ pqc: k })]
          .every((run) => !leaksKey(messageOf(run), k)),
      ),
    );
    // Damaged base64 as a KME or a half-written file would give it; a prefix is only damaged as a file.
    const damaged = [
      (s: string, at: number) => `${s.slice(0, at)} ${s.slice(at)}`,
      (s: string) => s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=$/, 'A-=='),
      (s: string) => s.slice(0, 43),
      (s: string) => `${s}\n\n`, // one line ending is stripped from a file (psk/25); two are refused
      (s: string) => `${s} \n`,
    ];
    fc.assert(
      fc.property(key32, fc.integer({ min: 1, max: 43 }), (k, at) => {
        const b64 = encodeBase64(k);
        const inputs = damaged.map((damage) => damage(b64, at));
        return (
          inputs.every((text) => !leaksKey(messageOf(() => decodeBase64Strict(text, '--qkd')), k)) &&
          [...inputs, b64.slice(0, at)].every((text) => !leaksKey(messageOf(() => parsePqcKeyFile(text)), k))
        );
      }),
    );
  });
});
