// Every deviation switch of mocks/kme/deviations.ts does what it says, and faithful mode does not. One
// pair, switched at run time with setDeviations (as the kill matrix does).
import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KmeClient } from '../../src/kme/client.ts';
import { SaeIdentity } from '../../src/kme/identity.ts';
import { DEVIATION_NAMES, startMockPair, type DeviationName, type MockPair } from './index.ts';
import { clients, json, keyBytes, type Clients } from './test-support.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
let pair: MockPair;
let c: Clients;
beforeAll(async () => {
  pair = await startMockPair({ config: { key_rate_per_hour: 0, prefill: 20000, max_key_count: 20000, slow_answer_ms: 1500 }, log: false });
  c = clients(pair);
});
afterEach(() => pair.setDeviations([]));
afterAll(async () => {
  await c.close();
  await pair.stop();
});

const A = () => c.of('SAE_A');
const B = () => c.of('SAE_B');
const enc = async (q: { number?: number; size?: number } = {}) => {
  const r = await A().raw({ method: 'GET', path: '/api/v1/keys/SAE_B/enc_keys', query: q });
  expect(r.status).toBe(200);
  return r;
};
const firstKey = (r: { json(): unknown }) => (json(r as never).keys as Array<{ key_ID: string; key: string }>)[0]!;

/** Status at A over a connection with changed TLS settings: the HTTP status, or the transport error kind. */
async function tlsVariant(o: Partial<ConstructorParameters<typeof SaeIdentity>[0]>): Promise<number | string | undefined> {
  const id = new SaeIdentity({ saeId: 'SAE_A', ca: readFileSync(pair.ca), cert: readFileSync(pair.saes.SAE_A!.cert), key: readFileSync(pair.saes.SAE_A!.key), timeoutMs: 3000, ...o });
  try {
    return await new KmeClient(id, pair.kmes.A.url).status('SAE_B').then(
      (x) => x.status,
      (e: { kind?: string }) => e.kind,
    );
  } finally {
    await id.close();
  }
}

