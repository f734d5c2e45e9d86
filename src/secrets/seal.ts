// Sealing for key material that must cross a process boundary through a file (the lab agent's record of
// the inputs it derived a PSK from): AES-256-GCM under a key that lives only in the memory (and
// environment) of the processes involved, so nothing usable rests on disk.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const SEAL_KEY_BYTES = 32;

export function newSealKey(): Buffer {
  return randomBytes(SEAL_KEY_BYTES);
}

/** base64(iv ‖ ciphertext ‖ tag) */
export function seal(key: Uint8Array, plaintext: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
  return Buffer.concat([iv, ct, c.getAuthTag()]).toString('base64');
}

/** Opens what seal() made; throws (without quoting anything) when the key is wrong or the text altered. */
export function unseal(key: Uint8Array, sealed: string): string {
  const b = Buffer.from(sealed, 'base64');
  if (b.length < 28) throw new Error('sealed data is too short');
  const d = createDecipheriv('aes-256-gcm', key, b.subarray(0, 12));
  d.setAuthTag(b.subarray(b.length - 16));
  try {
    return Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()]).toString('utf8');
  } catch {
    throw new Error('sealed data does not open with this key (wrong key or altered)');
  }
}
