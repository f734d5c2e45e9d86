// Get key with key IDs (clause 5.4 / 6.4) at the mock: GET and POST, the master in the path, 401 for SAEs
// not named as slave, one-time delivery at each KME, the exact "not found" message, all-or-nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockPair, MESSAGES, type MockPair } from './index.ts';
import { clients, json, STILL_POOL, type Clients } from './test-support.ts';

let pair: MockPair;
let c: Clients;
beforeAll(async () => {
  pair = await startMockPair({ config: STILL_POOL, log: false });
  c = clients(pair);
});
afterAll(async () => {
  await c.close();
  await pair.stop();
});

async function take(n = 1, extra: object = {}): Promise<Array<{ key_ID: string; key: string }>> {
  const r = await c.of('SAE_A').encKeys('SAE_B', { number: n, ...extra });
  expect(r.status).toBe(200);
  return r.data!.keys;
}

describe('mock KME: Get key with key IDs', () => {
  it('GET with one key_ID and POST with many return the master\'s keys', async () => {
    const keys = await take(3);
    const one = await c.of('SAE_B').decKeysGet('SAE_A', keys[0]!.key_ID);
    expect(one.status).toBe(200);
    expect(one.raw.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(one.data!.keys).toEqual([keys[0]]);
    const two = await c.of('SAE_B').decKeys('SAE_A', [keys[2]!.key_ID, keys[1]!.key_ID]);
    expect(two.data!.keys).toEqual([keys[2], keys[1]]);
  });

  it('one-time delivery at the slave KME: a second retrieval is "not found"', async () => {
    const [k] = await take();
    expect((await c.of('SAE_B').decKeysGet('SAE_A', k!.key_ID)).status).toBe(200);
    const again = await c.of('SAE_B').decKeysGet('SAE_A', k!.key_ID);
    expect(again.status).toBe(400);
    expect(again.error).toEqual({ message: MESSAGES.keysNotFound });
  });

  it('the master redeeming its own key at its own KME: 401 (it was not named as slave), and nothing is consumed', async () => {
    const [k] = await take(); // slave at the peer KME
    const r = await c.of('SAE_A').decKeysGet('SAE_A', k!.key_ID);
    expect(r.status).toBe(401);
    expect(r.error).toMatchObject({ message: expect.stringContaining('not named as a slave') });
    expect((await c.of('SAE_B').decKeysGet('SAE_A', k!.key_ID)).data!.keys).toEqual([k]);
    // The same with the slave at the same KME.
    const local = (await c.of('SAE_B').encKeys('SAE_C')).data!.keys[0]!;
    expect((await c.of('SAE_B').decKeysGet('SAE_B', local.key_ID)).status).toBe(401);
    expect((await c.of('SAE_C').decKeysGet('SAE_B', local.key_ID)).data!.keys).toEqual([local]);
  });

  it('the master naming another master, or a key_ID nobody made: "not found" at its KME', async () => {
    const [k] = await take();
    expect((await c.of('SAE_A').decKeysGet('SAE_B', k!.key_ID)).status).toBe(400);
    expect((await c.of('SAE_A').decKeysGet('SAE_A', '00000000-0000-4000-8000-000000000000')).status).toBe(400);
  });

  it('401 for an SAE that was not named as slave; the key stays for the slave', async () => {
    const [k] = await take();
    const r = await c.of('SAE_C').decKeysGet('SAE_A', k!.key_ID);
    expect(r.status).toBe(401);
    expect((await c.of('SAE_B').decKeysGet('SAE_A', k!.key_ID)).status).toBe(200);
  });

  it('401 for an SAE not registered at this KME (the master calling the slave\'s KME)', async () => {
    const [k] = await take();
    expect((await c.of('SAE_A', 'B').decKeysGet('SAE_A', k!.key_ID)).status).toBe(401);
  });

  it('the path names the master: another SAE ID there is "not found"', async () => {
    const [k] = await take();
    for (const path of ['SAE_B', 'SAE_C', 'SAE_NOBODY']) {
      const r = await c.of('SAE_B').decKeysGet(path, k!.key_ID);
      expect(r.status, path).toBe(400);
      expect(r.error).toEqual({ message: MESSAGES.keysNotFound });
    }
    expect((await c.of('SAE_B').decKeysGet('SAE_A', k!.key_ID)).status).toBe(200);
  });

  it('unknown key_IDs → the exact message; a mixed valid/unknown request consumes nothing', async () => {
    const keys = await take(2);
    const mixed = await c.of('SAE_B').decKeys('SAE_A', [keys[0]!.key_ID, '00000000-0000-4000-8000-000000000000']);
    expect(mixed.status).toBe(400);
    expect(mixed.error).toEqual({ message: MESSAGES.keysNotFound });
    const all = await c.of('SAE_B').decKeys('SAE_A', keys.map((k) => k.key_ID));
    expect(all.data!.keys).toEqual(keys);
  });

  it('a request naming a key already delivered consumes nothing either', async () => {
    const keys = await take(2);
    await c.of('SAE_B').decKeysGet('SAE_A', keys[0]!.key_ID);
    expect((await c.of('SAE_B').decKeys('SAE_A', keys.map((k) => k.key_ID))).status).toBe(400);
    expect((await c.of('SAE_B').decKeysGet('SAE_A', keys[1]!.key_ID)).status).toBe(200);
  });

  it('malformed requests: no key_ID, two in GET, other parameters, empty or repeated key_IDs, bad JSON', async () => {
    const [k] = await take();
    const gets = ['dec_keys', 'dec_keys?key_ID=', `dec_keys?key_ID=${k!.key_ID}&key_ID=${k!.key_ID}`, `dec_keys?key_ID=${k!.key_ID}&number=1`];
    for (const path of gets) expect((await c.of('SAE_B').raw({ method: 'GET', path: `/api/v1/keys/SAE_A/${path}` })).status, path).toBe(400);
    for (const body of ['', '{}', '{"key_IDs":[]}', '{"key_IDs":"x"}', `{"key_IDs":[{"key_ID":"${k!.key_ID}"},{"key_ID":"${k!.key_ID}"}]}`, '{"key_IDs":[{"id":1}]}', '[']) {
      const r = await c.of('SAE_B').raw({ method: 'POST', path: '/api/v1/keys/SAE_A/dec_keys', body, headers: { 'content-type': 'application/json' } });
      expect(r.status, body).toBe(400);
      expect(json(r).message).toEqual(expect.any(String));
    }
    expect((await c.of('SAE_B').decKeysGet('SAE_A', k!.key_ID)).status).toBe(200);
  });

  it('several slaves at one KME: each named slave gets the key once (multi_slave_delivery each-slave)', async () => {
    const [k] = await take(1, { additional_slave_SAE_IDs: ['SAE_C'] });
    expect((await c.of('SAE_B').decKeysGet('SAE_A', k!.key_ID)).status).toBe(200);
    expect((await c.of('SAE_B').decKeysGet('SAE_A', k!.key_ID)).status).toBe(400);
    expect((await c.of('SAE_C').decKeysGet('SAE_A', k!.key_ID)).data!.keys).toEqual([k]);
    expect((await c.of('SAE_C').decKeysGet('SAE_A', k!.key_ID)).status).toBe(400);
  });

  it('multi_slave_delivery once: the first retrieval removes the key for every slave there', async () => {
    const p = await startMockPair({ config: { multi_slave_delivery: 'once' }, log: false });
    const cc = clients(p);
    try {
      const k = (await cc.of('SAE_A').encKeys('SAE_B', { additional_slave_SAE_IDs: ['SAE_C'] })).data!.keys[0]!;
      expect((await cc.of('SAE_C').decKeysGet('SAE_A', k.key_ID)).status).toBe(200);
      expect((await cc.of('SAE_B').decKeysGet('SAE_A', k.key_ID)).status).toBe(400);
    } finally {
      await cc.close();
      await p.stop();
    }
  });

  it('B as master and A as slave work the same way', async () => {
    const r = await c.of('SAE_B').encKeysGet('SAE_A', { number: 2 });
    expect(r.status).toBe(200);
    const dec = await c.of('SAE_A').decKeys('SAE_B', r.data!.keys.map((k) => k.key_ID));
    expect(dec.data!.keys).toEqual(r.data!.keys);
  });

  it('concurrent masters at A and B never hand out the same key material', async () => {
    const [a, b] = await Promise.all([c.of('SAE_A').encKeys('SAE_B', { number: 50 }), c.of('SAE_B').encKeys('SAE_A', { number: 50 })]);
    const all = [...a.data!.keys, ...b.data!.keys];
    expect(new Set(all.map((k) => k.key)).size).toBe(100);
    expect(new Set(all.map((k) => k.key_ID)).size).toBe(100);
  });
});
