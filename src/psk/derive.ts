// The WireGuard PSK exactly as Arnika computes it (docs/psk.md, "PSK derivation").
import { inspect } from 'node:util';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha3_256 } from '@noble/hashes/sha3.js';
import { fingerprint } from '../secrets/fingerprint.ts';
import { encodeBase64 } from './base64.ts';
import { PskInputError } from './errors.ts';
import { KEY_BYTES, checkKeyLength, hybridIkm, type LengthOptions } from './separation.ts';

export type PskMode = 'hybrid' | 'qkd-only' | 'pqc-only';
export const PSK_MODES: readonly PskMode[] = ['hybrid', 'qkd-only', 'pqc-only'];

/**
 * HKDF-SHA3-256 with no salt and empty info, 32 bytes out. "No salt" is HashLen (32) zero bytes
 * (RFC 5869 §2.2); HMAC zero-pads keys to its 136-byte block, so an empty salt gives the same PRK.
 */
export function hkdfSha3(ikm: Uint8Array): Uint8Array {
  return hkdf(sha3_256, ikm, undefined, undefined, KEY_BYTES);
}

/** A derived PSK. Serialising or inspecting it shows the fingerprint only, never the key. */
export class DerivedPsk {
  constructor(
    readonly mode: PskMode,
    readonly key: Uint8Array,
    /** false when the inputs were outside the separation condition (only with allowVariableLengths). */
    readonly separated: boolean,
  ) {}
  /** Standard padded base64, as `wg set … preshared-key` takes it. */
  get base64(): string {
    return encodeBase64(this.key);
  }
  get fingerprint(): string {
    return fingerprint(this.key);
  }
  toJSON(): { mode: PskMode; fingerprint: string; separated: boolean } {
    return { mode: this.mode, fingerprint: this.fingerprint, separated: this.separated };
  }
  [inspect.custom](): string {
    return `DerivedPsk(${this.mode} ${this.fingerprint}${this.separated ? '' : ' unseparated'})`;
  }
}

/** Hybrid: HKDF-SHA3-256(QKD ‖ PQC). */
export function deriveHybrid(qkd: Uint8Array, pqc: Uint8Array, options: LengthOptions = {}): DerivedPsk {
  const separated = checkKeyLength(qkd, 'QKD key', options) && checkKeyLength(pqc, 'PQC key', options);
  return new DerivedPsk('hybrid', hkdfSha3(hybridIkm(qkd, pqc)), separated);
}

/** QKD only: the raw KMS key is the PSK (no HKDF), so it must be exactly 32 bytes — no opt-out. */
export function deriveQkdOnly(qkd: Uint8Array): DerivedPsk {
  if (qkd.length !== KEY_BYTES) {
    throw new PskInputError(`a KMS key of ${qkd.length} bytes (${fingerprint(qkd)}) cannot become a WireGuard PSK: QKD-only uses the key as is and needs exactly ${KEY_BYTES} bytes`);
  }
  return new DerivedPsk('qkd-only', qkd.slice(), true);
}

/** PQC only: HKDF-SHA3-256(PQC). */
export function derivePqcOnly(pqc: Uint8Array, options: LengthOptions = {}): DerivedPsk {
  const separated = checkKeyLength(pqc, 'PQC key', options);
  return new DerivedPsk('pqc-only', hkdfSha3(pqc), separated);
}

export interface PskInputs {
  qkd?: Uint8Array | undefined;
  pqc?: Uint8Array | undefined;
  /** Defaults to what the inputs allow: both → hybrid, one → that one alone. */
  mode?: PskMode | undefined;
}

/** Derives in the given or inferred mode; an input the mode does not use is an error, not ignored. */
export function derivePsk({ qkd, pqc, mode }: PskInputs, options: LengthOptions = {}): DerivedPsk {
  const m: PskMode | undefined = mode ?? (qkd && pqc ? 'hybrid' : qkd ? 'qkd-only' : pqc ? 'pqc-only' : undefined);
  if (m === undefined) throw new PskInputError('no key given: need a QKD key, a PQC key or both');
  const needs = { hybrid: [true, true], 'qkd-only': [true, false], 'pqc-only': [false, true] }[m];
  if (needs[0] !== (qkd !== undefined)) throw new PskInputError(`mode ${m} ${needs[0] ? 'needs a' : 'takes no'} QKD key`);
  if (needs[1] !== (pqc !== undefined)) throw new PskInputError(`mode ${m} ${needs[1] ? 'needs a' : 'takes no'} PQC key`);
  if (m === 'hybrid') return deriveHybrid(qkd!, pqc!, options);
  return m === 'qkd-only' ? deriveQkdOnly(qkd!) : derivePqcOnly(pqc!, options);
}
