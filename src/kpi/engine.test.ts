// The load engine against the mock KME pair and against servers that misbehave: every exchange ends
// with a Reply (never a throw) within its deadline, bodies are capped, the KME certificate is verified.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockPair, type MockPair } from '../../mocks/kme/index.ts';
import { isOk, LoadEngine, type Endpoint } from './engine.ts';
import { encKeys, flow, readStatus } from './operations.ts';

let pair: MockPair;
let roles: { master: Endpoint; slave: Endpoint };
const servers: Server[] = [];

const ep = (sae: string, url: string, ca = pair.ca): Endpoint => ({ url, saeId: sae, ca: readFileSync(ca), cert: readFileSync(pair.saes[sae]!.cert), key: readFileSync(pair.saes[sae]!.key) });

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  pair = await startMockPair({ config: { key_rate_per_hour: 0, prefill: 5000, max_key_count: 5000 }, log: false });
  roles = { master: ep('SAE_A', pair.kmes.A.url), slave: ep('SAE_B', pair.kmes.B.url) };
});
afterAll(async () => {
  for (const s of servers) s.closeAllConnections(), s.close();
  await pair?.stop();
});

describe('KPI load engine', () => {
  it('warm and cold exchanges with the mock over mutual TLS; the flow delivers the same key_ID at B', async () => {
    const engine = new LoadEngine({ timeoutMs: 5000, maxResponseBytes: 1 << 20, connections: 2 });
    try {
      expect((await readStatus(engine, roles)).stored_key_count).toBe(5000);
      const cold = await engine.send(roles.master, { method: 'GET', path: '/api/v1/keys/SAE_B/status' }, { cold: true });
      expect(isOk(cold)).toBe(true);
      const e = await encKeys(engine, roles, { number: 3, defaultSize: 256 });
      expect(e).toMatchObject({ ok: true, keys: 3, bits: 768 });
      expect(await flow(engine, roles, { defaultSize: 256 })).toMatchObject({ ok: true, keys: 1 });
    } finally {
      await engine.close();
    }
  });

  it('a KME certificate from another CA is refused (no figures from an impostor)', async () => {
    const engine = new LoadEngine({ timeoutMs: 5000, maxResponseBytes: 1 << 20, connections: 1 });
    try {
      const wrongCa = { ...roles.master, ca: readFileSync(pair.saes.SAE_A!.cert) }; // any certificate but the CA
      const r = await engine.send(wrongCa, { method: 'GET', path: '/api/v1/keys/SAE_B/status' });
      expect(r.status).toBe(0);
      expect(r.failure?.kind).toMatch(/server-cert|tls/);
    } finally {
      await engine.close();
    }
  });

  it('a server that never answers ends at the deadline; one that dribbles its head too', async () => {
    const silent = await listen(() => undefined);
    const dribble = await listen((_req, res) => {
      const socket = res.socket!;
      let i = 0;
      const head = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}';
      const t = setInterval(() => (i < head.length ? socket.write(head[i++]!) : clearInterval(t)), 200);
      socket.on('close', () => clearInterval(t));
    });
    const engine = new LoadEngine({ timeoutMs: 600, maxResponseBytes: 1 << 20, connections: 1 });
    try {
      for (const url of [silent, dribble]) {
        const started = performance.now();
        const r = await engine.send({ url, saeId: 'SAE_A' }, { method: 'GET', path: '/x' });
        expect(r.failure?.kind).toBe('deadline');
        expect(performance.now() - started).toBeLessThan(10_000); // a hang guard, not a timing assertion
      }
    } finally {
      await engine.close();
    }
  });

  it('a body over the cap is cut off as response-too-large, declared or not', async () => {
    const declared = await listen((_req, res) => {
      res.writeHead(200, { 'content-length': String(100 * 1024 * 1024) });
      res.write(Buffer.alloc(1024));
    });
    const chunked = await listen((_req, res) => {
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const t = setInterval(() => res.write(chunk), 1);
      res.on('close', () => clearInterval(t));
    });
    const engine = new LoadEngine({ timeoutMs: 5000, maxResponseBytes: 256 * 1024, connections: 1 });
    try {
      for (const url of [declared, chunked]) {
        const r = await engine.send({ url, saeId: 'SAE_A' }, { method: 'GET', path: '/x' }, { keepBody: true });
        expect(r).toMatchObject({ status: 200, failure: { kind: 'response-too-large' } });
        expect(r.body).toBeUndefined();
        expect(r.bytes).toBeLessThan(2 * 1024 * 1024);
      }
    } finally {
      await engine.close();
    }
  });
});
