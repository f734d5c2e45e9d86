// Errors of PKCS#11 calls, named after the function and the CKR_ code (never with arguments: a PIN or
// key material must not reach an error message).
import { EXIT } from '../cli/exit.ts';

/** CKR_ codes that mean the user gave a wrong PIN: a usage error (exit 2), not an outage. */
const PIN_MISTAKES = new Set(['CKR_PIN_INCORRECT', 'CKR_PIN_INVALID', 'CKR_PIN_LEN_RANGE']);

/** A PKCS#11 function returned an error. `ckr` is the CKR_ name (e.g. CKR_KEY_UNEXTRACTABLE) or 'native'. */
export class Pkcs11CallError extends Error {
  override name = 'Pkcs11CallError';
  /** Exit code for the CLI (read by exitCodeFor): 2 for a wrong PIN, 3 otherwise. */
  readonly exitCode: number;
  constructor(
    readonly fn: string,
    readonly ckr: string,
    readonly code: number,
    detail?: string,
  ) {
    super(`${fn} failed: ${ckr === 'native' ? (detail ?? 'native error') : ckr}`);
    this.exitCode = PIN_MISTAKES.has(ckr) ? EXIT.usage : EXIT.cannotRun;
  }
}

/** Turns what pkcs11js threw into a Pkcs11CallError naming `fn`; other errors (TypeError) pass. */
export function pkcs11Error(fn: string, err: unknown): Error {
  if (err instanceof Pkcs11CallError) return err;
  const e = err as { name?: string; message?: string; code?: number };
  if (e && (e.name === 'Pkcs11Error' || /^CKR_/.test(e.message ?? ''))) return new Pkcs11CallError(fn, (e.message ?? '').split(/[:\s]/)[0] || 'CKR_?', e.code ?? 0);
  // Native errors (library not loadable, bad argument types) carry the binding's message, never arguments.
  if (e && e.name === 'NativeError') return new Pkcs11CallError(fn, 'native', e.code ?? 0, e.message?.split('\n')[0]);
  return err instanceof Error ? err : new Error(String(err));
}

/** The CKR_ name of a failed call, or undefined for other errors. */
export function ckrOf(err: unknown): string | undefined {
  return err instanceof Pkcs11CallError ? err.ckr : undefined;
}
