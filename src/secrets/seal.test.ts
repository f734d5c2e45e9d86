import { describe, expect, it } from 'vitest';
import { newSealKey, seal, unseal } from './seal.ts';

describe('seal', () => {
  it('round-trips, hides the plaintext, and refuses another key or an altered text', () => {
    const k = newSealKey();
    const s = seal(k, 'kms=AAAA');
    expect(s.includes('kms=')).toBe(false);
    expect(unseal(k, s)).toBe('kms=AAAA');
    expect(() => unseal(newSealKey(), s)).toThrow(/does not open/);
    const bytes = Buffer.from(s, 'base64');
    bytes[14] = bytes[14]! ^ 1;
    expect(() => unseal(k, bytes.toString('base64'))).toThrow(/does not open/);
  });
});
