// Strict base64 (RFC 4648 §4): the form KMEs, Rosenpass and `wg` use. Node's decoder is lenient (skips
// whitespace, takes '-'/'_', ignores missing padding and dirty trailing bits), so we check first.
import { fingerprint } from '../secrets/fingerprint.ts';
import { PskInputError } from './errors.ts';

/** What is wrong with `text` as canonical, padded, standard base64; undefined when nothing is. */
export function base64Problem(text: string): string | undefined {
  const checks: Array<[RegExp, string, string]> = [
    [/\s/, 'whitespace', ''],
    [/[-_]/, 'URL-safe alphabet character', " (standard base64 uses '+' and '/')"],
    [/[^A-Za-z0-9+/=]/, 'character outside the base64 alphabet', ''],
  ];
  for (const [re, what, hint] of checks) {
    const at = text.search(re); // the offset only: the character itself would be key material
    if (at >= 0) return `${what} at offset ${at}${hint}`;
  }
  if (text.length % 4 !== 0) return `length ${text.length} is not a multiple of 4 (missing padding or truncated)`;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return 'padding in the wrong place';
  // Only canonical encodings round-trip: non-zero unused bits before '=' decode to the same bytes.
  if (Buffer.from(text, 'base64').toString('base64') !== text) return 'non-canonical encoding (unused trailing bits are not zero)';
  return undefined;
}

/** Decodes canonical standard base64 or throws a PskInputError naming `what` and a fingerprint of the text. */
export function decodeBase64Strict(text: string, what: string): Uint8Array {
  const problem = base64Problem(text);
  if (problem !== undefined) {
    throw new PskInputError(`${what} is not valid standard base64 (${text.length} characters, ${fingerprint(text)}): ${problem}`);
  }
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** Standard padded base64, the form `wg` takes and prints. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
