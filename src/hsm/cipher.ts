// Encryption and decryption on the token (C_EncryptInit/C_Encrypt, C_DecryptInit/C_Decrypt):
// - RSA keys: CKM_RSA_PKCS_OAEP, MGF1 with the same hash, no label (CKZ_DATA_SPECIFIED, empty).
//   SoftHSM 2.6 accepts only SHA-1 (SHA-256 gives CKR_ARGUMENTS_BAD), so SHA-1 is the default; OAEP's
//   security does not rest on the hash's collision resistance. Both sides must use the same hash.
// - AES keys: CKM_AES_GCM (96-bit IV, 128-bit tag, no AAD) or CKM_AES_CBC_PAD (16-byte IV, PKCS#7
//   padding) where the token lacks GCM. The IV is random and travels in front of the ciphertext:
//   GCM: IV(12) ‖ ciphertext ‖ tag(16); CBC-PAD: IV(16) ‖ ciphertext.
import { randomBytes } from 'node:crypto';
import type { Mechanism } from 'pkcs11js';
import { UsageError } from '../cli/exit.ts';
import { readAttributes } from './attributes.ts';
import type { Handle } from './binding.ts';
import { ckrOf } from './errors.ts';
import type { ObjectSummary } from './objects.ts';
import type { TokenSession } from './token.ts';

export type OaepHash = 'sha1' | 'sha256';
export type AesMode = 'gcm' | 'cbc-pad' | 'auto';
export const OAEP_HASHES: readonly OaepHash[] = ['sha1', 'sha256'];
export const AES_MODES: readonly AesMode[] = ['auto', 'gcm', 'cbc-pad'];

export interface CipherOptions {
  oaepHash?: OaepHash;
  /** 'auto' (default): GCM when C_GetMechanismList lists CKM_AES_GCM, else CBC-PAD. */
  aesMode?: AesMode;
}

export interface CipherResult {
  output: Buffer;
  /** The CKM_ name used (and the OAEP hash), for the user and the report. */
  mechanism: string;
}

const GCM_IV = 12;
const CBC_IV = 16;
const TAG = 16;

function oaep(s: TokenSession, hash: OaepHash): Mechanism {
  const b = s.mod.binding;
  return { mechanism: b.CKM_RSA_PKCS_OAEP, parameter: { type: b.CK_PARAMS_RSA_OAEP, hashAlg: hash === 'sha1' ? b.CKM_SHA_1 : b.CKM_SHA256, mgf: hash === 'sha1' ? b.CKG_MGF1_SHA1 : b.CKG_MGF1_SHA256, source: 1 /* CKZ_DATA_SPECIFIED */ } as Mechanism['parameter'] };
}

function aesMode(s: TokenSession, mode: AesMode | undefined): 'gcm' | 'cbc-pad' {
  if (mode === 'gcm' || mode === 'cbc-pad') return mode;
  return s.mechanisms().has(s.mod.binding.CKM_AES_GCM) ? 'gcm' : 'cbc-pad';
}

function aesMechanism(s: TokenSession, mode: 'gcm' | 'cbc-pad', iv: Buffer): Mechanism {
  const b = s.mod.binding;
  if (mode === 'gcm') return { mechanism: b.CKM_AES_GCM, parameter: { type: b.CK_PARAMS_AES_GCM, iv, ivBits: GCM_IV * 8, tagBits: TAG * 8 } as Mechanism['parameter'] };
  return { mechanism: b.CKM_AES_CBC_PAD, parameter: iv };
}

function modulusBytes(s: TokenSession, key: Handle): number {
  const n = readAttributes(s, key, [s.mod.binding.CKA_MODULUS]).get(s.mod.binding.CKA_MODULUS);
  return n?.length || 1024;
}

const oaepName = (h: OaepHash) => `CKM_RSA_PKCS_OAEP (${h === 'sha1' ? 'SHA-1' : 'SHA-256'}, MGF1)`;

/** A hint for the errors a module gives when it lacks an OAEP hash. */
function oaepRefused(err: unknown, hash: OaepHash): Error {
  const ckr = ckrOf(err);
  if (hash === 'sha256' && (ckr === 'CKR_ARGUMENTS_BAD' || ckr === 'CKR_MECHANISM_PARAM_INVALID')) return new UsageError(`the token refused RSA-OAEP with SHA-256 (${ckr}); SoftHSM supports SHA-1 only: use --oaep-hash sha1`);
  return err as Error;
}

