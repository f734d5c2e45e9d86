// Does a key keep its protection? The two ways to get a key's value out of a PKCS#11 token, tried on
// one private or secret key (PKCS#11 v2.40 §4.9/§4.10: with CKA_SENSITIVE=true or CKA_EXTRACTABLE=false
// the value "cannot be revealed in plaintext outside the token"):
//   1. read it: C_GetAttributeValue(CKA_VALUE, or CKA_PRIVATE_EXPONENT of an RSA key) must give
//      CKR_ATTRIBUTE_SENSITIVE;
//   2. the wrap-then-decrypt attack (Clulow, "On the Security of PKCS#11", CHES 2003): a session AES key
//      the caller makes with CKA_WRAP and CKA_DECRYPT wraps the target (C_WrapKey, CKM_AES_CBC_PAD, else
//      CKM_AES_KEY_WRAP_PAD), then decrypts the blob with itself (C_Decrypt, CBC-PAD) — or, for the
//      key-wrap mechanism, the caller unwraps it with the value of its own key (non-sensitive, it is
//      the caller's). C_WrapKey must refuse (CKR_KEY_UNEXTRACTABLE).
// Only outcomes leave this module: CKR codes, lengths, and whether the recovered bytes reproduce the
// key's KCV. Never the bytes. The attacker's key is a session object: it dies with the session.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Template } from 'pkcs11js';
import { UsageError } from '../cli/exit.ts';
import { readAttributes } from './attributes.ts';
import type { Handle } from './binding.ts';
import { ckrOf } from './errors.ts';
import { secretKeyKcv } from './key-fingerprint.ts';
import { selectOne, type ObjectSelector, type ObjectSummary } from './objects.ts';
import type { TokenSession } from './token.ts';

export interface ExtractionReport {
  key: ObjectSummary;
  /** Attempt 1: reading the value. `refused` carries the CKR code; `readable` only the length. */
  read: { outcome: 'refused'; ckr: string } | { outcome: 'readable'; bytes: number };
  /** Attempt 2: wrap with the caller's key, then decrypt. */
  wrap:
    | { outcome: 'refused'; mechanism: string; ckr: string }
    | { outcome: 'extracted'; mechanism: string; bytes: number; /** secret keys: the recovered bytes give the key's KCV */ kcvMatches?: boolean }
    | { outcome: 'wrapped-not-recovered'; mechanism: string; bytes: number; why: string };
}

/** 3-byte AES KCV of a raw key (AES-ECB of a zero block), as key-fingerprint.ts computes it on the token. */
function kcvOf(raw: Buffer): string | undefined {
  const algo = { 16: 'aes-128-ecb', 24: 'aes-192-ecb', 32: 'aes-256-ecb' }[raw.length];
  if (!algo) return undefined;
  const c = createCipheriv(algo, raw, null).setAutoPadding(false);
  return Buffer.concat([c.update(Buffer.alloc(16)), c.final()]).subarray(0, 3).toString('hex');
}

/**
 * Tries both extractions on the one private or secret key `sel` names.
 * @throws UsageError when `sel` names no key or a public key.
 */
