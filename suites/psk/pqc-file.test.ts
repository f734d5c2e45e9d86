// Rosenpass key_out files: the exact format is accepted, and so is one trailing LF/CRLF (Arnika trims it);
// empty, half-written and otherwise padded files are refused with a message that says which.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeBase64Strict, derivePsk, encodeBase64, parsePqcKeyFile, PskInputError, readPqcKeyFile } from '../../src/psk/index.ts';
import { differ, labelPskRequirements, leaksKey, loadVectors, same } from './helpers.ts';

labelPskRequirements();

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

  it('psk/25 one trailing LF or CRLF is stripped as Arnika does, with a warning; more line endings or other whitespace are refused', () => {
    // The known answer: Arnika's CI writes its test key files with one trailing newline.
    const kat = loadVectors<{ name: string; qkd: string; pqc_file?: string; psk: string }>('psk.json').cases.find((c) => c.pqc_file !== undefined)!;
    expect(kat.pqc_file, 'the vector is a key file with one LF').toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    for (const eol of ['\n', '\r\n']) {
      const warnings: string[] = [];
      const text = kat.pqc_file!.replace(/\n$/, eol);
      const pqc = readPqcKeyFile(keyFile('arnika-ci', text), { onWarning: (m) => warnings.push(m) });
      const psk = derivePsk({ qkd: decodeBase64Strict(kat.qkd, 'QKD'), pqc });
      expect(psk.base64 === kat.psk, `${JSON.stringify(eol)}: the known-answer PSK (${psk.fingerprint})`).toBe(true);
      expect(warnings, JSON.stringify(eol)).toHaveLength(1);
      expect(warnings[0]).toMatch(new RegExp(`ends with ${eol === '\n' ? 'LF' : 'CRLF'}: stripped it as Arnika does`));
      expect(leaksKey(warnings[0]!, pqc), 'the warning shows key material').toBe(false);
    }
    const quiet: string[] = [];
    parsePqcKeyFile(content, 'PQC key file', { onWarning: (m) => quiet.push(m) });
    expect(quiet, 'no warning for the exact Rosenpass format').toEqual([]);
    const refused: Array<[string, string, RegExp]> = [
      ['two LFs', `${content}\n\n`, /ends with more than one line ending/],
      ['CRLF after LF', `${content}\n\r\n`, /ends with more than one line ending/],
      ['LF after CR', `${content}\r\n\n`, /ends with more than one line ending/],
      ['CR alone', `${content}\r`, /whitespace at offset 44/],
      ['space before LF', `${content} \n`, /whitespace at offset 44/],
      ['tab', `${content}\t`, /whitespace at offset 44/],
      ['leading space', ` ${content}`, /whitespace at offset 0/],
      ['leading LF', `\n${content}`, /whitespace at offset 0/],
      ['only a line ending', '\n', /holds only a line ending/],
      ['half-written then LF', `${content.slice(0, 22)}\n`, /truncated: 22 of 44/],
    ];
    for (const [name, text, message] of refused) {
      const warnings: string[] = [];
      expect(() => parsePqcKeyFile(text, 'PQC key file', { onWarning: (m) => warnings.push(m) }), name).toThrow(message);
      expect(warnings, `${name}: no warning for a refused file`).toEqual([]);
    }
  });
});
