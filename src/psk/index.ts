// PSK derivation as Arnika computes it: hybrid, QKD-only, PQC-only; strict inputs; fingerprints only.
export { PskInputError } from './errors.ts';
export { base64Problem, decodeBase64Strict, encodeBase64 } from './base64.ts';
export { KEY_BYTES, checkKeyLength, hybridIkm, splitHybridIkm, type LengthOptions } from './separation.ts';
export { DerivedPsk, PSK_MODES, deriveHybrid, derivePqcOnly, derivePsk, deriveQkdOnly, hkdfSha3, type PskInputs, type PskMode } from './derive.ts';
export { ROSENPASS_FILE_CHARS, parsePqcKeyFile, readPqcKeyFile, type PqcFileOptions } from './pqc-file.ts';
export { expectedPsk, pskFingerprint, verifyInstalledPsk, type PskCheck, type SiteKeys } from './verify.ts';