export function tryExtraction(s: TokenSession, sel: ObjectSelector): ExtractionReport {
  const target = selectOne(s, { ...sel, classes: ['private-key', 'secret-key'] }, 'extraction');
  const b = s.mod.binding;
  const { mod } = s;
  const valueAttr = target.summary.keyType === 'rsa' ? b.CKA_PRIVATE_EXPONENT : b.CKA_VALUE;
  let read: ExtractionReport['read'];
  try {
    const [a] = mod.call('C_GetAttributeValue', () => mod.p11.C_GetAttributeValue(s.handle, target.handle, [{ type: valueAttr }]));
    read = a?.value?.length ? { outcome: 'readable', bytes: a.value.length } : { outcome: 'refused', ckr: 'empty value' };
  } catch (err) {
    read = { outcome: 'refused', ckr: ckrOf(err) ?? (err as Error).message };
  }

  // The attacker's key: a session key it controls fully (non-sensitive, so it can read it back).
  const t: Template = [
    { type: b.CKA_CLASS, value: b.CKO_SECRET_KEY },
    { type: b.CKA_KEY_TYPE, value: b.CKK_AES },
    { type: b.CKA_VALUE_LEN, value: 32 },
    { type: b.CKA_TOKEN, value: false },
    { type: b.CKA_SENSITIVE, value: false },
    { type: b.CKA_EXTRACTABLE, value: true },
    { type: b.CKA_WRAP, value: true },
    { type: b.CKA_DECRYPT, value: true },
    { type: b.CKA_ENCRYPT, value: true },
    { type: b.CKA_LABEL, value: Buffer.from('qkdh-extraction-attempt') },
  ];
  const mine: Handle = mod.call('C_GenerateKey', () => mod.p11.C_GenerateKey(s.handle, { mechanism: b.CKM_AES_KEY_GEN }, t));
  try {
    return { key: target.summary, read, wrap: wrapThenDecrypt(s, mine, target.handle, target.summary) };
  } finally {
    try {
      mod.call('C_DestroyObject', () => mod.p11.C_DestroyObject(s.handle, mine));
    } catch {
      /* a session object: gone with the session anyway */
    }
  }
}

function wrapThenDecrypt(s: TokenSession, mine: Handle, target: Handle, summary: ObjectSummary): ExtractionReport['wrap'] {
  const b = s.mod.binding;
  const { mod } = s;
  const iv = randomBytes(16);
  const tries: Array<{ name: string; mech: { mechanism: number; parameter?: Buffer } }> = [
    { name: 'CKM_AES_CBC_PAD', mech: { mechanism: b.CKM_AES_CBC_PAD, parameter: iv } },
    { name: 'CKM_AES_KEY_WRAP_PAD', mech: { mechanism: b.CKM_AES_KEY_WRAP_PAD } },
  ];
  let last: { name: string; ckr: string } | undefined;
  for (const { name, mech } of tries) {
    let blob: Buffer;
    try {
      blob = Buffer.from(mod.call('C_WrapKey', () => mod.p11.C_WrapKey(s.handle, mech, mine, target, Buffer.alloc(16 * 1024))));
    } catch (err) {
      const ckr = ckrOf(err) ?? (err as Error).message;
      last = { name, ckr };
      // A mechanism the token lacks for wrapping: try the next one. Any other refusal is the answer.
      if (ckr === 'CKR_MECHANISM_INVALID' || ckr === 'CKR_MECHANISM_PARAM_INVALID') continue;
      return { outcome: 'refused', mechanism: name, ckr };
    }
    let raw: Buffer;
    try {
      if (name === 'CKM_AES_CBC_PAD') {
        mod.call('C_DecryptInit', () => mod.p11.C_DecryptInit(s.handle, mech, mine));
        raw = Buffer.from(mod.call('C_Decrypt', () => mod.p11.C_Decrypt(s.handle, blob, Buffer.alloc(blob.length))));
      } else {
        const k = readAttributes(s, mine, [b.CKA_VALUE]).get(b.CKA_VALUE);
        if (!k) return { outcome: 'wrapped-not-recovered', mechanism: name, bytes: blob.length, why: "the caller's own key is not readable" };
        const d = createDecipheriv('id-aes256-wrap-pad', k, Buffer.from('a65959a6', 'hex'));
        raw = Buffer.concat([d.update(blob), d.final()]);
      }
    } catch (err) {
      return { outcome: 'wrapped-not-recovered', mechanism: name, bytes: blob.length, why: ckrOf(err) ?? (err as Error).message };
    }
    const out: ExtractionReport['wrap'] = { outcome: 'extracted', mechanism: name, bytes: raw.length };
    if (summary.class === 'secret-key') {
      // The token's own KCV (computed: an unwrapped key's CKA_CHECK_VALUE is empty) against the bytes'.
      const { kcv } = secretKeyKcv(s, target, summary.keyType ?? '');
      const mineKcv = kcvOf(raw);
      if (kcv && mineKcv) out.kcvMatches = kcv === `kcv:${mineKcv}`;
    }
    raw.fill(0);
    return out;
  }
  if (!last) throw new UsageError('extraction: no wrapping mechanism to try');
  return { outcome: 'refused', mechanism: last.name, ckr: last.ckr };
}
