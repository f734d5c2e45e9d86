// The mock KME's transport: mutual TLS ≥ 1.2, the SAE ID bindings, capped bodies, answers to broken HTTP,
// and timeouts on every socket.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KmeTransportError } from '../../src/kme/errors.ts';
import { KmeClient } from '../../src/kme/client.ts';
import { SaeIdentity } from '../../src/kme/identity.ts';
import { DRAIN_BYTES, DRAIN_MS } from './body.ts';
import { startMockPair, type MockPair } from './index.ts';
import { clients, json, type Clients } from './test-support.ts';

let pair: MockPair;
let c: Clients;
beforeAll(async () => {
  pair = await startMockPair({ config: { max_body_bytes: 4096, timeouts: { headers_ms: 600, handshake_ms: 600, request_ms: 1500 } }, log: false });
  c = clients(pair);
});
afterAll(async () => {
  await c.close();
  await pair.stop();
});

const port = (url: string): number => Number(new URL(url).port);

async function refused(p: Promise<unknown>): Promise<void> {
  const outcome = await p.then(
    (r) => r,
    (e: unknown) => e,
  );
  expect(outcome).toBeInstanceOf(KmeTransportError);
}

function tlsSocket(o: { cert?: boolean } = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = connect({
      host: '127.0.0.1',
      port: port(pair.kmes.A.url),
      ca: readFileSync(pair.ca),
      servername: 'localhost',
      ...(o.cert === false ? {} : { cert: readFileSync(pair.saes.SAE_A!.cert), key: readFileSync(pair.saes.SAE_A!.key) }),
    });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

function collect(s: TLSSocket | ReturnType<typeof netConnect>, ms = 5000, until?: (data: string) => boolean): Promise<{ data: string; closedAfter: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    let data = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ data, closedAfter: Infinity });
    }, ms);
    s.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      if (until?.(data)) {
        clearTimeout(timer);
        s.destroy();
        resolve({ data, closedAfter: Infinity });
      }
    });
    s.on('error', () => undefined);
    s.once('close', () => {
      clearTimeout(timer);
      resolve({ data, closedAfter: Date.now() - t0 });
    });
  });
}

describe('mock KME transport: mutual TLS', () => {
  it('no client certificate, one from another CA, or an expired one: no answer', async () => {
    const bad = pair.pki.bad;
    await refused(c.withFiles('SAE_A', 'A').status('SAE_B'));
    await refused(c.withFiles('SAE_A', 'A', bad.otherCaSae.cert, bad.otherCaSae.key).status('SAE_B'));
    await refused(c.withFiles('SAE_A', 'A', bad.expiredSae.cert, bad.expiredSae.key).status('SAE_B'));
  });

  it('TLS 1.2 and 1.3 work; TLS 1.1 does not', async () => {
    const files = pair.saes.SAE_A!;
    const id = (v: 'TLSv1.2' | 'TLSv1.3' | 'TLSv1.1') =>
      new KmeClient(SaeIdentity.fromFiles({ saeId: 'SAE_A', ca: pair.ca, cert: files.cert, key: files.key, minVersion: v, maxVersion: v, ...(v === 'TLSv1.1' ? { ciphers: 'DEFAULT@SECLEVEL=0' } : {}), timeoutMs: 3000 }), pair.kmes.A.url);
    for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
      const client = id(v);
      expect((await client.status('SAE_B')).status, v).toBe(200);
      await client.identity.close();
    }
    const old = id('TLSv1.1');
    await refused(old.status('SAE_B'));
    await old.identity.close();
  });

  it('the KME certificate carries the KME ID (the client checks it)', async () => {
    expect((await c.of('SAE_A').status('SAE_B')).status).toBe(200);
    const wrong = new KmeClient(SaeIdentity.fromFiles({ saeId: 'SAE_A', ca: pair.ca, cert: pair.saes.SAE_A!.cert, key: pair.saes.SAE_A!.key, kmeId: 'KME_B' }), pair.kmes.A.url);
    await expect(wrong.status('SAE_B')).rejects.toMatchObject({ kind: 'kme-id-mismatch' });
    await wrong.identity.close();
  });

  it('a TLS connection that never completes its handshake is closed after handshake_ms', async () => {
    const s = netConnect(port(pair.kmes.A.url), '127.0.0.1');
    const r = await collect(s);
    expect(r.closedAfter).toBeLessThan(3000);
  });
});

