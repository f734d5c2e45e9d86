/**
 * An input the PSK derivation cannot take (bad base64, wrong length, unreadable PQC file).
 * Messages name the input, its length and `fingerprint()` — never key material (README, "Secrets").
 */
export class PskInputError extends Error {
  override name = 'PskInputError';
}
