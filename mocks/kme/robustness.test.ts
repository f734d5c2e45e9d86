// Hostile and random traffic against the mock pair (fast-check, seed fixed in vitest.setup.ts): random
// paths, methods, queries and bodies (invalid UTF-8, deep nesting, huge numbers, oversized), raw bytes
// instead of HTTP, concurrent clients. Checked against a model after every answer:
// - only 200, 400, 401 or 503 (503 with an Error body) — never another 5xx, never a crash;
// - enc_keys never repeats a key_ID; dec_keys returns the bytes enc_keys delivered under that key_ID;
// - a key is never delivered twice to the same SAE at one KME, nor to an SAE that was not named;
// - a well-behaved master/slave pair keeps getting keys throughout.
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KmeClient } from '../../src/kme/client.ts';
import type { RawResponse } from '../../src/kme/transport.ts';
import { startMockPair, type MockPair } from './index.ts';
import { clients, type Clients } from './test-support.ts';

let pair: MockPair;
let c: Clients;
beforeAll(async () => {
  pair = await startMockPair({ config: { key_rate_per_hour: 3600 * 2000, prefill: 2000, max_key_count: 2000, timeouts: { headers_ms: 2000, request_ms: 4000 } }, log: false });
  c = clients(pair, 8000);
});
afterAll(async () => {
  await c.close();
  await pair.stop();
});

// ---- the model ----
interface Issued {
  master: string;
  slaves: Set<string>;
  key: string;
}
const issued = new Map<string, Issued>();
const issuedIds: string[] = [];
const delivered = new Set<string>();
const violations: string[] = [];

const REGISTRY: Record<string, 'A' | 'B'> = { SAE_A: 'A', SAE_B: 'B', SAE_C: 'B' };
const IDENTITIES: Array<[string, 'A' | 'B']> = [
  ['SAE_A', 'A'],
  ['SAE_B', 'B'],
  ['SAE_C', 'B'],
  ['SAE_A', 'B'], // not registered there
  ['SAE_C', 'A'],
];

