// Every deviation switch of mocks/kme/deviations.ts does what it says, and faithful mode does not. One
// pair, switched at run time with setDeviations (as the kill matrix does).
import { readFileSync } from 'node:fs';
import { sha256 } from '@noble/hashes/sha2.js';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { KmeClient } from '../../src/kme/client.ts';
import { SaeIdentity } from '../../src/kme/identity.ts';
import type { RawResponse } from '../../src/kme/transport.ts';
import { fingerprint } from '../../src/secrets/fingerprint.ts';
import { isTransportDeviation, type TransportDeviation } from './deviation-suites.ts';
import { DEVIATION_NAMES, type DeviationName } from './index.ts';
import { deviationPair, json, keyBytes } from './test-support.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const mock = deviationPair({ key_rate_per_hour: 0, prefill: 20000, max_key_count: 20000, slow_answer_ms: 1500 });

const A = () => mock.of('SAE_A');
const B = () => mock.of('SAE_B');
const enc = async (q: { number?: number; size?: number } = {}) => {
  const r = await A().raw({ method: 'GET', path: '/api/v1/keys/SAE_B/enc_keys', query: q });
  expect(r.status).toBe(200);
  return r;
};
const firstKey = (r: { json(): unknown }) => (json(r as never).keys as Array<{ key_ID: string; key: string }>)[0]!;
const statusAtA = () => A().raw({ method: 'GET', path: '/api/v1/keys/SAE_B/status' });

/** A body as JSON, read leniently (invalid UTF-8 replaced), so deviant containers can be inspected too. */
const body = (r: RawResponse) => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;
type Entry = Record<string, unknown> & { key_ID: string };
const entries = (r: RawResponse) => body(r).keys as Entry[];
/** The key bytes of an entry: `key`, or `key_value` under key-member-renamed. */
const bytesOf = (e: Entry) => keyBytes((e.key ?? e.key_value) as string);
/** The key the lane holds for `size` bits at byte `offset` of A's lane (what a faithful A delivers there). */
const laneKey = (offset: number, size: number) => mock.pair().instances.A.state.lane.key(offset, size);
const cursorA = () => mock.pair().instances.A.state.cursor;

/** SHA-256(seed) ‖ SHA-256(that block) ‖ … cut to `length` bytes (stated independently of the mock's code). */
function hashChain(seed: Uint8Array, length: number): Buffer {
  const blocks: Uint8Array[] = [];
  for (let b = seed; blocks.length * 32 < length; ) blocks.push((b = sha256(b)));
  return Buffer.concat(blocks).subarray(0, length);
}
/** The first `bits` bits of `b`, the rest of the last byte zero. */
const mask = (b: Buffer, bits: number) => {
  const out = Buffer.from(b);
  if (bits % 8) out[out.length - 1]! &= (0xff << (8 - (bits % 8))) & 0xff;
  return out;
};

/** The slave collects the keys of `r` at B: same key_IDs, same bytes (compared by fingerprint). */
async function sameAtSlave(r: RawResponse): Promise<void> {
  const mine = entries(r);
  const got = await B().raw({ method: 'POST', path: '/api/v1/keys/SAE_A/dec_keys', body: { key_IDs: mine.map((e) => ({ key_ID: e.key_ID })) } });
  expect(got.status).toBe(200);
  const view = (es: Entry[]) => es.map((e) => `${e.key_ID} ${fingerprint(bytesOf(e))}`);
  expect(view(entries(got))).toEqual(view(mine));
}

/** Status at A over a connection with changed TLS settings: the HTTP status, or the transport error kind. */
async function tlsVariant(o: Partial<Parameters<typeof SaeIdentity.fromFiles>[0]>): Promise<number | string | undefined> {
  const id = SaeIdentity.fromFiles({ saeId: 'SAE_A', ca: mock.pair().ca, cert: mock.pair().saes.SAE_A!.cert, key: mock.pair().saes.SAE_A!.key, timeoutMs: 3000, ...o });
  try {
    return await new KmeClient(id, mock.pair().kmes.A.url).status('SAE_B').then(
      (x) => x.status,
      (e: { kind?: string }) => e.kind,
    );
  } finally {
    await id.close();
  }
}

