// Get key (clause 5.3 / 6.2) at the mock: GET and POST forms, defaults, limits, sizes, extensions,
// multicast, exhaustion, the KMS link, and one-time delivery at the master's KME.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMockPair, MESSAGES, type MockPair } from './index.ts';
import { clients, json, keyBytes, STILL_POOL, type Clients } from './test-support.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
let pair: MockPair;
let c: Clients;
beforeAll(async () => {
  pair = await startMockPair({ config: { ...STILL_POOL, kmes: { A: { saes: ['SAE_A', 'SAE_D'] } } }, log: false });
  c = clients(pair);
});
afterEach(() => {
  pair.setLinkUp(true);
});
afterAll(async () => {
  await c.close();
  await pair.stop();
});

const master = () => c.of('SAE_A');

describe('mock KME: Get key, GET form', () => {
  it('no parameters: one key of key_size bits, UUID key_ID, padded standard Base64', async () => {
    const r = await master().encKeysGet('SAE_B');
    expect(r.status).toBe(200);
    expect(r.raw.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(r.data!.keys).toHaveLength(1);
    const k = r.data!.keys[0]!;
    expect(k.key_ID).toMatch(UUID);
    expect(k.key).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(keyBytes(k.key)).toHaveLength(32);
  });

  it('number and size in the query string', async () => {
    const r = await master().encKeysGet('SAE_B', { number: 3, size: 512 });
    expect(r.data!.keys.map((k) => keyBytes(k.key).length)).toEqual([64, 64, 64]);
    expect(new Set(r.data!.keys.map((k) => k.key_ID)).size).toBe(3);
  });

  it('any other query parameter, a repeated one or a non-integer value is a bad request', async () => {
    for (const path of ['enc_keys?additional_slave_SAE_IDs=SAE_C', 'enc_keys?number=1&number=2', 'enc_keys?number=abc', 'enc_keys?size=2.5', 'enc_keys?number=', 'enc_keys?number=-1']) {
      const r = await master().raw({ method: 'GET', path: `/api/v1/keys/SAE_B/${path}` });
      expect(r.status, path).toBe(400);
      expect(json(r).message, path).toEqual(expect.any(String));
    }
  });
});

describe('mock KME: Get key, POST form', () => {
  it('an empty body and {} both mean one key of the default size', async () => {
    const empty = await master().raw({ method: 'POST', path: '/api/v1/keys/SAE_B/enc_keys', body: new Uint8Array(0) });
    expect(empty.status).toBe(200);
    expect((json(empty).keys as unknown[]).length).toBe(1);
    expect((await master().encKeys('SAE_B', {})).data!.keys).toHaveLength(1);
  });

  it('limits: number in [1, max_key_per_request] and integer; size in [min, max]', async () => {
    const cfg = pair.config;
    for (const body of [{ number: 0 }, { number: cfg.max_key_per_request + 1 }, { number: 1.5 }, { number: '2' }, { size: cfg.min_key_size - 8 }, { size: cfg.max_key_size + 8 }, { number: 1e400 }]) {
      const r = await master().raw({ method: 'POST', path: '/api/v1/keys/SAE_B/enc_keys', body: JSON.stringify(body).replace('null', '1e400'), headers: { 'content-type': 'application/json' } });
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    const r = await master().encKeys('SAE_B', { number: cfg.max_key_per_request, size: cfg.min_key_size });
    expect(r.data!.keys).toHaveLength(cfg.max_key_per_request);
  });

  it('sizes that are not a multiple of 8 are served as ceil(size/8) bytes with the unused bits zero', async () => {
    const r = await master().encKeys('SAE_B', { size: 259 });
    const key = keyBytes(r.data!.keys[0]!.key);
    expect(key).toHaveLength(33);
    expect(key[32]! & 0x1f).toBe(0);
    const dec = await c.of('SAE_B').decKeys('SAE_A', [r.data!.keys[0]!.key_ID]);
    expect(dec.data!.keys[0]!.key).toBe(r.data!.keys[0]!.key);
  });

  it('multicast: additional slaves up to max_SAE_ID_count, all registered, none repeated', async () => {
    const ok = await master().encKeys('SAE_B', { additional_slave_SAE_IDs: ['SAE_C'] });
    expect(ok.status).toBe(200);
    const id = ok.data!.keys[0]!.key_ID;
    expect((await c.of('SAE_C').decKeys('SAE_A', [id])).data!.keys[0]!.key).toBe(ok.data!.keys[0]!.key);
    expect((await c.of('SAE_B').decKeys('SAE_A', [id])).data!.keys[0]!.key).toBe(ok.data!.keys[0]!.key);
    expect((await master().encKeys('SAE_B', { additional_slave_SAE_IDs: ['SAE_C', 'SAE_D', 'SAE_A'] })).status).toBe(400);
    expect((await master().encKeys('SAE_B', { additional_slave_SAE_IDs: ['SAE_NOBODY'] })).status).toBe(401);
    expect((await master().encKeys('SAE_B', { additional_slave_SAE_IDs: ['SAE_B'] })).status).toBe(400);
    expect((await master().encKeys('SAE_B', { additional_slave_SAE_IDs: ['SAE_A'] })).status).toBe(400);
  });

  it('a slave attached to the master\'s own KME gets the key there', async () => {
    const r = await master().encKeys('SAE_D');
    expect(r.status).toBe(200);
    const dec = await c.of('SAE_D').decKeys('SAE_A', [r.data!.keys[0]!.key_ID]);
    expect(dec.data!.keys[0]!.key).toBe(r.data!.keys[0]!.key);
  });

  it('extension_mandatory: unsupported → the standard message with details; unmet value → the other message; supported → served', async () => {
    const un = await master().encKeys('SAE_B', { extension_mandatory: [{ abc_route_type: 'direct' }, { qkdh_route_type: 'direct' }] });
    expect(un.status).toBe(400);
    expect(un.error).toEqual({ message: MESSAGES.extensionUnsupported, details: [{ extension_mandatory_unsupported: 'abc_route_type is not supported' }] });
    const unmet = await master().encKeys('SAE_B', { extension_mandatory: [{ qkdh_route_type: 'indirect' }] });
    expect(unmet.status).toBe(400);
    expect((unmet.error as { message: string }).message).toBe(MESSAGES.extensionUnmet);
    expect((await master().encKeys('SAE_B', { extension_mandatory: [{ qkdh_route_type: 'direct', qkdh_transfer_method: 'qkd' }] })).status).toBe(200);
  });

  it('extension_optional is ignored by default', async () => {
    expect((await master().encKeys('SAE_B', { extension_optional: [{ abc_max_age: 30000 }] })).status).toBe(200);
  });

  it('malformed bodies: not JSON, not an object, wrong types, invalid UTF-8', async () => {
    for (const body of ['{', '[]', 'null', '{"number":"x"}', '{"additional_slave_SAE_IDs":"SAE_C"}', '{"extension_mandatory":[1]}', Buffer.from([0x7b, 0xff, 0x7d])]) {
      const r = await master().raw({ method: 'POST', path: '/api/v1/keys/SAE_B/enc_keys', body, headers: { 'content-type': 'application/json' } });
      expect(r.status, String(body)).toBe(400);
      expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(json(r).message).toEqual(expect.any(String));
    }
  });

  it('the path slave: unknown → 401, the caller itself → 400', async () => {
    expect((await master().encKeys('SAE_NOBODY')).status).toBe(401);
    expect((await master().encKeys('SAE_A')).status).toBe(400);
  });
});

describe('mock KME: key delivery', () => {
  it('key_IDs never repeat and keys leave the master KME\'s pool', async () => {
    const seen = new Set<string>();
    const bytes = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const r = await master().encKeys('SAE_B', { number: 20 });
      for (const k of r.data!.keys) {
        seen.add(k.key_ID);
        bytes.add(k.key);
      }
    }
    expect(seen.size).toBe(100);
    expect(bytes.size).toBe(100);
  });

  it('the slave KME returns identical bytes under identical key_IDs, immediately after enc_keys', async () => {
    const r = await master().encKeys('SAE_B', { number: 5, size: 1024 });
    const dec = await c.of('SAE_B').decKeys('SAE_A', r.data!.keys.map((k) => k.key_ID));
    expect(dec.data!.keys).toEqual(r.data!.keys);
  });

  it('the KMS link down → 503 with an Error body, nothing taken; a slave at the same KME still works', async () => {
    const before = pair.instances.A.state.pool.level();
    pair.setLinkUp(false);
    const r = await master().encKeys('SAE_B');
    expect(r.status).toBe(503);
    expect(r.error).toMatchObject({ message: expect.stringContaining('KME_B') });
    expect(pair.instances.A.state.pool.level()).toBe(before);
    expect((await master().encKeys('SAE_D')).status).toBe(200);
  });
});

describe('mock KME: exhaustion', () => {
  it('503 with an Error body when the pool cannot serve the request; smaller requests still work', async () => {
    const small = await startMockPair({ config: { key_rate_per_hour: 0, prefill: 10, max_key_count: 10 }, log: false });
    const cc = clients(small);
    try {
      const big = await cc.of('SAE_A').encKeys('SAE_B', { number: 11 });
      expect(big.status).toBe(503);
      expect(big.raw.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(big.error).toMatchObject({ message: expect.any(String) });
      expect((await cc.of('SAE_A').encKeys('SAE_B', { number: 10 })).status).toBe(200);
      expect((await cc.of('SAE_A').encKeysGet('SAE_B')).status).toBe(503);
      expect((await cc.of('SAE_A').status('SAE_B')).data!.stored_key_count).toBe(0);
      expect((await cc.of('SAE_B').encKeysGet('SAE_A')).status).toBe(503); // the peer's pool is empty too
    } finally {
      await cc.close();
      await small.stop();
    }
  });

  it('the pool refills at the key rate', async () => {
    // 25 keys/s: the pool is full 2 s after start, a margin the first request meets on a loaded machine
    // (at 200/s it had 250 ms); then wait for the cap with a generous deadline instead of a fixed sleep.
    const fast = await startMockPair({ config: { key_rate_per_hour: 3600 * 25, prefill: 0, max_key_count: 50 }, log: false });
    const cc = clients(fast);
    const stored = async () => (await cc.of('SAE_A').status('SAE_B')).data!.stored_key_count;
    try {
      expect(await stored()).toBeLessThan(50);
      for (const end = Date.now() + 30_000; (await stored()) < 50 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 100));
      expect(await stored()).toBe(50); // capped at max_key_count
      expect((await cc.of('SAE_A').encKeys('SAE_B', { number: 50 })).status).toBe(200);
    } finally {
      await cc.close();
      await fast.stop();
    }
  });
});

describe('mock KME: configurable policies', () => {
  it('odd_sizes: reject → the standard message', async () => {
    const p = await startMockPair({ config: { odd_sizes: 'reject' }, log: false });
    const cc = clients(p);
    try {
      const r = await cc.of('SAE_A').encKeys('SAE_B', { size: 260 });
      expect(r.status).toBe(400);
      expect(r.error).toEqual({ message: MESSAGES.sizeMultiple });
      expect((await cc.of('SAE_A').encKeysGet('SAE_B', { size: 257 })).error).toEqual({ message: MESSAGES.sizeMultiple });
    } finally {
      await cc.close();
      await p.stop();
    }
  });

  it('extensions.optional_reply → the standard message for an optional extension not handled', async () => {
    const p = await startMockPair({ config: { extensions: { optional_reply: true } }, log: false });
    const cc = clients(p);
    try {
      const r = await cc.of('SAE_A').encKeys('SAE_B', { extension_optional: [{ abc_max_age: 1 }] });
      expect(r.status).toBe(400);
      expect((r.error as { message: string }).message).toBe(MESSAGES.extensionOptional);
      expect((await cc.of('SAE_A').encKeys('SAE_B', { extension_optional: [{ qkdh_route_type: 'direct' }] })).status).toBe(200);
    } finally {
      await cc.close();
      await p.stop();
    }
  });
});
