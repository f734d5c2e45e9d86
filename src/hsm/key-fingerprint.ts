// Fingerprints that identify a key across tokens without revealing it:
// - RSA public and private keys: SHA-256 over CKA_MODULUS ‖ CKA_PUBLIC_EXPONENT, each as a minimal
//   big-endian integer (modules differ in leading zero bytes, e.g. exponent 010001 vs 00010001);
// - EC keys: SHA-256 over the uncompressed point (CKA_EC_POINT with its DER OCTET STRING wrapper
//   removed, since modules differ in whether they wrap it);
// - secret keys: a key check value (KCV) computed on the token — the first 3 bytes of the key's
//   encryption of one zero block in ECB mode (CKM_AES_ECB, CKM_DES3_ECB). CKA_CHECK_VALUE cannot be used:
//   SoftHSM leaves it empty after C_UnwrapKey, so an original and its copy would never match.
// All three are public information (a KCV is the standard way to compare keys in key ceremonies).
import { createHash } from 'node:crypto';
import type { Handle } from './binding.ts';
import { ckrOf } from './errors.ts';
import type { TokenSession } from './token.ts';

const stripZeros = (b: Buffer): Buffer => {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
};

/** `sha256:` + 64 hex digits over minimal modulus ‖ minimal exponent. */
export function rsaFingerprint(modulus: Buffer, exponent: Buffer): string {
  return `sha256:${createHash('sha256').update(stripZeros(modulus)).update(stripZeros(exponent)).digest('hex')}`;
}

/**
 * The raw EC point: CKA_EC_POINT is DER OCTET STRING (04 len point) per PKCS#11 2.40, but some
 * modules return the bare point (which also starts with 04 for uncompressed points), so the wrapper is
 * removed only when its length field matches exactly.
 */
export function ecPointBytes(v: Buffer): Buffer {
  if (v.length >= 2 && v[0] === 0x04) {
    const first = v[1]!;
    if (first < 0x80 && first === v.length - 2) return v.subarray(2);
    if (first === 0x81 && v.length >= 3 && v[2] === v.length - 3) return v.subarray(3);
  }
  return v;
}

/** `sha256:` + 64 hex digits over the raw EC point. */
export function ecFingerprint(ecPoint: Buffer): string {
  return `sha256:${createHash('sha256').update(ecPointBytes(ecPoint)).digest('hex')}`;
}

/** The uncompressed point (04 ‖ X ‖ Y) inside a DER SubjectPublicKeyInfo (CKA_PUBLIC_KEY_INFO). */
export function pointFromSpki(spki: Buffer): Buffer | undefined {
  // The point is the BIT STRING's content, the SPKI's last element: 03 len 00 04 X Y.
  for (let i = spki.length - 3; i >= 0; i--) {
    if (spki[i] === 0x03 && spki[i + 2] === 0x00 && spki[i + 3] === 0x04 && spki[i + 1] === spki.length - i - 2) return spki.subarray(i + 3);
  }
  return undefined;
}

/** Block size of the ECB mechanism used for each secret key type's KCV. */
const KCV_MECHANISMS: Record<string, { mechanism: string; block: number }> = { aes: { mechanism: 'CKM_AES_ECB', block: 16 }, des3: { mechanism: 'CKM_DES3_ECB', block: 8 } };

/**
 * KCV of a secret key, computed on the token: C_EncryptInit(CKM_AES_ECB or CKM_DES3_ECB) +
 * C_Encrypt(zero block), first 3 bytes → `kcv:` + 6 hex digits. Needs CKA_ENCRYPT=true on the key.
 * @returns undefined (with the reason) when the key type has no KCV rule or the token refuses
 *          (e.g. CKR_KEY_FUNCTION_NOT_PERMITTED for a key without CKA_ENCRYPT).
 */
export function secretKeyKcv(s: TokenSession, key: Handle, keyType: string): { kcv?: string; why?: string } {
  const rule = KCV_MECHANISMS[keyType];
  if (!rule) return { why: `no KCV rule for ${keyType} keys` };
  const { mod } = s;
  const mechanism = (mod.binding as unknown as Record<string, number>)[rule.mechanism]!;
  try {
    mod.call('C_EncryptInit', () => mod.p11.C_EncryptInit(s.handle, { mechanism }, key));
    const out = mod.call('C_Encrypt', () => mod.p11.C_Encrypt(s.handle, Buffer.alloc(rule.block), Buffer.alloc(rule.block)));
    return { kcv: `kcv:${out.subarray(0, 3).toString('hex')}` };
  } catch (err) {
    return { why: `${rule.mechanism} refused (${ckrOf(err) ?? (err as Error).message})` };
  }
}
