// Moving keys between tokens without exposing them: C_WrapKey / C_UnwrapKey under a key-encryption key
// (CKM_AES_KEY_WRAP_PAD, RFC 5649, by default: it wraps secret and private keys), and recreating public
// keys from their public parts (C_CreateObject), since public keys are not wrappable. This is what the
// replication stand-in for Luna's HA cloning is built from.
//
// The receiver decides the protection of a copy: the unwrap template sets CKA_SENSITIVE and
// CKA_EXTRACTABLE, and nothing on the wire can stop a receiver from choosing non-sensitive. Check the
// copy's attributes afterwards (inventory.ts / compare.ts do).
import type { Template } from 'pkcs11js';
import { UsageError } from '../cli/exit.ts';
import { readAttributes } from './attributes.ts';
import type { Handle } from './binding.ts';
import { classValue, parseId, type ObjectName } from './objects.ts';
import type { TokenSession } from './token.ts';

/** Largest wrapped blob accepted: an RSA-8192 PKCS#8 key is ~4.8 KiB. */
const MAX_WRAPPED = 16 * 1024;

/** C_WrapKey(mechanism, kek, key) → the wrapped blob. Default mechanism CKM_AES_KEY_WRAP_PAD. */
export function wrapKey(s: TokenSession, kek: Handle, key: Handle, mechanism = s.mod.binding.CKM_AES_KEY_WRAP_PAD): Buffer {
  return Buffer.from(s.mod.call('C_WrapKey', () => s.mod.p11.C_WrapKey(s.handle, { mechanism }, kek, key, Buffer.alloc(MAX_WRAPPED))));
}

/** What a copy is made as: its name, key type, protection and usages (CKA_ENCRYPT…). */
export interface UnwrapSpec extends ObjectName {
  keyType: 'rsa' | 'ec' | 'aes';
  sensitive: boolean;
  extractable: boolean;
  usages: Partial<Record<'encrypt' | 'decrypt' | 'sign' | 'verify' | 'wrap' | 'unwrap' | 'derive', boolean>>;
}

/** The C_UnwrapKey template for `spec` (token object, private, the given protection and usages). */
export function unwrapTemplate(s: TokenSession, spec: UnwrapSpec): Template {
  const b = s.mod.binding;
  const keyType = { rsa: b.CKK_RSA, ec: b.CKK_EC, aes: b.CKK_AES }[spec.keyType];
  const usage: Record<string, number> = { encrypt: b.CKA_ENCRYPT, decrypt: b.CKA_DECRYPT, sign: b.CKA_SIGN, verify: b.CKA_VERIFY, wrap: b.CKA_WRAP, unwrap: b.CKA_UNWRAP, derive: b.CKA_DERIVE };
  return [
    { type: b.CKA_CLASS, value: classValue(spec.class) },
    { type: b.CKA_KEY_TYPE, value: keyType },
    { type: b.CKA_TOKEN, value: true },
    { type: b.CKA_PRIVATE, value: true },
    { type: b.CKA_LABEL, value: Buffer.from(spec.label, 'utf8') },
    { type: b.CKA_ID, value: spec.id ? parseId(spec.id) : Buffer.alloc(0) },
    { type: b.CKA_SENSITIVE, value: spec.sensitive },
    { type: b.CKA_EXTRACTABLE, value: spec.extractable },
    ...Object.entries(spec.usages).map(([k, v]) => ({ type: usage[k]!, value: v })),
  ];
}

/**
 * C_UnwrapKey(mechanism, kek, blob, template) → the new object's handle. Unwrapping the same blob twice
 * makes two objects: look the name up first when that matters.
 */
export function unwrapKey(s: TokenSession, kek: Handle, blob: Buffer, template: Template, mechanism = s.mod.binding.CKM_AES_KEY_WRAP_PAD): Handle {
  return s.mod.call('C_UnwrapKey', () => s.mod.p11.C_UnwrapKey(s.handle, { mechanism }, kek, blob, template));
}

/** The public parts of an RSA or EC public key: enough to recreate it on another token. */
export type PublicParts = { keyType: 'rsa'; modulus: Buffer; exponent: Buffer } | { keyType: 'ec'; params: Buffer; point: Buffer };

/** Reads CKA_MODULUS + CKA_PUBLIC_EXPONENT or CKA_EC_PARAMS + CKA_EC_POINT. @throws UsageError for other keys. */
export function publicParts(s: TokenSession, key: Handle, keyType: string | undefined): PublicParts {
  const b = s.mod.binding;
  if (keyType === 'rsa') {
    const a = readAttributes(s, key, [b.CKA_MODULUS, b.CKA_PUBLIC_EXPONENT]);
    return { keyType, modulus: a.get(b.CKA_MODULUS)!, exponent: a.get(b.CKA_PUBLIC_EXPONENT)! };
  }
  if (keyType === 'ec') {
    const a = readAttributes(s, key, [b.CKA_EC_PARAMS, b.CKA_EC_POINT]);
    return { keyType, params: a.get(b.CKA_EC_PARAMS)!, point: a.get(b.CKA_EC_POINT)! };
  }
  throw new UsageError(`public parts: ${keyType ?? 'unknown'} keys are not supported`);
}

/** C_CreateObject of a public key (token object, not private) from its parts, named `name`. */
export function createPublicKey(s: TokenSession, name: Pick<ObjectName, 'label' | 'id'>, parts: PublicParts, usages: { encrypt?: boolean; verify?: boolean } = { encrypt: parts.keyType === 'rsa', verify: true }): Handle {
  const b = s.mod.binding;
  const t: Template = [
    { type: b.CKA_CLASS, value: b.CKO_PUBLIC_KEY },
    { type: b.CKA_TOKEN, value: true },
    { type: b.CKA_PRIVATE, value: false },
    { type: b.CKA_LABEL, value: Buffer.from(name.label, 'utf8') },
    { type: b.CKA_ID, value: name.id ? parseId(name.id) : Buffer.alloc(0) },
    { type: b.CKA_VERIFY, value: usages.verify ?? false },
    ...(parts.keyType === 'rsa'
      ? [
          { type: b.CKA_KEY_TYPE, value: b.CKK_RSA },
          { type: b.CKA_MODULUS, value: parts.modulus },
          { type: b.CKA_PUBLIC_EXPONENT, value: parts.exponent },
          { type: b.CKA_ENCRYPT, value: usages.encrypt ?? false },
        ]
      : [
          { type: b.CKA_KEY_TYPE, value: b.CKK_EC },
          { type: b.CKA_EC_PARAMS, value: parts.params },
          { type: b.CKA_EC_POINT, value: parts.point },
        ]),
  ];
  return s.mod.call('C_CreateObject', () => s.mod.p11.C_CreateObject(s.handle, t));
}
