// Reading object attributes (C_GetAttributeValue) and naming the CKO_/CKK_ values the harness shows.
import type { Handle } from './binding.ts';
import type { TokenSession } from './token.ts';

/** CKO_* → the names used in inventories and on the command line. */
export const CLASS_NAMES: Record<number, string> = { 0: 'data', 1: 'certificate', 2: 'public-key', 3: 'private-key', 4: 'secret-key' };
/** CKK_* → names (PKCS#11 2.40 §4.8 values). */
export const KEY_TYPE_NAMES: Record<number, string> = { 0x00: 'rsa', 0x01: 'dsa', 0x02: 'dh', 0x03: 'ec', 0x10: 'generic-secret', 0x13: 'des', 0x15: 'des3', 0x1f: 'aes', 0x40: 'ec-edwards' };

export const className = (v: number): string => CLASS_NAMES[v] ?? `class-0x${v.toString(16)}`;
export const keyTypeName = (v: number): string => KEY_TYPE_NAMES[v] ?? `keytype-0x${v.toString(16)}`;

/** CKA_EC_PARAMS (DER OID) of the named curves the harness knows. */
export const CURVES: Record<string, string> = {
  '06082a8648ce3d030107': 'P-256',
  '06052b81040022': 'P-384',
  '06052b81040023': 'P-521',
};
export const P256_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');

/** CK_BBOOL. */
export const bool = (v: Buffer | undefined): boolean | undefined => (v && v.length > 0 ? v[0] !== 0 : undefined);
/** CK_ULONG as pkcs11js returns it (native width, little-endian here). */
export const ulong = (v: Buffer | undefined): number | undefined => (!v || v.length === 0 ? undefined : v.length >= 8 ? Number(v.readBigUInt64LE(0)) : v.readUInt32LE(0));
export const utf8 = (v: Buffer | undefined): string => (v ? v.toString('utf8') : '');
export const hex = (v: Buffer | undefined): string => (v ? v.toString('hex') : '');

/**
 * C_GetAttributeValue for several attributes of one object. A module fails the whole call when one
 * attribute is invalid for the object (CKR_ATTRIBUTE_TYPE_INVALID) or sensitive
 * (CKR_ATTRIBUTE_SENSITIVE), so on failure each attribute is read alone; unreadable ones are absent.
 */
export function readAttributes(s: TokenSession, object: Handle, types: number[]): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  const { mod } = s;
  try {
    for (const a of mod.call('C_GetAttributeValue', () => mod.p11.C_GetAttributeValue(s.handle, object, types.map((type) => ({ type }))))) out.set(a.type, a.value);
    return out;
  } catch {
    for (const type of types) {
      try {
        const [a] = mod.call('C_GetAttributeValue', () => mod.p11.C_GetAttributeValue(s.handle, object, [{ type }]));
        if (a) out.set(a.type, a.value);
      } catch {
        /* not applicable to this object, or sensitive: absent */
      }
    }
    return out;
  }
}
