// Strict base64: standard alphabet, padding required, canonical; everything else named, not decoded.
import { describe, expect, it } from 'vitest';
import { test } from '@fast-check/vitest';
import { decodeBase64Strict, encodeBase64, PskInputError } from '../../src/psk/index.ts';
import { keyBytes, labelPskRequirements, same } from './helpers.ts';

labelPskRequirements();

describe('strict base64', () => {
  test.prop([keyBytes(0, 100)])('psk/19 canonical padded standard base64 round-trips for any length', (k) =>
    same(decodeBase64Strict(encodeBase64(k), 'key'), k),
  );

  it('psk/20 whitespace, URL-safe characters, bad padding and non-canonical trailing bits are rejected by name', () => {
    const good = encodeBase64(Uint8Array.from([0xfb, 0xff, 0xbf, ...new Array(29).fill(0x11)])); // starts "+/+/"
    const bad: Array<[string, string, RegExp]> = [
      ['trailing newline', `${good}\n`, /whitespace at offset 44/],
      ['space inside', `${good.slice(0, 8)} ${good.slice(8)}`, /whitespace at offset 8/],
      ['leading tab', `\t${good}`, /whitespace at offset 0/],
      ['URL-safe -', good.replace('+', '-'), /URL-safe .* offset 0/],
      ['URL-safe _', good.replace('/', '_'), /URL-safe .* offset 1/],
      ['other character', `${good.slice(0, 43)}*`, /outside the base64 alphabet at offset 43/],
      ['non-ASCII', `${good.slice(0, 42)}é=`, /outside the base64 alphabet/],
      ['missing padding', good.slice(0, 43), /not a multiple of 4/],
      ['extra padding', `${good}===`, /not a multiple of 4/],
      ['padding in the middle', `AA==${good}`, /padding in the wrong place/],
      ['triple padding', 'A===', /padding in the wrong place/],
      ['non-canonical 1 byte', 'AB==', /non-canonical/],
      ['non-canonical 2 bytes', 'AAB=', /non-canonical/],
      ['non-canonical 32 bytes', `${good.slice(0, 42)}B=`, /non-canonical/],
    ];
    for (const [name, text, problem] of bad) {
      expect(() => decodeBase64Strict(text, '--qkd'), name).toThrow(PskInputError);
      expect(() => decodeBase64Strict(text, '--qkd'), name).toThrow(problem);
    }
  });
});
