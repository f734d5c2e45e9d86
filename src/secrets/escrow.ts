// Test-only key escrow: every key a component of the harness hands out or installs (mock KME deliveries,
// PQC emulator key files, key-control PSKs) is appended, base64, one per line, to the file named by
// QKDH_KEY_ESCROW, so a test can scan a whole run's output for any of them (src/report/leak-scan.ts).
// Unset — always, outside that test — it does nothing. Never set it against a real deployment: the file
// holds key material.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';

export const ESCROW_ENV = 'QKDH_KEY_ESCROW';

/** Appends `key` (bytes, or base64 text) to the escrow file when QKDH_KEY_ESCROW names one. */
export function escrowKey(key: Uint8Array | string): void {
  const file = process.env[ESCROW_ENV];
  if (!file) return;
  appendFileSync(file, `${typeof key === 'string' ? key.trim() : Buffer.from(key).toString('base64')}\n`, { mode: 0o600 });
}

/** The escrowed keys of `file` (none when it does not exist). */
export function readEscrow(file: string): Buffer[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => Buffer.from(l, 'base64'));
}
