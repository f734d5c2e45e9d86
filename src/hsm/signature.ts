// Signatures on the token (C_SignInit/C_Sign, C_VerifyInit/C_Verify):
// - RSA: CKM_SHA256_RSA_PKCS (PKCS#1 v1.5 over SHA-256); signature = modulus-sized integer.
// - EC:  ECDSA over SHA-256; signature = r ‖ s (PKCS#11's raw format, 64 bytes for P-256).
//   CKM_ECDSA_SHA256 when the token lists it; otherwise (SoftHSM 2.6) the SHA-256 digest is computed
//   here and signed with CKM_ECDSA — the same signature, since ECDSA signs the digest.
import { createHash } from 'node:crypto';
import { UsageError } from '../cli/exit.ts';
import type { Handle } from './binding.ts';
import { ckrOf } from './errors.ts';
import type { ObjectSummary } from './objects.ts';
import type { TokenSession } from './token.ts';

type Key = { handle: Handle; summary: ObjectSummary };

function mechanismFor(s: TokenSession, key: Key, purpose: string): { mechanism: number; name: string; prehash: boolean } {
  const b = s.mod.binding;
  if (key.summary.keyType === 'rsa') return { mechanism: b.CKM_SHA256_RSA_PKCS, name: 'CKM_SHA256_RSA_PKCS', prehash: false };
  if (key.summary.keyType === 'ec') {
    return s.mechanisms().has(b.CKM_ECDSA_SHA256) ? { mechanism: b.CKM_ECDSA_SHA256, name: 'CKM_ECDSA_SHA256', prehash: false } : { mechanism: b.CKM_ECDSA, name: 'CKM_ECDSA (SHA-256 computed by the harness)', prehash: true };
  }
  throw new UsageError(`${purpose}: needs an RSA or EC key, got ${key.summary.keyType ?? '?'} ${key.summary.class}`);
}

const input = (data: Buffer, prehash: boolean): Buffer => (prehash ? createHash('sha256').update(data).digest() : data);

/** Signs `data` with a private RSA or EC key. */
export function sign(s: TokenSession, key: Key, data: Buffer): { signature: Buffer; mechanism: string } {
  if (key.summary.class !== 'private-key') throw new UsageError(`sign: needs a private key, got ${key.summary.class}`);
  const m = mechanismFor(s, key, 'sign');
  const { mod } = s;
  mod.call('C_SignInit', () => mod.p11.C_SignInit(s.handle, { mechanism: m.mechanism }, key.handle));
  const sig = mod.call('C_Sign', () => mod.p11.C_Sign(s.handle, input(data, m.prehash), Buffer.alloc(1024)));
  return { signature: Buffer.from(sig), mechanism: m.name };
}

/**
 * Verifies `signature` over `data` with a public RSA or EC key. An invalid signature is a result
 * (valid: false: CKR_SIGNATURE_INVALID or CKR_SIGNATURE_LEN_RANGE), not an error.
 */
export function verify(s: TokenSession, key: Key, data: Buffer, signature: Buffer): { valid: boolean; mechanism: string } {
  if (key.summary.class !== 'public-key') throw new UsageError(`verify: needs a public key, got ${key.summary.class}`);
  const m = mechanismFor(s, key, 'verify');
  const { mod } = s;
  mod.call('C_VerifyInit', () => mod.p11.C_VerifyInit(s.handle, { mechanism: m.mechanism }, key.handle));
  try {
    return { valid: mod.call('C_Verify', () => mod.p11.C_Verify(s.handle, input(data, m.prehash), signature)), mechanism: m.name };
  } catch (err) {
    const ckr = ckrOf(err);
    if (ckr === 'CKR_SIGNATURE_INVALID' || ckr === 'CKR_SIGNATURE_LEN_RANGE') return { valid: false, mechanism: m.name };
    throw err;
  }
}
