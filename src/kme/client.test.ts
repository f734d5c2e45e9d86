// The ETSI 014 client against a small mTLS server inside the test: every method and verb, and one
// distinct, clear error per way the connection can go wrong.
import { createServer, type Server } from 'node:https';
import { createServer as createHttpServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, type TestPki } from '../pki/test-pki.ts';
import type { RawResponse } from './transport.ts';
import { KmeClient } from './client.ts';
import { SaeIdentity, type IdentityOptions } from './identity.ts';
import { KmeTransportError } from './errors.ts';
import { writeMiB } from '../testing/stream.ts';

const KEY = Buffer.alloc(32, 7).toString('base64');
const KEY_ID = 'bc490419-7d60-487f-adc1-4ddcc177c139';
const status = { source_KME_ID: 'KME_A', target_KME_ID: 'KME_B', master_SAE_ID: 'SAE_A', slave_SAE_ID: 'SAE_B', key_size: 256, stored_key_count: 10, max_key_count: 100, max_key_per_request: 8, max_key_size: 1024, min_key_size: 64, max_SAE_ID_count: 0 };

let pki: TestPki;
const servers: Server[] = [];
const seen: Array<{ method: string; url: string; body: string; cn: string }> = [];

function serve(certName: 'good' | 'wrongHost' | 'expired', handler?: Parameters<typeof createServer>[1]): Promise<string> {
  const files = certName === 'good' ? pki.kmes['kme-a']! : certName === 'wrongHost' ? pki.bad.wrongHostKme : pki.bad.expiredKme;
  const server = createServer(
    { cert: readFileSync(files.cert), key: readFileSync(files.key), ca: readFileSync(pki.ca), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    handler ??
      ((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          const cn = (req.socket as TLSSocket).getPeerCertificate().subject?.CN ?? '';
          seen.push({ method: req.method ?? '', url: req.url ?? '', body, cn: String(cn) });
          res.setHeader('content-type', 'application/json');
          if (req.url?.endsWith('/status')) return res.end(JSON.stringify(status));
          if (req.url?.includes('/enc_keys') || req.url?.includes('/dec_keys')) return res.end(JSON.stringify({ keys: [{ key_ID: KEY_ID, key: KEY }] }));
          res.statusCode = 400;
          res.end(JSON.stringify({ message: 'bad request' }));
        });
      }),
  );
  servers.push(server);
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(`https://localhost:${(server.address() as AddressInfo).port}`)));
}

function identity(o: Partial<IdentityOptions> = {}): SaeIdentity {
  return new SaeIdentity({ saeId: 'SAE_A', ca: readFileSync(pki.ca), cert: readFileSync(pki.saes.SAE_A!.cert), key: readFileSync(pki.saes.SAE_A!.key), timeoutMs: 2000, ...o });
}

async function failure(p: Promise<unknown>): Promise<KmeTransportError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KmeTransportError);
  return err as KmeTransportError;
}

beforeAll(async () => {
  pki = await createTestPki(mkdtempSync(join(tmpdir(), 'qkd-pki-')));
});
afterAll(() => {
  for (const s of servers) s.closeAllConnections?.(), s.close();
});

describe('ETSI 014 client: every method and verb over mutual TLS', () => {
  it('performs status, enc_keys (GET, POST) and dec_keys (GET, POST) with typed results', async () => {
    const url = await serve('good');
    const c = new KmeClient(identity({ kmeId: 'KME_A' }), url);
    const st = await c.status('SAE_B');
    expect(st.status).toBe(200);
    expect(st.data?.max_key_per_request).toBe(8);
    const post = await c.encKeys('SAE_B', { number: 1, size: 256, extension_optional: [{ abc_x: 1 }] });
    expect(post.data?.keys[0]?.key_ID).toBe(KEY_ID);
    const get = await c.encKeysGet('SAE_B', { number: 1, size: 256 });
    expect(get.data?.keys).toHaveLength(1);
    const dec = await c.decKeys('SAE_A', [KEY_ID]);
    expect(dec.data?.keys[0]?.key).toBe(KEY);
    const decGet = await c.decKeysGet('SAE_A', KEY_ID);
    expect(decGet.status).toBe(200);
    const calls = seen.slice(-5).map((s) => `${s.method} ${s.url}`);
    expect(calls).toEqual([
      'GET /api/v1/keys/SAE_B/status',
      'POST /api/v1/keys/SAE_B/enc_keys',
      'GET /api/v1/keys/SAE_B/enc_keys?number=1&size=256',
      'POST /api/v1/keys/SAE_A/dec_keys',
      `GET /api/v1/keys/SAE_A/dec_keys?key_ID=${KEY_ID}`,
    ]);
    expect(JSON.parse(seen.at(-2)!.body)).toEqual({ key_IDs: [{ key_ID: KEY_ID }] });
    expect(seen.every((s) => s.cn === 'SAE_A')).toBe(true);
    await c.identity.close();
  });

  it('sends raw requests (any method, path, headers, body bytes) with the same TLS identity', async () => {
    const url = await serve('good');
    const c = new KmeClient(identity(), url);
    const r = await c.raw({ method: 'PATCH', path: '/api/v1/keys/SAE%20B/enc_keys', query: { n: ['1', '2'] }, headers: { 'content-type': 'text/plain' }, body: Buffer.from([0xff, 0xfe, 0x00]) });
    expect(r.status).toBe(200);
    const last = seen.at(-1)!;
    expect(last).toMatchObject({ method: 'PATCH', url: '/api/v1/keys/SAE%20B/enc_keys?n=1&n=2', cn: 'SAE_A' });
    expect(Buffer.from(last.body, 'latin1').length).toBeGreaterThan(0);
    await c.identity.close();
  });

  it('reports a 200 body that violates the spec as a schema error, not a crash', async () => {
    const url = await serve('good', (_req, res) => res.end(JSON.stringify({ keys: [{ key_ID: 1 }] })));
    const c = new KmeClient(identity(), url);
    const r = await c.encKeys('SAE_B');
    expect(r.status).toBe(200);
    expect(r.data).toBeUndefined();
    expect(r.schemaError).toMatch(/keys\.0\.key_ID/);
    await c.identity.close();
  });
});