/** For each deviation: `check(on)` asserts the deviant behaviour when on, the standard one when off. */
const CASES: Record<Exclude<DeviationName, TransportDeviation>, (on: boolean) => Promise<void>> = {
  async 'status-bad-member'(on) {
    const s = body(await statusAtA());
    expect(s.target_KME_ID).toBe(on ? 0 : 'KME_B');
    // every other member stays faithful
    expect([s.source_KME_ID, s.master_SAE_ID, s.slave_SAE_ID, s.key_size, s.max_key_size, s.max_SAE_ID_count]).toEqual(['KME_A', 'SAE_A', 'SAE_B', 256, 1024, 2]);
  },
  async 'null-optional-members'(on) {
    const s = body(await statusAtA());
    expect('status_extension' in s).toBe(on);
    if (on) expect(s.status_extension).toBeNull();
    const r = await enc({ number: 3, size: 512 });
    expect('key_container_extension' in body(r)).toBe(on);
    if (on) expect(body(r).key_container_extension).toBeNull();
    expect(entries(r)).toHaveLength(3);
    for (const e of entries(r)) {
      expect(Object.keys(e).sort()).toEqual(on ? ['key', 'key_ID', 'key_ID_extension', 'key_extension'] : ['key', 'key_ID']);
      if (on) expect([e.key_ID_extension, e.key_extension]).toEqual([null, null]);
      expect(bytesOf(e)).toHaveLength(64);
    }
    await sameAtSlave(r);
    const refused = body(await A().raw({ method: 'GET', path: '/api/v1/keys/SAE_B/enc_keys', query: { number: 0 } }));
    expect(refused).toEqual(on ? { message: expect.any(String), details: null } : { message: expect.any(String) });
  },
  async 'status-count-random'(on) {
    // The pool neither refills (key_rate_per_hour 0) nor is drawn from here: a faithful count stays put.
    const counts: number[] = [];
    for (let i = 0; i < 8; i++) counts.push(body(await statusAtA()).stored_key_count as number);
    for (const n of counts) expect(Number.isInteger(n) && n >= 0 && n <= 20000).toBe(true);
    expect(new Set(counts).size > 1).toBe(on);
    if (!on) expect(counts[0]).toBe(mock.pair().instances.A.state.pool.keys(256));
  },
  async 'invalid-utf8'(on) {
    const r = await enc({ number: 2 });
    expect(r.body.includes(Buffer.from([0xc3, 0x28]))).toBe(on);
    const strict = () => new TextDecoder('utf-8', { fatal: true }).decode(r.body);
    if (on) expect(strict).toThrow(TypeError);
    else expect(strict).not.toThrow();
    expect(typeof (body(r).key_container_extension as { vendor_note?: unknown } | undefined)?.vendor_note).toBe(on ? 'string' : 'undefined');
    expect(entries(r).map((e) => bytesOf(e).length)).toEqual([32, 32]);
    await sameAtSlave(r);
  },
  async 'key-member-renamed'(on) {
    const r = await enc();
    const [e] = entries(r);
    expect(Object.keys(e!).sort()).toEqual(on ? ['key_ID', 'key_value'] : ['key', 'key_ID']);
    expect(bytesOf(e!)).toHaveLength(32);
    await sameAtSlave(r);
  },
  async 'drop-uncollected-keys'(on) {
    const forC = firstKey(await A().raw({ method: 'GET', path: '/api/v1/keys/SAE_C/enc_keys' }));
    const k1 = firstKey(await enc());
    const k2 = firstKey(await enc());
    expect((await B().decKeysGet('SAE_A', k2.key_ID)).status).toBe(200);
    expect((await B().decKeysGet('SAE_A', k1.key_ID)).status).toBe(on ? 400 : 200);
    // only the keys waiting for the same slave are dropped
    expect((await mock.of('SAE_C').decKeysGet('SAE_A', forC.key_ID)).status).toBe(200);
  },
  async 'key-from-key-id'(on) {
    const at = cursorA();
    const r = await enc({ number: 2, size: 520 });
    entries(r).forEach((e, i) => {
      expect(bytesOf(e).equals(hashChain(Buffer.from(e.key_ID, 'utf8'), 65))).toBe(on);
      expect(bytesOf(e).equals(laneKey(at + i * 65, 520))).toBe(!on);
    });
    const odd = await enc({ size: 260 });
    const e = entries(odd)[0]!;
    expect(bytesOf(e).equals(mask(hashChain(Buffer.from(e.key_ID, 'utf8'), 33), 260))).toBe(on);
    await sameAtSlave(r);
    await sameAtSlave(odd);
  },
  async 'key-prefix-extended'(on) {
    const r = await enc({ number: 2, size: 1024 });
    for (const e of entries(r)) expect(bytesOf(e).subarray(32).equals(hashChain(bytesOf(e).subarray(0, 32), 96))).toBe(on);
    const odd = await enc({ size: 300 }); // 38 bytes: 32 random, 44 bits of chain
    const b = bytesOf(entries(odd)[0]!);
    expect(b.subarray(32).equals(mask(hashChain(b.subarray(0, 32), 6), 44))).toBe(on);
    // up to 256 bits the lane's own bytes, switch or not
    const at = cursorA();
    const small = await enc({ number: 2 });
    expect(entries(small).map((e, i) => bytesOf(e).equals(laneKey(at + i * 32, 256)))).toEqual([true, true]);
    await sameAtSlave(r);
    await sameAtSlave(odd);
  },
  async 'key-chained'(on) {
    // One request of 10 keys, then 10 single-key requests: the chain runs across requests. The chain
    // restarts every 64 same-size slots of the lane, so at most one of these 19 links is missing.
    const first = await enc({ number: 10 });
    const singles = [];
    for (let i = 0; i < 10; i++) singles.push(await enc());
    const keys = [...entries(first), ...singles.flatMap(entries)].map(bytesOf);
    const links = keys.slice(1).filter((k, i) => k.equals(hashChain(keys[i]!, 32))).length;
    if (on) expect(links).toBeGreaterThanOrEqual(18);
    else expect(links).toBe(0);
    const long = await enc({ number: 5, size: 520 });
    const longKeys = entries(long).map(bytesOf);
    const longLinks = longKeys.slice(1).filter((k, i) => k.equals(hashChain(longKeys[i]!, 65))).length;
    if (on) expect(longLinks).toBeGreaterThanOrEqual(3);
    else expect(longLinks).toBe(0);
    await sameAtSlave(first);
    await sameAtSlave(long);
  },
  async 'biased-keys'(on) {
    const r = await enc({ number: 40 }); // 10,240 bits
    const bits = entries(r).map(bytesOf);
    const n = bits.length * 256;
    let ones = 0;
    for (const k of bits) for (const byte of k) for (let x = byte; x; x &= x - 1) ones++;
    // NIST SP 800-22 §2.1 monobit: p = erfc(|S|/√(2n)) < 10⁻⁶ ⇔ |S|/√n > 4.8916
    const sObs = Math.abs(2 * ones - n) / Math.sqrt(n);
    expect(sObs > 4.8916).toBe(on);
    if (on) expect(ones / n).toBeGreaterThan(0.7);
    await sameAtSlave(r);
  },
  async 'non-uuid-key-ids-large'(on) {
    // a default single-key request, with or without the explicit default size, stays faithful
    expect(UUID.test(firstKey(await enc()).key_ID)).toBe(true);
    expect(UUID.test(firstKey(await enc({ number: 1, size: 256 })).key_ID)).toBe(true);
    expect(entries(await enc({ number: 2 })).map((e) => UUID.test(e.key_ID))).toEqual([!on, !on]);
    const big = await enc({ size: 512 });
    expect(UUID.test(firstKey(big).key_ID)).toBe(!on);
    await sameAtSlave(big);
  },
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
    const r = await mock.of('SAE_C', 'A').raw({ method: 'GET', path: '/api/v1/keys/SAE_B/status' });
    expect(r.status).toBe(401);
    expect(r.headers['content-type']).toBe(on ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8');
    expect(r.text().startsWith('<!DOCTYPE html>')).toBe(on);
  },
  async 'status-sae-ids-swapped'(on) {
    const s = (await A().status('SAE_B')).data!;
    expect([s.master_SAE_ID, s.slave_SAE_ID]).toEqual(on ? ['SAE_B', 'SAE_A'] : ['SAE_A', 'SAE_B']);
  },
  async 'plain-http'(on) {
    const plain = request(`http://127.0.0.1:${mock.pair().kmes.A.port}/api/v1/keys/SAE_B/status`, { headers: { 'x-sae-id': 'SAE_A' }, headersTimeout: 2000, bodyTimeout: 2000 }).then(
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
    const none = mock.withFiles('nobody', 'A');
    const other = mock.withFiles('SAE_A', 'A', mock.pair().pki.bad.otherCaSae.cert, mock.pair().pki.bad.otherCaSae.key);
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
    const quick = new KmeClient(SaeIdentity.fromFiles({ saeId: 'SAE_A', ca: mock.pair().ca, cert: mock.pair().saes.SAE_A!.cert, key: mock.pair().saes.SAE_A!.key, timeoutMs: 700 }), mock.pair().kmes.A.url);
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
    expect((await mock.of('SAE_C').decKeysGet('SAE_A', k.key_ID)).status).toBe(on ? 200 : 401);
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
    const pool = mock.pair().instances.A.state.pool;
    const level = pool.level();
    pool.tryTake(level);
    try {
      const r = await A().encKeysGet('SAE_B');
      expect(r.status).toBe(on ? 404 : 503);
      // The link-down 503 is not "exhaustion": it stays 503.
      pool.give(level);
      mock.pair().setLinkUp(false);
      expect((await A().encKeysGet('SAE_B')).status).toBe(503);
    } finally {
      mock.pair().setLinkUp(true);
      if (pool.level() < level) pool.give(level);
    }
  },
};

describe('mock KME deviation switches', () => {
  // The transport, authorisation and stall switches are shown in deviations-transport.test.ts.
  const here = DEVIATION_NAMES.filter((n): n is keyof typeof CASES => !isTransportDeviation(n));
  it('every deviation name has a case here (and no case names an unknown one)', () => {
    expect(Object.keys(CASES).sort()).toEqual([...here].sort());
  });

  for (const name of here) {
    it(`${name}: faithful mode does not show it; the switch does; switching back restores the standard behaviour`, async () => {
      await CASES[name](false);
      mock.pair().setDeviations([name]);
      expect(mock.pair().deviations()).toEqual([name]);
      await CASES[name](true);
      mock.pair().setDeviations([]);
      await CASES[name](false);
    });
  }

  it('unknown names are refused', () => {
    expect(() => mock.pair().setDeviations(['no-such-thing'])).toThrow(/unknown deviation "no-such-thing"/);
  });

  it('deviations can be combined', async () => {
    mock.pair().setDeviations(['keys-capitalised', 'url-safe-base64']);
    const body = json(await enc());
    expect((body.Keys as Array<{ key: string }>)[0]!.key).not.toMatch(/=/);
  });
});