function decodeSegment(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** Checks one answer against the model and updates it. `op`/`pathSae` from the request; `reqBody` as sent. */
function observe(r: RawResponse, who: [string, 'A' | 'B'], op: string | undefined, pathSae: string | undefined, reqBody: unknown): void {
  const [sae, kme] = who;
  const where = `${r.method} ${new URL(r.url).pathname}${new URL(r.url).search.slice(0, 80)} as ${sae}@${kme}`;
  if (![200, 400, 401, 503].includes(r.status)) violations.push(`${where}: status ${r.status}`);
  if (r.method !== 'HEAD' && r.status !== 401 && r.headers['content-type'] !== 'application/json; charset=utf-8') violations.push(`${where}: content-type ${r.headers['content-type']}`);
  if ((r.status === 400 || r.status === 503) && r.method !== 'HEAD' && typeof (r.json() as { message?: unknown } | undefined)?.message !== 'string') violations.push(`${where}: ${r.status} without an Error body`);
  if (r.status !== 200 || (op !== 'enc_keys' && op !== 'dec_keys')) return;
  if (REGISTRY[sae] !== kme) violations.push(`${where}: 200 for an SAE not registered at this KME`);
  const keys = (r.json() as { keys?: Array<{ key_ID: string; key: string }> }).keys ?? [];
  if (op === 'enc_keys') {
    let additional: string[] = [];
    if (typeof reqBody === 'string' || reqBody instanceof Uint8Array) {
      try {
        const parsed = JSON.parse(Buffer.from(reqBody as Uint8Array | string).toString('utf8')) as { additional_slave_SAE_IDs?: unknown };
        if (Array.isArray(parsed?.additional_slave_SAE_IDs)) additional = parsed.additional_slave_SAE_IDs as string[];
      } catch {
        /* GET or empty */
      }
    } else if (reqBody && typeof reqBody === 'object') additional = ((reqBody as { additional_slave_SAE_IDs?: string[] }).additional_slave_SAE_IDs ?? []) as string[];
    for (const k of keys) {
      if (issued.has(k.key_ID)) violations.push(`${where}: key_ID ${k.key_ID} handed out twice by enc_keys`);
      issued.set(k.key_ID, { master: sae, slaves: new Set([pathSae!, ...additional]), key: k.key });
      issuedIds.push(k.key_ID);
    }
  } else {
    for (const k of keys) {
      const i = issued.get(k.key_ID);
      const tag = `${kme}|${sae}|${k.key_ID}`;
      if (!i) violations.push(`${where}: delivered a key_ID enc_keys never gave out`);
      else {
        if (!i.slaves.has(sae)) violations.push(`${where}: delivered a key to ${sae}, not named as slave`);
        if (i.master !== pathSae) violations.push(`${where}: delivered under master ${pathSae}, made for ${i.master}`);
        if (i.key !== k.key) violations.push(`${where}: other bytes than enc_keys delivered`);
      }
      if (delivered.has(tag)) violations.push(`${where}: delivered ${k.key_ID} twice to ${sae} at ${kme}`);
      delivered.add(tag);
    }
  }
}

// ---- traffic ----
const SAE_IDS = ['SAE_A', 'SAE_B', 'SAE_C', 'SAE_X', '', 'SAE%5FB', '%2F', '%E0%A4%A', 'a%00b', '..'];
const OPS = ['status', 'enc_keys', 'dec_keys'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'FOO'];
const weirdNumber = fc.oneof(
  fc.integer({ min: -3, max: 300 }),
  fc.double(),
  fc.constantFrom(1e308, -0, 2 ** 53 + 1, 1.0000000000000002, 1024, 259, 64, 128),
  fc.string({ maxLength: 4 }),
  fc.constant(null),
);
const keyRequest = fc.record(
  {
    number: weirdNumber,
    size: weirdNumber,
    additional_slave_SAE_IDs: fc.oneof(fc.array(fc.constantFrom(...SAE_IDS), { maxLength: 3 }), fc.string()),
    extension_mandatory: fc.oneof(fc.array(fc.dictionary(fc.constantFrom('qkdh_route_type', 'abc_x', '__proto__'), fc.jsonValue()), { maxLength: 2 }), fc.jsonValue()),
    extension_optional: fc.array(fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue()), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 400 }) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 4, arbitrary: keyRequest.map((o) => JSON.stringify(o)) },
  { weight: 2, arbitrary: fc.array(fc.oneof(fc.constantFrom('not-a-key'), fc.nat().map((i) => `#${i}`)), { maxLength: 4 }).map((ids) => ({ key_IDs: ids.map((key_ID) => ({ key_ID })) })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 30_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 10_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`) },
  { weight: 1, arbitrary: fc.constantFrom('{"number": 1e400}', '{"number": 123456789012345678901234567890}', '{"size": 1e-400}', '\ufeff{}', '{"number":1,"number":2}', '{"key_IDs":[{"key_ID":"x"}],"key_IDs":[]}') },
  { weight: 1, arbitrary: fc.integer({ min: 64 * 1024 + 1, max: 256 * 1024 }).map((n) => Buffer.alloc(n, 0x20)) },
);
const queryValue = fc.oneof(fc.integer({ min: -2, max: 300 }).map(String), fc.string({ maxLength: 6 }).map(encodeURIComponent), fc.constantFrom('1e3', '0x10', '99999999999999999999', '', '1.5', '%zz', '%C3%28'));
const query = fc.oneof(fc.constant(''), fc.array(fc.tuple(fc.constantFrom('number', 'size', 'key_ID', 'x', 'additional_slave_SAE_IDs'), queryValue), { maxLength: 4 }).map((ps) => `?${ps.map(([k, v]) => `${k}=${v}`).join('&')}`));
const randomPath = fc.array(fc.oneof(fc.constantFrom('api', 'v1', 'keys', ...OPS, ...SAE_IDS), fc.string({ maxLength: 10 }).map(encodeURIComponent)), { maxLength: 7 }).map((a) => `/${a.join('/')}`);

type Command =
  | { t: 'enc'; who: number; slave: string; extra: string[]; number: number; size: number; post: boolean }
  | { t: 'dec'; who: number; master: string; picks: Array<number | 'unknown'>; post: boolean }
  | { t: 'redeem'; pick: number; slave: number; repeat: boolean; intruder: number | undefined }
  | { t: 'status'; who: number; slave: string }
  | { t: 'garbage'; who: number; method: string; sae: string; op: string | undefined; path: string; query: string; body: unknown }
  | { t: 'raw'; bytes: Uint8Array };

const who = fc.nat({ max: IDENTITIES.length - 1 });
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('enc' as const), who: fc.constantFrom(0, 1, 1, 2, 4), slave: fc.constantFrom('SAE_A', 'SAE_B', 'SAE_C', 'SAE_X'), extra: fc.subarray(['SAE_A', 'SAE_B', 'SAE_C']), number: fc.integer({ min: 1, max: 5 }), size: fc.constantFrom(64, 256, 259, 1024), post: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('dec' as const), who, master: fc.constantFrom('SAE_A', 'SAE_B', 'SAE_C', 'SAE_A', 'SAE_B'), picks: fc.array(fc.oneof({ weight: 5, arbitrary: fc.nat() }, { weight: 1, arbitrary: fc.constant('unknown' as const) }), { minLength: 1, maxLength: 3 }), post: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('redeem' as const), pick: fc.nat(), slave: fc.nat(), repeat: fc.boolean(), intruder: fc.option(who, { nil: undefined, freq: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('status' as const), who, slave: fc.constantFrom(...SAE_IDS) }) },
  {
    weight: 6,
    arbitrary: fc
      .record({ t: fc.constant('garbage' as const), who, method: fc.constantFrom(...METHODS), sae: fc.constantFrom(...SAE_IDS), op: fc.option(fc.constantFrom(...OPS), { nil: undefined }), path: randomPath, query, body })
      .map((g) => (g.op ? { ...g, path: `/api/v1/keys/${g.sae}/${g.op}` } : g)),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('raw' as const), bytes: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.constantFrom('GET /api/v1/keys/SAE_B/status HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', 'GET /\xff\xfe HTTP/1.1\r\n\r\n', 'POST /api/v1/keys/SAE_B/enc_keys HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'GET / HTTP/9.9\r\n\r\n').map((s) => Buffer.from(s, 'latin1'))) }) },
);

function client(i: number): [KmeClient, [string, 'A' | 'B']] {
  const id = IDENTITIES[i]!;
  return [c.of(id[0], id[1]), id];
}

async function send(i: number, req: { method: string; path: string; body?: unknown; headers?: Record<string, string> }, op: string | undefined, pathSae: string | undefined): Promise<void> {
  const [cl, id] = client(i);
  let r: RawResponse;
  try {
    r = await cl.raw({ ...req, body: req.body as never });
  } catch (err) {
    // Transport failures are acceptable for hostile requests (e.g. the KME closed on an oversized body).
    if (!(err instanceof Error) || err.name !== 'KmeTransportError') violations.push(`${req.method} ${req.path}: ${String(err)}`);
    return;
  }
  observe(r, id, op, pathSae, req.body);
}

async function rawBytes(bytes: Uint8Array): Promise<void> {
  const answer = await new Promise<string>((resolve) => {
    const s = connect({ host: '127.0.0.1', port: pair.kmes.B.port, ca: readFileSync(pair.ca), cert: readFileSync(pair.saes.SAE_B!.cert), key: readFileSync(pair.saes.SAE_B!.key), servername: 'localhost' });
    let data = '';
    const timer = setTimeout(() => s.destroy(), 3000);
    s.once('secureConnect', () => s.end(bytes));
    s.on('data', (d: Buffer) => (data += d.toString('latin1')));
    s.on('error', () => undefined);
    s.once('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
  });
  if (answer !== '' && !/^HTTP\/1\.1 (200|400|401|503) /.test(answer)) violations.push(`raw bytes: answered ${JSON.stringify(answer.slice(0, 40))}`);
}

async function execute(cmd: Command): Promise<void> {
  switch (cmd.t) {
    case 'enc': {
      const path = `/api/v1/keys/${cmd.slave}/enc_keys`;
      const extra = cmd.extra.filter((s) => s !== cmd.slave);
      const req = cmd.post || extra.length ? { method: 'POST', path, body: { number: cmd.number, size: cmd.size, ...(extra.length ? { additional_slave_SAE_IDs: extra } : {}) } } : { method: 'GET', path: `${path}?number=${cmd.number}&size=${cmd.size}` };
      return send(cmd.who, req, 'enc_keys', cmd.slave);
    }
    case 'dec': {
      const ids = cmd.picks.map((p) => (p === 'unknown' || issuedIds.length === 0 ? '6b1e7a33-0000-4000-8000-000000000000' : issuedIds[issuedIds.length - 1 - (p % Math.min(issuedIds.length, 12))]!));
      const path = `/api/v1/keys/${cmd.master}/dec_keys`;
      const req = cmd.post || ids.length > 1 ? { method: 'POST', path, body: { key_IDs: [...new Set(ids)].map((key_ID) => ({ key_ID })) } } : { method: 'GET', path: `${path}?key_ID=${encodeURIComponent(ids[0]!)}` };
      return send(cmd.who, req, 'dec_keys', cmd.master);
    }
    case 'redeem': {
      // A named slave redeems a recent key at its own KME (sometimes twice: the replay must fail), or
      // another SAE tries to.
      if (issuedIds.length === 0) return;
      const id = issuedIds[issuedIds.length - 1 - (cmd.pick % Math.min(issuedIds.length, 8))]!;
      const i = issued.get(id)!;
      const slaves = [...i.slaves].filter((s) => REGISTRY[s]);
      if (slaves.length === 0) return;
      const slave = slaves[cmd.slave % slaves.length]!;
      const idx = cmd.intruder ?? IDENTITIES.findIndex(([s, k]) => s === slave && k === REGISTRY[slave]);
      const req = { method: 'GET', path: `/api/v1/keys/${i.master}/dec_keys?key_ID=${id}` };
      await send(idx, req, 'dec_keys', i.master);
      if (cmd.repeat) await send(idx, req, 'dec_keys', i.master);
      return;
    }
    case 'status':
      return send(cmd.who, { method: 'GET', path: `/api/v1/keys/${cmd.slave}/status` }, 'status', cmd.slave);
    case 'garbage': {
      const op = cmd.op && /^\/api\/v1\/keys\/[^/]+\/(status|enc_keys|dec_keys)$/.test(cmd.path) ? cmd.op : undefined;
      return send(cmd.who, { method: cmd.method, path: cmd.path + cmd.query, body: cmd.body, headers: { 'content-type': 'application/json' } }, op, op ? decodeSegment(cmd.sae) : undefined);
    }
    case 'raw':
      return rawBytes(cmd.bytes);
  }
}

/** A master at A and a slave at B doing the right thing, all along. */
async function wellBehaved(stop: { done: boolean }): Promise<{ ok: number; failures: string[] }> {
  const failures: string[] = [];
  let ok = 0;
  while (!stop.done) {
    try {
      const e = await c.of('SAE_A').encKeysGet('SAE_B', { number: 2 });
      if (e.status === 200) {
        const d = await c.of('SAE_B').decKeys('SAE_A', e.data!.keys.map((k) => k.key_ID));
        if (d.status !== 200 || JSON.stringify(d.data!.keys) !== JSON.stringify(e.data!.keys)) failures.push(`dec_keys ${d.status}`);
        else ok++;
      } else if (e.status !== 503) failures.push(`enc_keys ${e.status}`);
      const s = await c.of('SAE_B').status('SAE_A');
      if (s.status !== 200) failures.push(`status ${s.status}`);
    } catch (err) {
      failures.push(String(err));
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return { ok, failures };
}

describe('mock KME under hostile traffic', () => {
  it('never crashes, answers only 200/400/401/503, never delivers a key twice or to an SAE not named', async () => {
    const stop = { done: false };
    const steady = wellBehaved(stop);
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.array(command, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 3 }), async (clientsCommands) => {
          violations.length = 0;
          await Promise.all(
            clientsCommands.map(async (cmds) => {
              for (const cmd of cmds) await execute(cmd);
            }),
          );
          expect(violations).toEqual([]);
        }),
        // The model is shared across runs, so shrinking would not give a smaller case: stop at the first one.
        { numRuns: Math.min(60, fc.readConfigureGlobal().numRuns ?? 60), endOnFailure: true },
      );
    } finally {
      stop.done = true;
    }
    const s = await steady;
    expect(s.failures).toEqual([]);
    expect(s.ok).toBeGreaterThan(5);
    expect(issuedIds.length).toBeGreaterThan(20); // the model did see keys
    expect([...delivered].length).toBeGreaterThan(5);
  });

  it('10 MiB bodies from concurrent clients are refused while others keep being served', async () => {
    const stop = { done: false };
    const steady = wellBehaved(stop);
    const huge = Buffer.alloc(10 * 1024 * 1024, 0x7b);
    const outcomes = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        c
          .of(i % 2 ? 'SAE_B' : 'SAE_A')
          .raw({ method: 'POST', path: `/api/v1/keys/${i % 2 ? 'SAE_A' : 'SAE_B'}/enc_keys`, body: huge, headers: { 'content-type': 'application/json' } })
          .then(
            (r) => r.status,
            (e: { kind?: string }) => e.kind,
          ),
      ),
    );
    stop.done = true;
    for (const o of outcomes) expect([400, 'connection-reset', 'network', 'protocol']).toContain(o);
    const s = await steady;
    expect(s.failures).toEqual([]);
    expect(s.ok).toBeGreaterThan(0);
    expect((await c.of('SAE_A').status('SAE_B')).status).toBe(200);
  });
});
