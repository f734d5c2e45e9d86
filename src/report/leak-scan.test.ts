// No key material in what the harness writes: a conformance run against a mock that misbehaves (so
// failures carry evidence with key-bearing bodies) is scanned for every key the mock delivered.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockPair, type DeviationName, type MockPair } from '../../mocks/kme/index.ts';
import { scanForKeys } from './leak-scan.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'qkd-harness.js');
const delivered: Buffer[] = [];
let pair: MockPair;

beforeAll(async () => {
  pair = await startMockPair({ log: false, onDeliver: (_kme, keys) => delivered.push(...keys.map((k) => Buffer.from(k.key))) });
});
afterAll(async () => pair?.stop());

function run(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, VITEST: undefined } });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString('latin1')));
    p.stderr.on('data', (c: Buffer) => (out += c.toString('latin1')));
    p.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

/** A whole conformance run took up to 235 s under `npm run test:load` (2 cores): a hang guard, not a measurement. */
const RUN_TIMEOUT_MS = 600_000;

describe('secrets', () => {
  it('the scanner finds a key in any encoding (so a clean scan means something)', () => {
    const key = Buffer.alloc(32, 0xab);
    for (const text of [key.toString('base64'), key.toString('base64url'), key.toString('hex'), `x${key.toString('base64').slice(0, -1)}x`, `raw:${key.toString('latin1')}`]) {
      expect(scanForKeys({ f: text }, [key])).toHaveLength(1);
    }
    expect(scanForKeys({ f: 'sha256:12345678' }, [key])).toHaveLength(0);
  });

  it('the scanner finds a key cut off after 12 bytes (a truncated body), but not a shorter piece', () => {
    const key = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 53 + 7) & 0xff));
    for (const text of [`{"keys":[{"key":"${key.toString('base64').slice(0, 16)}`, key.toString('base64url').slice(0, 20), key.toString('hex').slice(0, 24)]) {
      expect(scanForKeys({ f: text }, [key])).toHaveLength(1);
    }
    expect(scanForKeys({ f: key.toString('base64').slice(0, 15) }, [key])).toHaveLength(0);
  });

  it('no key the mock delivered appears in summary.json, junit.xml, allure-results or the console', async () => {
    // Deviations that make checks fail on answers full of keys, so evidence is written.
    pair.setDeviations(['keys-not-removed', 'wrong-dec-key-bytes', 'url-safe-base64']);
    const reports = mkdtempSync(join(tmpdir(), 'qkd-leak-'));
    const r = await run(['conformance', '--target', pair.profilePath, '--strict', '--reports', reports]);
    expect(r.code).toBe(1); // failures, with evidence
    expect(delivered.length).toBeGreaterThan(50);
    const leaks = [...scanForKeys(reports, delivered), ...scanForKeys({ console: r.out }, delivered)];
    expect(leaks).toEqual([]);
    rmSync(reports, { recursive: true, force: true }); // kept for inspection when the scan fails
  }, RUN_TIMEOUT_MS);

  // A KME that names the key member otherwise (key_value), spells the container otherwise (Keys) or cuts
  // the container short: the evidence shows the bodies with every entry member but key_ID masked.
  // (key-member-renamed alone is a part of the last: one run covers both.)
  it.each([[['key-member-renamed', 'keys-capitalised', 'truncated-json']]] as Array<[DeviationName[]]>)(
    'no delivered key leaks from a KME with deviations %j',
    async (deviations) => {
      pair.setDeviations(deviations);
      const before = delivered.length;
      const reports = mkdtempSync(join(tmpdir(), 'qkd-leak-'));
      const r = await run(['conformance', '--target', pair.profilePath, '--strict', '--reports', reports]);
      expect(r.code).toBe(1);
      expect(delivered.length - before).toBeGreaterThan(50);
      // The scan means something only if key-bearing bodies reached the evidence (redacted).
      const summary = readFileSync(join(reports, 'summary.json'), 'utf8');
      expect(summary).toMatch(/\\"key_value\\":\\"<redacted sha256:[0-9a-f]{8}>/);
      expect(summary).toMatch(new RegExp(`\\\\"${deviations.includes('keys-capitalised') ? 'Keys' : 'keys'}\\\\":\\[\\{\\\\"key_ID\\\\":\\\\"[0-9a-f-]{36}`));
      const leaks = [...scanForKeys(reports, delivered), ...scanForKeys({ console: r.out }, delivered)];
      expect(leaks).toEqual([]);
      rmSync(reports, { recursive: true, force: true }); // kept for inspection when the scan fails
    },
    RUN_TIMEOUT_MS,
  );
});
