// Whether the HSM tests can run: SoftHSM2 and the pkcs11js binding must be present. Without them the
// tests skip with the reason — unless QKD_REQUIRE_LAB=1 (CI), where a skip would hide a broken setup,
// so they fail instead (as the lab suites do).
import { bindingUnavailable } from '../binding.ts';
import { softhsmUnavailable } from '../softhsm.ts';

export interface HsmGate {
  /** Why the tests are skipped (shown in the suite's title). */
  skip?: string;
  /** Why the tests must fail instead. */
  fail?: string;
}

export function hsmGate(): HsmGate {
  const why = bindingUnavailable() ?? softhsmUnavailable();
  if (!why) return {};
  return process.env.QKD_REQUIRE_LAB === '1' ? { fail: `QKD_REQUIRE_LAB=1 but the HSM tests cannot run: ${why}` } : { skip: why };
}

export const titled = (title: string, gate: HsmGate): string => (gate.skip ? `${title} (skipped: ${gate.skip})` : title);
