// Rosenpass key_out files: the exact format is accepted; empty, half-written and newline-terminated
// files are refused with a message that says which.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeBase64, parsePqcKeyFile, PskInputError, readPqcKeyFile } from '../../src/psk/index.ts';
import { differ, same } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'qkd-harness-psk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const key = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff); // test-only key
const content = encodeBase64(key);

/** Writes a key file as Rosenpass would (mode 0600). */
function keyFile(name: string, text: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

describe('PQC key files (Rosenpass key_out)', () => {
  it('psk/22 a file in the exact Rosenpass format (44 characters of padded base64, no newline) is accepted', () => {
    expect(content.length).toBe(44);
    const read = readPqcKeyFile(keyFile('key_out', content));
    expect(same(read, key), differ('file', read, key)).toBe(true);
    expect(same(parsePqcKeyFile(Buffer.from(content)), key), 'from bytes').toBe(true);
  });

  it('psk/23 an empty file is refused with a clear message', () => {
    expect(() => readPqcKeyFile(keyFile('empty', ''))).toThrow(/is empty: Rosenpass truncates before writing/);
  });

  it('psk/24 truncated, half-written or oversized files are refused', () => {
    for (let n = 1; n < content.length; n++) {
      expect(() => parsePqcKeyFile(content.slice(0, n)), `first ${n} characters`).toThrow(/truncated: \d+ of 44 characters/);
    }
    expect(() => readPqcKeyFile(keyFile('half', content.slice(0, 22)))).toThrow(/truncated: 22 of 44/);
    expect(() => parsePqcKeyFile(encodeBase64(Uint8Array.from([...key, 1, 2, 3, 4])))).toThrow(/too long: 48 characters/);
    expect(() => parsePqcKeyFile(encodeBase64(key.slice(0, 31)).padEnd(44, '='))).toThrow(PskInputError);
    expect(() => parsePqcKeyFile(Buffer.from([...Buffer.from(content.slice(0, 43)), 0xff]))).toThrow(/outside the base64 alphabet/);
    expect(() => readPqcKeyFile(join(dir, 'missing'))).toThrow(/cannot read PQC key file .*: ENOENT/);
  });

  it('psk/25 a trailing newline (which Rosenpass never writes) is refused with a message saying so', () => {
    for (const eol of ['\n', '\r\n']) {
      expect(() => readPqcKeyFile(keyFile('newline', content + eol)), JSON.stringify(eol)).toThrow(/ends with a newline: Rosenpass writes none/);
    }
    expect(() => parsePqcKeyFile(` ${content}`)).toThrow(/whitespace at offset 0/);
  });
});
