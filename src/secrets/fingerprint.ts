// The only way key material may be shown: a short SHA-256 fingerprint (README, "Secrets").
import { createHash } from 'node:crypto';

/** `sha256:` + the first 8 hex digits of SHA-256 over the raw bytes (or UTF-8 of a string). */
export function fingerprint(material: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(material).digest('hex').slice(0, 8)}`;
}

/** Fingerprint of a base64 key as a KME or `wg` prints it: hashes the decoded bytes, so both forms agree. */
export function fingerprintBase64(b64: string): string {
  return fingerprint(Buffer.from(b64, 'base64'));
}
