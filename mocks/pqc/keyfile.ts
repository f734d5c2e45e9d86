// Rosenpass `key_out` files: standard padded base64 of 32 bytes, no trailing newline, mode 0600,
// written truncate-then-write — deliberately not atomic, so readers can see an empty or half file.
import { chmodSync, closeSync, openSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { escrowKey } from '../../src/secrets/escrow.ts';

export function encodeKeyFile(key: Uint8Array): string {
  if (key.length !== 32) throw new Error(`a Rosenpass key has 32 bytes, not ${key.length}`);
  return Buffer.from(key).toString('base64');
}

/**
 * Writes the key as Rosenpass does. With `pauseAfterHalfMs` the write stops after half the characters
 * for that long (the half-written-pqc fault): a reader in that window sees a truncated key.
 */
export async function writeKeyFile(path: string, key: Uint8Array, pauseAfterHalfMs = 0): Promise<void> {
  escrowKey(key); // test-only (src/secrets/escrow.ts)
  const text = encodeKeyFile(key);
  const fd = openSync(path, 'w', 0o600); // O_TRUNC first: from here on a reader sees a short file
  try {
    chmodSync(path, 0o600);
    if (pauseAfterHalfMs > 0) {
      writeSync(fd, text.slice(0, text.length / 2));
      await sleep(pauseAfterHalfMs);
      writeSync(fd, text.slice(text.length / 2));
    } else {
      writeSync(fd, text);
    }
  } finally {
    closeSync(fd);
  }
}
