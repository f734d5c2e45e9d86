// The PKCS#11 binding (npm `pkcs11js`, a native N-API addon built by `npm ci`). Loaded lazily so that
// commands and tests that never touch an HSM work where the addon was not built.
import { createRequire } from 'node:module';
import { CannotRunError } from '../cli/exit.ts';

export type Pkcs11Js = typeof import('pkcs11js');
/** A PKCS#11 handle (slot, session or object) as pkcs11js gives it: the CK_ULONG's bytes. */
export type Handle = Buffer;

const require = createRequire(import.meta.url);
let cached: Pkcs11Js | undefined;
let failure: string | undefined;

function tryLoad(): void {
  if (cached || failure) return;
  try {
    cached = require('pkcs11js') as Pkcs11Js;
  } catch (err) {
    // Typical causes: the install script was skipped (npm --ignore-scripts, or a denied allowScripts
    // entry), or no C++ toolchain when `npm ci` ran.
    failure = `the PKCS#11 binding pkcs11js is not usable (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); run npm ci with install scripts allowed`;
  }
}

/** Why the binding cannot be used here, or undefined when it can. */
export function bindingUnavailable(): string | undefined {
  tryLoad();
  return failure;
}

/** The pkcs11js module. @throws CannotRunError when the addon is absent or was not built. */
export function pkcs11js(): Pkcs11Js {
  tryLoad();
  if (!cached) throw new CannotRunError(failure!);
  return cached;
}
