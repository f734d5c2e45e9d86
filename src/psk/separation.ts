/**
 * Input separation of the hybrid derivation. Arnika's IKM is plain `QKD ‖ PQC`: no separator, no
 * length prefix, and the info string is empty in every mode, so only the input lengths keep distinct
 * inputs apart.
 *
 * Condition (enforced by default): QKD is exactly 32 bytes and PQC is exactly 32 bytes.
 * - Within the hybrid mode, `(qkd, pqc) ↦ qkd ‖ pqc` is injective as soon as the length of either part
 *   is fixed: the split point is then known (32), so distinct pairs give distinct IKM and, barring an
 *   HKDF-SHA3-256 collision, distinct PSKs. If the QKD length varies, `(q ‖ x, y)` and `(q, x ‖ y)`
 *   give the same IKM, hence the same PSK, for any non-empty x.
 * - Across modes, PQC-only hashes `pqc` alone: `hybrid(q, p) = pqcOnly(q ‖ p)` whenever PQC-only
 *   accepts a key as long as `q ‖ p`. With PQC fixed at 32 bytes the hybrid IKM is always 64 bytes and
 *   the PQC-only IKM 32, so they never meet. (QKD-only outputs the raw key, not an HKDF output: it can
 *   only coincide with the others by chance.)
 * Fixing both at 32 costs nothing: Arnika requests 256-bit keys from the KMS and Rosenpass writes
 * 32-byte keys. Empty inputs are refused always — an empty key is a failed read, never a key.
 *
 * `allowVariableLengths` accepts any non-empty length (to test deployments whose KMS returns other
 * sizes); results derived from lengths outside the condition carry `separated: false`.
 */
import { fingerprint } from '../secrets/fingerprint.ts';
import { PskInputError } from './errors.ts';

export const KEY_BYTES = 32;

export interface LengthOptions {
  /** Accept non-empty inputs of any length; the result then reports whether the condition held. */
  allowVariableLengths?: boolean;
}

/** The hybrid IKM: QKD first, then PQC, nothing in between, as Arnika does. */
export function hybridIkm(qkd: Uint8Array, pqc: Uint8Array): Uint8Array {
  const ikm = new Uint8Array(qkd.length + pqc.length);
  ikm.set(qkd, 0);
  ikm.set(pqc, qkd.length);
  return ikm;
}

/** Inverse of hybridIkm for a 32-byte QKD part: exists only because the split point is fixed. */
export function splitHybridIkm(ikm: Uint8Array): { qkd: Uint8Array; pqc: Uint8Array } {
  return { qkd: ikm.slice(0, KEY_BYTES), pqc: ikm.slice(KEY_BYTES) };
}

/**
 * Checks one input against the condition: throws for empty input, and for a length other than 32
 * unless the caller opted out. Returns whether the input met the condition.
 */
export function checkKeyLength(key: Uint8Array, what: string, options: LengthOptions = {}): boolean {
  if (key.length === 0) throw new PskInputError(`${what} is empty`);
  if (key.length === KEY_BYTES) return true;
  if (options.allowVariableLengths) return false;
  throw new PskInputError(
    `${what} is ${key.length} bytes (${fingerprint(key)}); the derivation takes exactly ${KEY_BYTES} so that QKD ‖ PQC splits unambiguously (opt out with allowVariableLengths / --allow-variable-lengths)`,
  );
}
