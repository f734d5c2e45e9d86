// A mock pair that serves exactly one 256-bit key per request and no multicast (min = max = key_size =
// 256, max_key_per_request 1, max_SAE_ID_count 0) at a chosen key rate: the configuration a statistical
// Status test runs against, written as a YAML file the way `qkd-harness mock --config` reads it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMockConfig, startMockPair, type MockPair } from './index.ts';
import { clients, keyBytes, type Clients } from './test-support.ts';

const YAML = `key_size: 256
min_key_size: 256
max_key_size: 256
max_key_per_request: 1
max_SAE_ID_count: 0
key_rate_per_hour: 3600000   # 1,000 keys of 256 bits per second
prefill: 10
max_key_count: 1000000
`;

let dir: string;
let file: string;
let pair: MockPair;
let c: Clients;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'qkd-single-key-'));
  file = join(dir, 'mock.yaml');
  writeFileSync(file, YAML);
  pair = await startMockPair({ configFile: file, log: false });
  c = clients(pair);
});
afterAll(async () => {
  await c.close();
  await pair.stop();
  rmSync(dir, { recursive: true, force: true });
});

const A = () => c.of('SAE_A');

describe('mock KME: one 256-bit key per request, no multicast, configurable key rate', () => {
  it('the YAML file is a valid configuration with those limits', () => {
    const cfg = loadMockConfig(file);
    expect([cfg.key_size, cfg.min_key_size, cfg.max_key_size, cfg.max_key_per_request, cfg.max_SAE_ID_count, cfg.key_rate_per_hour]).toEqual([256, 256, 256, 1, 0, 3_600_000]);
  });

  it('Status reports the limits as configured', async () => {
    const s = (await A().status('SAE_B')).data!;
    expect([s.key_size, s.min_key_size, s.max_key_size, s.max_key_per_request, s.max_SAE_ID_count]).toEqual([256, 256, 256, 1, 0]);
  });

  it('serves one 256-bit key; more keys, other sizes and additional slaves are refused with 400', async () => {
    const r = await A().encKeysGet('SAE_B');
    expect(r.status).toBe(200);
    expect(r.data!.keys.map((k) => keyBytes(k.key).length)).toEqual([32]);
    expect((await A().encKeysGet('SAE_B', { number: 2 })).status).toBe(400);
    expect((await A().encKeysGet('SAE_B', { size: 512 })).status).toBe(400);
    expect((await A().encKeysGet('SAE_B', { size: 128 })).status).toBe(400);
    expect((await A().encKeys('SAE_B', { additional_slave_SAE_IDs: ['SAE_C'] })).status).toBe(400);
  });

  it('the pool refills at the configured key rate', async () => {
    const before = (await A().status('SAE_B')).data!.stored_key_count;
    await sleep(300); // ≥ 300 keys at 1,000 keys/s; a loaded machine only waits longer
    const after = (await A().status('SAE_B')).data!.stored_key_count;
    expect(after).toBeGreaterThan(before + 100);
  });
});
