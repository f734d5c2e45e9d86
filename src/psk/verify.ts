// Checks the PSK a site installed (as `wg show <if> preshared-keys` prints it) against the one its
// inputs should give. For the end-to-end suites: reports fingerprints only, never keys.
import { timingSafeEqual } from 'node:crypto';
import { fingerprint } from '../secrets/fingerprint.ts';
import { decodeBase64Strict } from './base64.ts';
import { derivePsk, type DerivedPsk, type PskMode } from './derive.ts';
import { parsePqcKeyFile } from './pqc-file.ts';
import type { LengthOptions } from './separation.ts';

export interface SiteKeys {
  mode: PskMode;
  /** The KMS key as the KME returned it (`keys[0].key`, standard base64). */
  kmsKey?: string | undefined;
  /** PQC key: a string is Rosenpass file content (base64); bytes are the raw 32-byte key. */
  pqc?: string | Uint8Array | undefined;
}

export interface PskCheck {
  match: boolean;
  expected: string;
  /** Fingerprint of what WireGuard reports, or `(none)` when no PSK is configured. */
  actual: string;
}

/** The PSK the site should have installed. */
export function expectedPsk(site: SiteKeys, options: LengthOptions = {}): DerivedPsk {
  const qkd = site.kmsKey === undefined ? undefined : decodeBase64Strict(site.kmsKey, 'KMS key');
  const pqc = typeof site.pqc === 'string' ? parsePqcKeyFile(site.pqc, 'PQC key file', options) : site.pqc;
  return derivePsk({ mode: site.mode, qkd, pqc }, options);
}

/** `sha256:…` of a base64 PSK (as `wg` or a KME prints it), after strict decoding. */
export function pskFingerprint(b64: string): string {
  return fingerprint(decodeBase64Strict(b64, 'PSK'));
}

/** Compares the expected PSK with `wg`'s value (`(none)` when unset); compares bytes, reports fingerprints. */
export function verifyInstalledPsk(site: SiteKeys, wgPsk: string, options: LengthOptions = {}): PskCheck {
  const expected = expectedPsk(site, options);
  const value = wgPsk.trim(); // command output: a trailing newline is not part of the key
  if (value === '(none)') return { match: false, expected: expected.fingerprint, actual: '(none)' };
  const actual = decodeBase64Strict(value, 'PSK reported by wg');
  const match = actual.length === expected.key.length && timingSafeEqual(actual, expected.key);
  return { match, expected: expected.fingerprint, actual: fingerprint(actual) };
}