describe('mock KME transport: SAE ID bindings', () => {
  async function withBinding(config: object, check: (p: MockPair, cc: Clients) => Promise<void>): Promise<void> {
    const p = await startMockPair({ config, log: false });
    const cc = clients(p);
    try {
      await check(p, cc);
    } finally {
      await cc.close();
      await p.stop();
    }
  }

  it('uri: the SAE ID from the URI SAN urn:qkd-harness:sae:<id>', async () => {
    await withBinding({ binding: 'uri' }, async (p, cc) => {
      expect((await cc.of('SAE_A').status('SAE_B')).data!.master_SAE_ID).toBe('SAE_A');
      expect((await cc.withFiles('x', 'A', p.pki.kmes['kme-a']!.cert, p.pki.kmes['kme-a']!.key).status('SAE_B')).status).toBe(401);
    });
  });

  it('uri with another prefix: nobody matches → 401', async () => {
    await withBinding({ binding: 'uri', uri_prefix: 'spiffe://example.org/sae/' }, async (_p, cc) => {
      expect((await cc.of('SAE_A').status('SAE_B')).status).toBe(401);
    });
  });

  it('serial: the PKI\'s serials by default; an explicit table maps any certificate', async () => {
    await withBinding({ binding: 'serial' }, async (_p, cc) => {
      expect((await cc.of('SAE_B').status('SAE_A')).data!.master_SAE_ID).toBe('SAE_B');
    });
    const dir = (await import('node:fs')).mkdtempSync((await import('node:path')).join((await import('node:os')).tmpdir(), 'qkd-mock-serial-'));
    const first = await startMockPair({ pkiDir: dir, log: false });
    const serialC = new X509Certificate(readFileSync(first.saes.SAE_C!.cert)).serialNumber;
    await first.stop();
    const p = await startMockPair({ pkiDir: dir, config: { binding: 'serial', serials: { [serialC.toLowerCase()]: 'SAE_A' } }, log: false });
    const cc = clients(p);
    try {
      expect((await cc.of('SAE_C', 'A').status('SAE_B')).data!.master_SAE_ID).toBe('SAE_A');
      expect((await cc.of('SAE_A').status('SAE_B')).status).toBe(401);
    } finally {
      await cc.close();
      await p.stop();
      (await import('node:fs')).rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('mock KME transport: HTTP', () => {
  it('unknown paths and methods → 400 with an Error body and the JSON content type', async () => {
    const cases: Array<[string, string]> = [
      ['GET', '/'],
      ['GET', '/api/v1/keys/SAE_B'],
      ['GET', '/api/v1/keys/SAE_B/status/'],
      ['GET', '/api/v1/keys//status'],
      ['GET', '/api/v2/keys/SAE_B/status'],
      ['GET', '/api/v1/keys/%E0%A4%A/status'],
      ['DELETE', '/api/v1/keys/SAE_B/enc_keys'],
      ['PUT', '/api/v1/keys/SAE_A/dec_keys'],
      ['OPTIONS', '/api/v1/keys/SAE_B/status'],
      ['PATCH', '/api/v1/keys/SAE_B/enc_keys'],
    ];
    for (const [method, path] of cases) {
      const r = await c.of('SAE_A').raw({ method, path });
      expect(r.status, `${method} ${path}`).toBe(400);
      expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(json(r).message).toEqual(expect.any(String));
    }
    const head = await c.of('SAE_A').raw({ method: 'HEAD', path: '/api/v1/keys/SAE_B/status' });
    expect(head.status).toBe(400);
  });

  it('URL-encoded SAE IDs in the path are decoded', async () => {
    const r = await c.of('SAE_A').raw({ method: 'GET', path: '/api/v1/keys/SAE%5FB/status' });
    expect(json(r).slave_SAE_ID).toBe('SAE_B');
  });

  it('a body over the cap → 400 with an Error body, and the connection closed', async () => {
    const r = await c.of('SAE_A').raw({ method: 'POST', path: '/api/v1/keys/SAE_B/enc_keys', body: Buffer.alloc(3000, 0x20) });
    expect(r.status).toBe(200); // under the cap: whitespace only = empty = {}
    const s = await tlsSocket();
    const done = collect(s);
    s.write('POST /api/v1/keys/SAE_B/enc_keys HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
    s.write(`2000\r\n${' '.repeat(0x2000)}\r\n`);
    const out = await done;
    expect(out.data).toMatch(/^HTTP\/1\.1 400 /);
    expect(out.data).toMatch(/content-type: application\/json; charset=utf-8/i);
    expect(out.data).toMatch(/connection: close/i);
    expect(out.data).toContain('exceeds the limit of 4096 bytes');
    expect(out.closedAfter).toBeLessThan(5000);
  });

  it('a declared length above what is drained is refused before reading', async () => {
    const s = await tlsSocket();
    const done = collect(s);
    s.write(`POST /api/v1/keys/SAE_B/enc_keys HTTP/1.1\r\nHost: x\r\nContent-Length: ${DRAIN_BYTES + 1}\r\n\r\n{`);
    const out = await done;
    expect(out.data).toMatch(/^HTTP\/1\.1 400 /);
    expect(out.closedAfter).toBeLessThan(DRAIN_MS);
  });

  it('an oversized body sent in full is read to its end, so the 400 always reaches the client (no reset race)', async () => {
    // 2 MiB, as conformance qkd014/5/4 sends: answering mid-upload and closing would reset the connection.
    for (let i = 0; i < 5; i++) {
      const r = await c.of('SAE_A').raw({ method: 'POST', path: '/api/v1/keys/SAE_B/enc_keys', headers: { 'content-type': 'application/json' }, body: Buffer.alloc(2 * 1024 * 1024, 0x20) });
      expect(r.status).toBe(400);
      expect(json(r).message).toContain('exceeds the limit');
    }
  });

  it('garbage instead of HTTP → 400 with an Error body, connection closed', async () => {
    const s = await tlsSocket();
    const done = collect(s);
    s.write('\x00\x01 NOT HTTP\r\n\r\n');
    const out = await done;
    expect(out.data).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(out.data).toContain('{"message":');
  });

  it('headers that never finish are cut off after headers_ms (no 408: a 400)', async () => {
    const s = await tlsSocket();
    const done = collect(s);
    s.write('GET /api/v1/keys/SAE_B/status HTTP/1.1\r\nHost: x\r\n');
    const out = await done;
    expect(out.closedAfter).toBeLessThan(4000);
    expect(out.data === '' || /^HTTP\/1\.1 400 /.test(out.data)).toBe(true);
  });

  it('keep-alive: many requests over one connection', async () => {
    const s = await tlsSocket();
    const done = collect(s, 3000, (d) => (d.match(/HTTP\/1\.1 200 OK/g) ?? []).length === 3);
    for (let i = 0; i < 3; i++) s.write('GET /api/v1/keys/SAE_B/status HTTP/1.1\r\nHost: x\r\n\r\n');
    const out = await done;
    expect(out.data.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(3);
  });
});

describe('mock KME transport: a refused client is told why (in the log)', () => {
  let p: MockPair;
  let cc: Clients;
  const lines: string[] = [];
  beforeAll(async () => {
    p = await startMockPair({ config: { timeouts: { handshake_ms: 1500 } }, log: (l) => lines.push(l) });
    cc = clients(p);
  });
  afterAll(async () => {
    await cc.close();
    await p.stop();
  });

  /** The first log line matching `re`, waiting for it (a refusal is logged when the handshake completes). */
  async function logged(re: RegExp): Promise<string> {
    for (let i = 0; i < 250; i++) {
      const hit = lines.find((l) => re.test(l));
      if (hit) return hit;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no log line matches ${re}; lines:\n${lines.join('\n')}`);
  }

  /** A TLS connection to A with these files and version that sends one request; what the client saw. */
  function attempt(files: { cert: string; key: string } | undefined, version: 'TLSv1.2' | 'TLSv1.3'): Promise<{ localPort: number; data: string }> {
    return new Promise((resolve) => {
      const s = connect({ host: '127.0.0.1', port: p.kmes.A.port, ca: readFileSync(p.ca), servername: 'localhost', minVersion: version, maxVersion: version, ...(files ? { cert: readFileSync(files.cert), key: readFileSync(files.key) } : {}) });
      let localPort = 0;
      let data = '';
      const timer = setTimeout(() => s.destroy(), 5000);
      s.once('connect', () => (localPort = s.localPort ?? 0));
      s.once('secureConnect', () => s.write('GET /api/v1/keys/SAE_B/status HTTP/1.1\r\nHost: x\r\n\r\n'));
      s.on('data', (d: Buffer) => (data += d.toString('latin1')));
      s.on('error', () => undefined);
      s.once('close', () => {
        clearTimeout(timer);
        resolve({ localPort, data });
      });
    });
  }

  const iso = (text: string): string => new Date(text).toISOString().replace('.000Z', 'Z');

  it('each bad certificate: no HTTP answer; one log line with the peer address and port, the failed check, subject and validity', async () => {
    const bad = p.pki.bad;
    const cases: Array<[string, { cert: string; key: string } | undefined, RegExp]> = [
      ['no certificate', undefined, /no client certificate was presented/],
      ['another CA', bad.otherCaSae, /UNABLE_TO_VERIFY_LEAF_SIGNATURE \(the certificate is not signed by the CA this KME trusts\); subject "CN=SAE_A, O=qkd-harness test PKI", issuer "CN=qkd-harness other CA/],
      ['expired', bad.expiredSae, /CERT_HAS_EXPIRED \(the certificate has expired\); subject "CN=SAE_A/],
      ['not yet valid', bad.notYetValidSae, /CERT_NOT_YET_VALID \(the certificate is not valid yet\); subject "CN=SAE_A/],
      ['no clientAuth usage', bad.wrongHostKme, /INVALID_PURPOSE \(the certificate is not for TLS client authentication[^)]*\)\); subject "CN=KME_WRONG/],
    ];
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      for (const [what, files, reason] of cases) {
        const seen = await attempt(files, version);
        expect(seen.data, `${what} ${version}`).toBe('');
        expect(seen.localPort).toBeGreaterThan(0);
        const line = await logged(new RegExp(`KME_A TLS client 127\\.0\\.0\\.1:${seen.localPort} refused \\(strict\\): `));
        expect(line, `${what} ${version}`).toMatch(reason);
        expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z KME_A TLS client /); // one timestamp, from the sink
        if (files) {
          const cert = new X509Certificate(readFileSync(files.cert));
          expect(line).toContain(`valid ${iso(cert.validFrom)} – ${iso(cert.validTo)}`);
        }
      }
    }
  });

  it('a failed handshake names the peer and the reason; so does a client that hangs up in the handshake', async () => {
    const old = await new Promise<number>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: p.kmes.A.port, ca: readFileSync(p.ca), minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
      let localPort = 0;
      s.once('connect', () => (localPort = s.localPort ?? 0));
      s.on('error', () => undefined);
      s.once('close', () => resolve(localPort));
    });
    expect(await logged(new RegExp(`TLS handshake from 127\\.0\\.0\\.1:${old} failed \\(strict\\): ERR_SSL_\\w+ \\(`))).toMatch(/protocol/);
    const tcp = netConnect(p.kmes.A.port, '127.0.0.1');
    const localPort = await new Promise<number>((resolve) => tcp.once('connect', () => resolve(tcp.localPort ?? 0)));
    tcp.destroy();
    await logged(new RegExp(`TLS handshake from 127\\.0\\.0\\.1:${localPort} not completed \\(strict\\): the client closed the connection`));
  });

  it('a valid certificate of an SAE not registered at this KME: 401 with an Error body, logged with the SAE', async () => {
    const r = await cc.of('SAE_C', 'A').raw({ method: 'GET', path: '/api/v1/keys/SAE_B/status' });
    expect(r.status).toBe(401);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(json(r).message).toMatch(/not registered at KME_A/);
    await logged(/KME_A GET \/api\/v1\/keys\/SAE_B\/status 401 sae=SAE_C /);
  });
});
