// Finds key material in report files: every encoding a key could leak in (standard and URL-safe base64,
// with or without padding, hex), whole or cut off. Used by the test that runs the harness and scans what it wrote.
import { readFileSync } from 'node:fs';
import { listFiles } from './list-files.ts';
import { fingerprint } from '../secrets/fingerprint.ts';

export function encodings(key: Uint8Array): string[] {
  const b = Buffer.from(key);
  const std = b.toString('base64');
  return [std, std.replace(/=+$/, ''), b.toString('base64url'), b.toString('hex'), b.toString('hex').toUpperCase()];
}

/**
 * Leading fragments of a key's encodings: what a body cut off inside the key shows. 12 bytes (16 base64
 * or 24 hex characters, 96 bits) cannot match by chance; keys shorter than 16 bytes have none.
 */
export function fragments(key: Uint8Array): string[] {
  if (key.length < 16) return [];
  const b = Buffer.from(key);
  return [b.toString('base64').slice(0, 16), b.toString('base64url').slice(0, 16), b.toString('hex').slice(0, 24), b.toString('hex').slice(0, 24).toUpperCase()];
}

export interface Leak {
  file: string;
  key: string; // fingerprint of the leaked key
}

/** Every (file, key) pair where a key of at least 8 bytes appears in any encoding, or a key of at least 16 bytes in part (fragments()). */
export function scanForKeys(dirOrTexts: string | Record<string, string>, keys: Iterable<Uint8Array>): Leak[] {
  const texts = typeof dirOrTexts === 'string' ? Object.fromEntries(listFiles(dirOrTexts).map((f) => [f, readFileSync(f, 'latin1')])) : dirOrTexts;
  const needles = [...keys].filter((k) => k.length >= 8).map((k) => ({ fp: fingerprint(k), forms: [...encodings(k), ...fragments(k)] }));
  const leaks: Leak[] = [];
  for (const [file, text] of Object.entries(texts)) {
    for (const n of needles) if (n.forms.some((f) => text.includes(f))) leaks.push({ file, key: n.fp });
  }
  return leaks;
}
