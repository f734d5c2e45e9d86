// Key generation on the token with explicit templates — nothing left to the module's defaults, which
// differ (SoftHSM makes keys non-extractable unless asked; AES keys get CKA_WRAP=true):
// - RSA key pair: C_GenerateKeyPair(CKM_RSA_PKCS_KEY_PAIR_GEN), public exponent 65537;
// - AES key:      C_GenerateKey(CKM_AES_KEY_GEN), CKA_VALUE_LEN 16/24/32;
// - EC key pair:  C_GenerateKeyPair(CKM_EC_KEY_PAIR_GEN), CKA_EC_PARAMS = P-256 OID.
import { randomBytes } from 'node:crypto';
import type { Template } from 'pkcs11js';
import { UsageError } from '../cli/exit.ts';
import { P256_PARAMS } from './attributes.ts';
import type { Handle } from './binding.ts';
import { describeObject, describeSelector, formatName, parseId, selectObjects, type ObjectSummary } from './objects.ts';
import type { TokenSession } from './token.ts';

export type KeyKind = 'rsa' | 'aes' | 'ec';
export const KEY_KINDS: readonly KeyKind[] = ['rsa', 'aes', 'ec'];

export interface KeySpec {
  kind: KeyKind;
  label: string;
  /** CKA_ID in hex; default: 8 random bytes. */
  id?: string;
  /** RSA modulus bits (default 2048) or AES key bits (default 256). */
  bits?: number;
  /** CKA_SENSITIVE of the private/secret key (default true). */
  sensitive?: boolean;
  /** CKA_EXTRACTABLE of the private/secret key (default false). A key to be replicated by wrapping needs true. */
  extractable?: boolean;
  /** CKA_WRAP/CKA_UNWRAP (AES only; default false): for a key-encryption key. */
  wrap?: boolean;
  /** Create even when an object of the same class, label and ID exists (default: refuse). */
  allowDuplicate?: boolean;
}

export interface GeneratedKey {
  kind: KeyKind;
  id: string;
  objects: ObjectSummary[];
}

/** Generates the key `spec` describes. @throws UsageError for bad specs or an existing label+ID. */
export function generateKey(s: TokenSession, spec: KeySpec): GeneratedKey {
  if (!spec.label) throw new UsageError('generate: --label must not be empty');
  const id = spec.id ?? randomBytes(8).toString('hex');
  const idBytes = parseId(id);
  const classes = spec.kind === 'aes' ? ['secret-key'] : ['public-key', 'private-key'];
  if (!spec.allowDuplicate) {
    const existing = selectObjects(s, { label: spec.label, id, classes });
    if (existing.length) throw new UsageError(`generate: ${existing.map((e) => formatName(e.summary)).join(' and ')} already exist(s) on token "${s.token.label}" (${describeSelector({ label: spec.label, id })}): choose another --label/--id`);
  }
  const b = s.mod.binding;
  const common: Template = [
    { type: b.CKA_TOKEN, value: true },
    { type: b.CKA_LABEL, value: Buffer.from(spec.label, 'utf8') },
    { type: b.CKA_ID, value: idBytes },
  ];
  const protect: Template = [
    { type: b.CKA_PRIVATE, value: true },
    { type: b.CKA_SENSITIVE, value: spec.sensitive ?? true },
    { type: b.CKA_EXTRACTABLE, value: spec.extractable ?? false },
  ];
  const { mod } = s;
  let handles: Handle[];
  if (spec.kind === 'aes') {
    const bits = spec.bits ?? 256;
    if (![128, 192, 256].includes(bits)) throw new UsageError(`generate: AES keys are 128, 192 or 256 bits, got ${bits}`);
    const wrap = spec.wrap ?? false;
    const t: Template = [
      { type: b.CKA_CLASS, value: b.CKO_SECRET_KEY },
      { type: b.CKA_KEY_TYPE, value: b.CKK_AES },
      { type: b.CKA_VALUE_LEN, value: bits / 8 },
      ...common,
      ...protect,
      { type: b.CKA_ENCRYPT, value: true },
      { type: b.CKA_DECRYPT, value: true },
      { type: b.CKA_WRAP, value: wrap },
      { type: b.CKA_UNWRAP, value: wrap },
    ];
    handles = [mod.call('C_GenerateKey', () => mod.p11.C_GenerateKey(s.handle, { mechanism: b.CKM_AES_KEY_GEN }, t))];
  } else if (spec.kind === 'rsa') {
    const bits = spec.bits ?? 2048;
    if (!Number.isInteger(bits) || bits < 1024 || bits > 8192 || bits % 8) throw new UsageError(`generate: RSA modulus bits must be a multiple of 8 in 1024…8192, got ${bits}`);
    const pub: Template = [
      { type: b.CKA_CLASS, value: b.CKO_PUBLIC_KEY },
      { type: b.CKA_KEY_TYPE, value: b.CKK_RSA },
      ...common,
      { type: b.CKA_PRIVATE, value: false },
      { type: b.CKA_MODULUS_BITS, value: bits },
      { type: b.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
      { type: b.CKA_ENCRYPT, value: true },
      { type: b.CKA_VERIFY, value: true },
      { type: b.CKA_WRAP, value: false },
    ];
    const priv: Template = [
      { type: b.CKA_CLASS, value: b.CKO_PRIVATE_KEY },
      { type: b.CKA_KEY_TYPE, value: b.CKK_RSA },
      ...common,
      ...protect,
      { type: b.CKA_DECRYPT, value: true },
      { type: b.CKA_SIGN, value: true },
      { type: b.CKA_UNWRAP, value: false },
    ];
    const kp = mod.call('C_GenerateKeyPair', () => mod.p11.C_GenerateKeyPair(s.handle, { mechanism: b.CKM_RSA_PKCS_KEY_PAIR_GEN }, pub, priv));
    handles = [kp.publicKey, kp.privateKey];
  } else if (spec.kind === 'ec') {
    if (spec.bits !== undefined) throw new UsageError('generate: --bits does not apply to EC keys (P-256)');
    const pub: Template = [
      { type: b.CKA_CLASS, value: b.CKO_PUBLIC_KEY },
      { type: b.CKA_KEY_TYPE, value: b.CKK_EC },
      ...common,
      { type: b.CKA_PRIVATE, value: false },
      { type: b.CKA_EC_PARAMS, value: P256_PARAMS },
      { type: b.CKA_VERIFY, value: true },
    ];
    const priv: Template = [
      { type: b.CKA_CLASS, value: b.CKO_PRIVATE_KEY },
      { type: b.CKA_KEY_TYPE, value: b.CKK_EC },
      ...common,
      ...protect,
      { type: b.CKA_SIGN, value: true },
      { type: b.CKA_DERIVE, value: false },
    ];
    const kp = mod.call('C_GenerateKeyPair', () => mod.p11.C_GenerateKeyPair(s.handle, { mechanism: b.CKM_EC_KEY_PAIR_GEN }, pub, priv));
    handles = [kp.publicKey, kp.privateKey];
  } else {
    throw new UsageError(`generate: --type must be one of ${KEY_KINDS.join(', ')}`);
  }
  return { kind: spec.kind, id, objects: handles.map((h) => describeObject(s, h)) };
}