/** Encrypts `data` with a public RSA key or an AES key. @throws UsageError for other key types. */
export function encrypt(s: TokenSession, key: { handle: Handle; summary: ObjectSummary }, data: Buffer, o: CipherOptions = {}): CipherResult {
  const { mod } = s;
  if (key.summary.keyType === 'rsa' && key.summary.class === 'public-key') {
    const hash = o.oaepHash ?? 'sha1';
    const size = modulusBytes(s, key.handle);
    try {
      mod.call('C_EncryptInit', () => mod.p11.C_EncryptInit(s.handle, oaep(s, hash), key.handle));
      return { output: Buffer.from(mod.call('C_Encrypt', () => mod.p11.C_Encrypt(s.handle, data, Buffer.alloc(size)))), mechanism: oaepName(hash) };
    } catch (err) {
      throw oaepRefused(err, hash);
    }
  }
  if (key.summary.keyType === 'aes' && key.summary.class === 'secret-key') {
    const mode = aesMode(s, o.aesMode);
    const iv = randomBytes(mode === 'gcm' ? GCM_IV : CBC_IV);
    mod.call('C_EncryptInit', () => mod.p11.C_EncryptInit(s.handle, aesMechanism(s, mode, iv), key.handle));
    const ct = mod.call('C_Encrypt', () => mod.p11.C_Encrypt(s.handle, data, Buffer.alloc(data.length + 32)));
    return { output: Buffer.concat([iv, ct]), mechanism: mode === 'gcm' ? 'CKM_AES_GCM' : 'CKM_AES_CBC_PAD' };
  }
  throw new UsageError(`encrypt: needs an RSA public key or an AES key, got ${key.summary.keyType ?? '?'} ${key.summary.class}`);
}

/**
 * Decrypts what `encrypt` produced with the RSA private key or the same AES key.
 * @throws Pkcs11CallError when the token rejects the ciphertext (e.g. CKR_ENCRYPTED_DATA_INVALID, a GCM tag mismatch).
 */
export function decrypt(s: TokenSession, key: { handle: Handle; summary: ObjectSummary }, data: Buffer, o: CipherOptions = {}): CipherResult {
  const { mod } = s;
  if (key.summary.keyType === 'rsa' && key.summary.class === 'private-key') {
    const hash = o.oaepHash ?? 'sha1';
    try {
      mod.call('C_DecryptInit', () => mod.p11.C_DecryptInit(s.handle, oaep(s, hash), key.handle));
      return { output: Buffer.from(mod.call('C_Decrypt', () => mod.p11.C_Decrypt(s.handle, data, Buffer.alloc(Math.max(data.length, modulusBytes(s, key.handle)))))), mechanism: oaepName(hash) };
    } catch (err) {
      throw oaepRefused(err, hash);
    }
  }
  if (key.summary.keyType === 'aes' && key.summary.class === 'secret-key') {
    const mode = aesMode(s, o.aesMode);
    const ivLen = mode === 'gcm' ? GCM_IV : CBC_IV;
    if (data.length < ivLen + (mode === 'gcm' ? TAG : 16)) throw new UsageError(`decrypt: ${data.length} bytes is too short for ${mode} (IV ‖ ciphertext${mode === 'gcm' ? ' ‖ tag' : ''})`);
    mod.call('C_DecryptInit', () => mod.p11.C_DecryptInit(s.handle, aesMechanism(s, mode, data.subarray(0, ivLen)), key.handle));
    const pt = mod.call('C_Decrypt', () => mod.p11.C_Decrypt(s.handle, data.subarray(ivLen), Buffer.alloc(data.length)));
    return { output: Buffer.from(pt), mechanism: mode === 'gcm' ? 'CKM_AES_GCM' : 'CKM_AES_CBC_PAD' };
  }
  throw new UsageError(`decrypt: needs an RSA private key or an AES key, got ${key.summary.keyType ?? '?'} ${key.summary.class}`);
}