/** For each deviation: `check(on)` asserts the deviant behaviour when on, the standard one when off. */
const CASES: Record<DeviationName, (on: boolean) => Promise<void>> = {
  async '404-instead-of-400'(on) {
    expect((await A().raw({ method: 'GET', path: '/api/v1/keys/SAE_B/nothing' })).status).toBe(on ? 404 : 400);
    expect((await B().decKeysGet('SAE_A', '00000000-0000-4000-8000-000000000000')).status).toBe(on ? 404 : 400);
  },
  async 'keys-not-removed'(on) {
    const k1 = firstKey(await enc());
    const k2 = firstKey(await enc());
    expect(k1.key_ID === k2.key_ID).toBe(on);
    expect((await B().decKeysGet('SAE_A', k1.key_ID)).status).toBe(200);
    const replay = await B().decKeysGet('SAE_A', k1.key_ID);
    expect(replay.status).toBe(on ? 200 : 400);
    if (on) expect(replay.data!.keys[0]!.key).toBe(k1.key);
  },
  async 'extensions-ignored'(on) {
    expect((await A().encKeys('SAE_B', { extension_mandatory: [{ abc_route_type: 'direct' }] })).status).toBe(on ? 200 : 400);
  },
  async 'get-query-ignored'(on) {
    const r = await enc({ number: 3, size: 512 });
    const keys = json(r).keys as Array<{ key: string }>;
    expect(keys.length).toBe(on ? 1 : 3);
    expect(keyBytes(keys[0]!.key).length).toBe(on ? 32 : 64);
  },
  async 'odd-sizes-rounded-down'(on) {
    expect(keyBytes(firstKey(await enc({ size: 260 })).key).length).toBe(on ? 32 : 33);
  },
  async 'detail-errors'(on) {
    const body = json(await A().raw({ method: 'GET', path: '/api/v1/keys/SAE_B/nothing' }));
    expect('detail' in body).toBe(on);
    expect('message' in body).toBe(!on);
  },
  async 'html-on-401'(on) {
    const r = await c.of('SAE_C', 'A').raw({ method: 'GET', path: '/api/v1/keys/SAE_B/status' });
    expect(r.status).toBe(401);
    expect(r.headers['content-type']).toBe(on ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8');
    expect(r.text().startsWith('<!DOCTYPE html>')).toBe(on);
  },
  async 'status-sae-ids-swapped'(on) {
    const s = (await A().status('SAE_B')).data!;
    expect([s.master_SAE_ID, s.slave_SAE_ID]).toEqual(on ? ['SAE_B', 'SAE_A'] : ['SAE_A', 'SAE_B']);
  },
  async 'plain-http'(on) {
    const plain = request(`http://127.0.0.1:${pair.kmes.A.port}/api/v1/keys/SAE_B/status`, { headers: { 'x-sae-id': 'SAE_A' }, headersTimeout: 2000, bodyTimeout: 2000 }).then(
      async (r) => ({ status: r.statusCode, body: await r.body.text() }),
      () => undefined,
    );
    const tls = A()
      .status('SAE_B')
      .then(
        (r) => r.status,
        () => undefined,
      );
    const [p, t] = await Promise.all([plain, tls]);
    expect(p?.status).toBe(on ? 200 : undefined);
    expect(t).toBe(on ? undefined : 200);
    if (on) expect(JSON.parse(p!.body).master_SAE_ID).toBe('SAE_A');
  },
  async 'any-client-cert'(on) {
    const none = c.withFiles('nobody', 'A');
    const other = c.withFiles('SAE_A', 'A', pair.pki.bad.otherCaSae.cert, pair.pki.bad.otherCaSae.key);
    for (const client of [none, other]) {
      const r = await client.status('SAE_B').then(
        (x) => x.status,
        () => undefined,
      );
      expect(r).toBe(on ? 200 : undefined);
    }
    if (on) {
      const viaHeader = await none.raw({ method: 'GET', path: '/api/v1/keys/SAE_A/status', headers: { 'x-sae-id': 'SAE_B' } });
      expect(viaHeader.status).toBe(401); // SAE_B is not registered at A: the header is taken at its word
    }
  },
  async 'wrong-dec-key-bytes'(on) {
    const k = firstKey(await enc());
    const got = (await B().decKeysGet('SAE_A', k.key_ID)).data!.keys[0]!;
    expect(got.key_ID).toBe(k.key_ID);
    expect(got.key === k.key).toBe(!on);
  },
  async 'repeated-key-ids'(on) {
    const k1 = firstKey(await enc());
    const k2 = firstKey(await enc());
    expect(k1.key_ID === k2.key_ID).toBe(on);
    expect(k1.key === k2.key).toBe(false);
  },
  async 'slow-answers'(on) {
    const quick = new KmeClient(new SaeIdentity({ saeId: 'SAE_A', ca: readFileSync(pair.ca), cert: readFileSync(pair.saes.SAE_A!.cert), key: readFileSync(pair.saes.SAE_A!.key), timeoutMs: 700 }), pair.kmes.A.url);
    try {
      const r = await quick.status('SAE_B').then(
        (x) => x.status,
        (e: { kind?: string }) => e.kind,
      );
      expect(r).toBe(on ? 'deadline' : 200);
    } finally {
      await quick.identity.close();
    }
  },
  async 'truncated-json'(on) {
    const r = await enc();
    expect(r.json() === undefined).toBe(on);
  },
  async '500-on-bad-input'(on) {
    const r = await A().raw({ method: 'POST', path: '/api/v1/keys/SAE_B/enc_keys', body: '{"number":', headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(on ? 500 : 400);
    if (on) expect(r.text()).toMatch(/\n\s+at /);
    // Only malformed input: a well-formed request outside the limits stays 400.
    expect((await A().encKeys('SAE_B', { number: 100000 })).status).toBe(400);
  },
  async 'constant-status'(on) {
    const before = (await A().status('SAE_B')).data!.stored_key_count;
    await enc({ number: 10 });
    const after = (await A().status('SAE_B')).data!.stored_key_count;
    expect(after === before).toBe(on);
  },
  async 'keys-capitalised'(on) {
    const body = json(await enc());
    expect(Object.keys(body)).toEqual([on ? 'Keys' : 'keys']);
  },
  async 'no-json-content-type'(on) {
    const r = await enc();
    expect(r.headers['content-type']).toBe(on ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8');
    expect((await A().raw({ method: 'GET', path: '/x' })).headers['content-type']).toBe(on ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8');
  },
  async 'dec-keys-unauthorised'(on) {
    const k = firstKey(await enc());
    expect((await c.of('SAE_C').decKeysGet('SAE_A', k.key_ID)).status).toBe(on ? 200 : 401);
  },
  async 'non-uuid-key-ids'(on) {
    const k = firstKey(await enc());
    expect(UUID.test(k.key_ID)).toBe(!on);
    expect((await B().decKeysGet('SAE_A', k.key_ID)).data!.keys[0]!.key).toBe(k.key); // still consistent
  },
  async 'url-safe-base64'(on) {
    const keys = json(await enc({ number: 20 })).keys as Array<{ key: string }>;
    const all = keys.map((k) => k.key).join('');
    expect(/[+/=]/.test(all)).toBe(!on);
    expect(/[-_]/.test(all)).toBe(on);
  },
  async 'only-256-bits'(on) {
    expect((await A().encKeysGet('SAE_B', { number: 2 })).status).toBe(on ? 400 : 200);
    expect((await A().encKeysGet('SAE_B', { size: 512 })).status).toBe(on ? 400 : 200);
    expect((await A().encKeysGet('SAE_B', { number: 1, size: 256 })).status).toBe(200);
  },
  async 'tls-1.1-accepted'(on) {
    const r = await tlsVariant({ minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    expect(r).toBe(on ? 200 : 'tls-protocol');
  },
  async 'tls-1.3-only'(on) {
    expect(await tlsVariant({ maxVersion: 'TLSv1.2' })).toBe(on ? 'tls-protocol' : 200);
    expect(await tlsVariant({ minVersion: 'TLSv1.3' })).toBe(200);
  },
  async 'kme-cert-mismatch'(on) {
    expect(await tlsVariant({ kmeId: 'KME_A' })).toBe(on ? 'server-identity-mismatch' : 200);
  },
  async 'status-incomplete'(on) {
    const r = await A().status('SAE_B');
    expect(r.data === undefined).toBe(on);
    expect('max_SAE_ID_count' in json(r.raw)).toBe(!on);
  },
  async 'status-kme-ids-swapped'(on) {
    const s = (await A().status('SAE_B')).data!;
    expect([s.source_KME_ID, s.target_KME_ID]).toEqual(on ? ['KME_B', 'KME_A'] : ['KME_A', 'KME_B']);
  },
  async 'status-inconsistent'(on) {
    const s = (await A().status('SAE_B')).data!;
    expect(s.key_size > s.max_key_size).toBe(on);
  },
  async 'exhaustion-404'(on) {
    const pool = pair.instances.A.state.pool;
    const level = pool.level();
    pool.tryTake(level);
    try {
      const r = await A().encKeysGet('SAE_B');
      expect(r.status).toBe(on ? 404 : 503);
      // The link-down 503 is not "exhaustion": it stays 503.
      pool.give(level);
      pair.setLinkUp(false);
      expect((await A().encKeysGet('SAE_B')).status).toBe(503);
    } finally {
      pair.setLinkUp(true);
      if (pool.level() < level) pool.give(level);
    }
  },
};

describe('mock KME deviation switches', () => {
  it('every deviation name has a case here (and no case names an unknown one)', () => {
    expect(Object.keys(CASES).sort()).toEqual([...DEVIATION_NAMES].sort());
  });

  for (const name of DEVIATION_NAMES) {
    it(`${name}: faithful mode does not show it; the switch does; switching back restores the standard behaviour`, async () => {
      await CASES[name](false);
      pair.setDeviations([name]);
      expect(pair.deviations()).toEqual([name]);
      await CASES[name](true);
      pair.setDeviations([]);
      await CASES[name](false);
    });
  }

  it('unknown names are refused', () => {
    expect(() => pair.setDeviations(['no-such-thing'])).toThrow(/unknown deviation "no-such-thing"/);
  });

  it('deviations can be combined', async () => {
    pair.setDeviations(['keys-capitalised', 'url-safe-base64']);
    const body = json(await enc());
    expect((body.Keys as Array<{ key: string }>)[0]!.key).not.toMatch(/=/);
  });
});
