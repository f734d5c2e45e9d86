// Get status (clause 5.2 / 6.1) at the mock: every field right, the count moves, 401 for strangers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockPair, type MockPair } from './index.ts';
import { clients, STILL_POOL, type Clients } from './test-support.ts';

let pair: MockPair;
let c: Clients;
beforeAll(async () => {
  pair = await startMockPair({ config: { ...STILL_POOL, key_size: 352, min_key_size: 64, max_key_size: 2048, max_key_per_request: 32, max_SAE_ID_count: 1 }, log: false });
  c = clients(pair);
});
afterAll(async () => {
  await c.close();
  await pair.stop();
});

describe('mock KME: Get status', () => {
  it('answers every Status field from the configuration, the caller and the path', async () => {
    const r = await c.of('SAE_A').status('SAE_B');
    expect(r.status).toBe(200);
    expect(r.raw.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(r.data).toEqual({
      source_KME_ID: 'KME_A',
      target_KME_ID: 'KME_B',
      master_SAE_ID: 'SAE_A',
      slave_SAE_ID: 'SAE_B',
      key_size: 352,
      stored_key_count: Math.floor((5000 * 352) / 352),
      max_key_count: 10000,
      max_key_per_request: 32,
      max_key_size: 2048,
      min_key_size: 64,
      max_SAE_ID_count: 1,
    });
  });

  it('is symmetric: B answers for its SAEs with itself as source', async () => {
    const r = await c.of('SAE_B').status('SAE_A');
    expect(r.data).toMatchObject({ source_KME_ID: 'KME_B', target_KME_ID: 'KME_A', master_SAE_ID: 'SAE_B', slave_SAE_ID: 'SAE_A' });
    const local = await c.of('SAE_B').status('SAE_C');
    expect(local.data).toMatchObject({ source_KME_ID: 'KME_B', target_KME_ID: 'KME_B' });
  });

  it('stored_key_count moves at both KMEs when keys are taken', async () => {
    const before = (await c.of('SAE_A').status('SAE_B')).data!.stored_key_count;
    const beforeB = (await c.of('SAE_B').status('SAE_A')).data!.stored_key_count;
    expect((await c.of('SAE_A').encKeys('SAE_B', { number: 10 })).status).toBe(200);
    expect((await c.of('SAE_A').status('SAE_B')).data!.stored_key_count).toBe(before - 10);
    expect((await c.of('SAE_B').status('SAE_A')).data!.stored_key_count).toBe(beforeB - 10);
  });

  it('both ends report the same link count; keys for two SAEs of one KME come from that KME\'s own pool (M12)', async () => {
    const count = async (sae: string, slave: string): Promise<number> => (await c.of(sae).status(slave)).data!.stored_key_count;
    const link = async (): Promise<[number, number]> => [await count('SAE_A', 'SAE_B'), await count('SAE_B', 'SAE_A')];
    const [a0, b0] = await link();
    expect(a0).toBe(b0);
    const local0 = await count('SAE_B', 'SAE_C');
    expect((await c.of('SAE_B').encKeys('SAE_C', { number: 7 })).status).toBe(200);
    expect(await link()).toEqual([a0, b0]); // the QKD link was not used
    expect(await count('SAE_B', 'SAE_C')).toBe(local0 - 7);
    expect((await c.of('SAE_B').encKeys('SAE_A', { number: 3 })).status).toBe(200);
    expect(await link()).toEqual([a0 - 3, b0 - 3]);
    // A slave at each KME: the keys cross the link, so the link pays.
    expect((await c.of('SAE_B').encKeys('SAE_C', { number: 2, additional_slave_SAE_IDs: ['SAE_A'] })).status).toBe(200);
    expect(await link()).toEqual([a0 - 5, b0 - 5]);
    expect(await count('SAE_B', 'SAE_C')).toBe(local0 - 7);
  });

  it('401 for a slave registered nowhere, 400 for the caller itself, 401 for an SAE not registered at this KME', async () => {
    expect((await c.of('SAE_A').status('SAE_NOBODY')).status).toBe(401);
    const self = await c.of('SAE_A').status('SAE_A');
    expect(self.status).toBe(400);
    expect(self.error).toMatchObject({ message: expect.any(String) });
    expect((await c.of('SAE_C', 'A').status('SAE_B')).status).toBe(401);
    const kmeCert = c.withFiles('KME_A', 'A', pair.pki.kmes['kme-a']!.cert, pair.pki.kmes['kme-a']!.key);
    const r = await kmeCert.status('SAE_B');
    expect(r.status).toBe(401);
    expect(r.raw.headers['content-type']).toBe('application/json; charset=utf-8');
  });

  it('Status takes GET only: POST is a bad request', async () => {
    const r = await c.of('SAE_A').raw({ method: 'POST', path: '/api/v1/keys/SAE_B/status', body: {} });
    expect(r.status).toBe(400);
    expect(r.json()).toMatchObject({ message: expect.stringContaining('GET') });
  });
});
