// Finds key material in report files: every encoding a key could leak in (standard and URL-safe base64,
// with or without padding, hex). Used by the test that runs the harness and scans what it wrote.
import { readFileSync } from 'node:fs';
import { listFiles } from './list-files.ts';
import { fingerprint } from '../secrets/fingerprint.ts';

export function encodings(key: Uint8Array): string[] {
  const b = Buffer.from(key);
  const std = b.toString('base64');
  return [std, std.replace(/=+$/, ''), b.toString('base64url'), b.toString('hex'), b.toString('hex').toUpperCase()];
}

export interface Leak {
  file: string;
  key: string; // fingerprint of the leaked key
}

/** Every (file, key) pair where a key of at least 8 bytes appears in any encoding. */
export function scanForKeys(dirOrTexts: string | Record<string, string>, keys: Iterable<Uint8Array>): Leak[] {
  const texts = typeof dirOrTexts === 'string' ? Object.fromEntries(listFiles(dirOrTexts).map((f) => [f, readFileSync(f, 'latin1')])) : dirOrTexts;
  const needles = [...keys].filter((k) => k.length >= 8).map((k) => ({ fp: fingerprint(k), forms: encodings(k) }));
  const leaks: Leak[] = [];
  for (const [file, text] of Object.entries(texts)) {
    for (const n of needles) if (n.forms.some((f) => text.includes(f))) leaks.push({ file, key: n.fp });
  }
  return leaks;
}
