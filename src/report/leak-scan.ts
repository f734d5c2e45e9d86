// Finds key material in report files: every encoding a key could leak in (standard and URL-safe base64,
// with or without padding, hex), whole or cut off. Used by the test that runs the harness and scans what it wrote.
import { readFileSync } from 'node:fs';
import { listFiles } from './list-files.ts';
import { fingerprint } from '../secrets/fingerprint.ts';

export function encodings(key: Uint8Array): string[] {
  const b = Buffer.from(key);
  const std = b.toString('base64');
  // The raw bytes too, as the scanner reads files (latin1: one character per byte).
  return [std, std.replace(/=+$/, ''), b.toString('base64url'), b.toString('hex'), b.toString('hex').toUpperCase(), b.toString('latin1')];
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

/** Every form is at least this long (the raw bytes of an 8-byte key): the length of the index's prefixes. */
const PREFIX = 8;

/**
 * Every (file, key) pair where a key of at least 8 bytes appears in any encoding, or a key of at least 16
 * bytes in part (fragments()). Linear in the text: each position's next 8 characters are looked up in an
 * index of every form's first 8, and only those hits are compared in full (a whole run holds some 10⁴
 * keys and megabytes of report).
 */
export function scanForKeys(dirOrTexts: string | Record<string, string>, keys: Iterable<Uint8Array>): Leak[] {
  const texts = typeof dirOrTexts === 'string' ? Object.fromEntries(listFiles(dirOrTexts).map((f) => [f, readFileSync(f, 'latin1')])) : dirOrTexts;
  const index = new Map<string, Array<{ form: string; key: number }>>();
  const fps: string[] = [];
  for (const k of keys) {
    if (k.length < 8) continue;
    fps.push(fingerprint(k));
    for (const form of new Set([...encodings(k), ...fragments(k)])) {
      const p = form.slice(0, PREFIX);
      const bucket = index.get(p) ?? [];
      bucket.push({ form, key: fps.length - 1 });
      index.set(p, bucket);
    }
  }
  const leaks: Leak[] = [];
  for (const [file, text] of Object.entries(texts)) {
    const found = new Set<number>();
    for (let i = 0; i + PREFIX <= text.length; i++) {
      const candidates = index.get(text.slice(i, i + PREFIX));
      if (candidates) for (const c of candidates) if (text.startsWith(c.form, i)) found.add(c.key);
    }
    for (const k of [...found].sort((a, b) => a - b)) leaks.push({ file, key: fps[k]! });
  }
  return leaks;
}
