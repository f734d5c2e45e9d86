// No key material in what the harness writes: a conformance run against a mock that misbehaves (so
// failures carry evidence with key-bearing bodies) is scanned for every key the mock delivered.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockPair, type MockPair } from '../../mocks/kme/index.ts';
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

describe('secrets', () => {
  it('the scanner finds a key in any encoding (so a clean scan means something)', () => {
    const key = Buffer.alloc(32, 0xab);
    for (const text of [key.toString('base64'), key.toString('base64url'), key.toString('hex'), `x${key.toString('base64').slice(0, -1)}x`]) {
      expect(scanForKeys({ f: text }, [key])).toHaveLength(1);
    }
    expect(scanForKeys({ f: 'sha256:12345678' }, [key])).toHaveLength(0);
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
  }, 240_000);
});