describe('ETSI 014 client: distinct errors', () => {
  it('no client certificate → rejected by the KME', async () => {
    const url = await serve('good');
    const err = await failure(new KmeClient(identity({ cert: undefined, key: undefined }), url).status('SAE_B'));
    expect(['client-cert-rejected', 'connection-reset']).toContain(err.kind);
    expect(err.message).toMatch(/GET \/api\/v1\/keys\/SAE_B\/status at localhost:\d+/);
  });

  it('an expired client certificate → client-cert-expired', async () => {
    const url = await serve('good');
    const id = identity({ cert: readFileSync(pki.bad.expiredSae.cert), key: readFileSync(pki.bad.expiredSae.key) });
    expect((await failure(new KmeClient(id, url).status('SAE_B'))).kind).toBe('client-cert-expired');
  });

  it('a client certificate from another CA → client-cert-unknown-ca', async () => {
    const url = await serve('good');
    const id = identity({ cert: readFileSync(pki.bad.otherCaSae.cert), key: readFileSync(pki.bad.otherCaSae.key) });
    expect((await failure(new KmeClient(id, url).status('SAE_B'))).kind).toBe('client-cert-unknown-ca');
  });

  it('a server certificate for another host → server-identity-mismatch', async () => {
    const url = await serve('wrongHost');
    expect((await failure(new KmeClient(identity(), url).status('SAE_B'))).kind).toBe('server-identity-mismatch');
  });

  it('a server certificate from another CA → server-cert-untrusted', async () => {
    const url = await serve('good');
    expect((await failure(new KmeClient(identity({ ca: readFileSync(pki.bad.otherCa) }), url).status('SAE_B'))).kind).toBe('server-cert-untrusted');
  });

  it('an expired server certificate → server-cert-expired', async () => {
    const url = await serve('expired');
    expect((await failure(new KmeClient(identity(), url).status('SAE_B'))).kind).toBe('server-cert-expired');
  });

  it('a server certificate without the expected KME ID → kme-id-mismatch, naming the names it carries', async () => {
    const url = await serve('good');
    const err = await failure(new KmeClient(identity({ kmeId: 'KME_B' }), url).status('SAE_B'));
    expect(err.kind).toBe('kme-id-mismatch');
    expect(err.message).toMatch(/does not carry the KME ID KME_B \(it carries CN=KME_A, DNS:localhost, URI:urn:qkd-harness:kme:KME_A, IP:127\.0\.0\.1/);
  });

  it('verifyKmeId: false keeps the expected KME ID but does not refuse a certificate without it', async () => {
    const url = await serve('good');
    const id = identity({ kmeId: 'KME_B', verifyKmeId: false });
    expect(id.kmeId).toBe('KME_B');
    expect((await new KmeClient(id, url).status('SAE_B')).status).toBe(200);
    await id.close();
  });

  it('a host-name mismatch names the names the certificate carries', async () => {
    const url = await serve('wrongHost');
    expect((await failure(new KmeClient(identity(), url).status('SAE_B'))).message).toMatch(/does not match the host name localhost dialled \(it carries CN=KME_WRONG, DNS:kme\.invalid\)/);
  });

  it('a server that never answers → deadline', async () => {
    const url = await serve('good', () => undefined);
    const started = Date.now();
    const err = await failure(new KmeClient(identity({ timeoutMs: 300 }), url).status('SAE_B'));
    expect(err.kind).toBe('deadline');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('a 50 MiB response → response-too-large, without buffering it', async () => {
    const url = await serve('good', (_req, res) => {
      res.setHeader('content-type', 'application/json');
      writeMiB(res, 50, 0x61);
    });
    const err = await failure(new KmeClient(identity({ maxResponseBytes: 1024 * 1024 }), url).encKeys('SAE_B'));
    expect(err.kind).toBe('response-too-large');
    expect(err.message).toMatch(/cap of 1048576 bytes/);
  });

  it('a 50 MiB declared length → response-too-large before reading', async () => {
    const url = await serve('good', (_req, res) => {
      res.writeHead(200, { 'content-length': String(50 * 1024 * 1024) });
      res.write('{');
    });
    expect((await failure(new KmeClient(identity({ maxResponseBytes: 1024 * 1024 }), url).status('SAE_B'))).kind).toBe('response-too-large');
  });

  it('a failure after the response head carries its status and never says "without an answer"', async () => {
    const oversized = await serve('good', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      writeMiB(res, 3, 0x61);
    });
    const big = await failure(new KmeClient(identity({ maxResponseBytes: 1024 * 1024 }), oversized).status('SAE_B'));
    expect(big).toMatchObject({ kind: 'response-too-large', responseStatus: 200 });
    expect(big.message).toMatch(/the KME answered 200, then the response exceeded the cap/);
    const reset = await serve('good', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"keys":', () => res.socket?.destroy());
    });
    const seen: RawResponse[] = [];
    const cut = await failure(new KmeClient(identity(), reset, (r) => seen.push(r)).encKeys('SAE_B'));
    expect(cut).toMatchObject({ kind: 'connection-reset', responseStatus: 200, afterHead: expect.stringMatching(/connection was closed before the body was complete/) });
    // The exchange so far is evidence: the observer sees the request, the head and the body up to the cut.
    expect(seen.map((r) => [r.method, r.status, r.text()])).toEqual([['POST', 200, '{"keys":']]);
    expect(cut.message).not.toMatch(/without an answer|before any HTTP answer|likely cause/);
    const stalled = await serve('good', (_req, res) => {
      res.writeHead(302, { location: '/elsewhere' });
      res.write('x');
    });
    expect(await failure(new KmeClient(identity({ timeoutMs: 300 }), stalled).status('SAE_B'))).toMatchObject({ kind: 'deadline', responseStatus: 302 });
  });

  it('a failure before any response head has no responseStatus', async () => {
    const url = await serve('good');
    const err = await failure(new KmeClient(identity({ cert: undefined, key: undefined }), url).status('SAE_B'));
    expect(err.responseStatus).toBeUndefined();
    expect(err.message).not.toMatch(/answered/);
  });

  it('a plain-HTTP KME needs no TLS material', async () => {
    const server = createHttpServer((_q, r) => r.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(status)));
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const id = new SaeIdentity({ saeId: 'SAE_A', timeoutMs: 2000 });
    const r = await new KmeClient(id, `http://127.0.0.1:${(server.address() as AddressInfo).port}`).status('SAE_B');
    await id.close();
    server.close();
    expect(r.data?.source_KME_ID).toBe('KME_A');
  });

  it('plain HTTP where TLS is expected → protocol', async () => {
    const server = createHttpServer((_q, r) => r.end('{}'));
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const url = `https://localhost:${(server.address() as AddressInfo).port}`;
    const err = await failure(new KmeClient(identity(), url).status('SAE_B'));
    server.close();
    expect(err.kind).toBe('protocol');
  });

  it('a closed port → connection-refused', async () => {
    const server = createHttpServer();
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const port = (server.address() as AddressInfo).port;
    await new Promise((ok) => server.close(ok));
    expect((await failure(new KmeClient(identity(), `https://127.0.0.1:${port}`).status('SAE_B'))).kind).toBe('connection-refused');
  });

  it('TLS 1.1 only → refused locally with a TLS error, never a 2xx', async () => {
    const url = await serve('good');
    const err = await failure(new KmeClient(identity({ minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }), url).status('SAE_B'));
    expect(['tls-protocol', 'connection-reset']).toContain(err.kind);
  });

  it('error text never contains key material', async () => {
    const url = await serve('good', (_req, res) => res.end(JSON.stringify({ keys: [{ key_ID: KEY_ID, key: 42 }], leak: KEY })));
    const r = await new KmeClient(identity(), url).encKeys('SAE_B');
    expect(r.schemaError).toBeDefined();
    expect(r.schemaError).not.toContain(KEY);
  });
});
