// The transport, authorisation and stall deviation switches (mocks/kme/deviation-suites.ts) do what they
// say, and faithful mode does not: one pair, switched at run time, seen through raw TLS connections where
// the shape of an answer (a head, a cut body, a stall) is the point. Each stall case also checks that the
// mock's timers end with the client's connection.
import { readFileSync } from 'node:fs';
import { connect, type TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { TRANSPORT_DEVIATIONS, type TransportDeviation } from './deviation-suites.ts';
import { startMockPair } from './index.ts';
import { deviationPair } from './test-support.ts';

const mock = deviationPair({ key_rate_per_hour: 0, prefill: 20000, max_key_count: 20000 });

const A = () => mock.of('SAE_A');
const B = () => mock.of('SAE_B');
const oneKey = async (): Promise<{ key_ID: string; key: string }> => {
  const r = await A().encKeysGet('SAE_B');
  expect(r.status).toBe(200);
  return r.data!.keys[0]!;
};

/** What a raw client saw: everything received (latin1), whether the server closed, and the socket (still open unless closed). */
interface Seen {
  data: string;
  closed: boolean;
  socket: TLSSocket;
}

/**
 * One HTTP/1.1 GET at KME A over a fresh TLS connection with these client files (none: no certificate).
 * Collects until `done(data)` says enough, the server closes, or `ms` passes; the socket is left open
 * unless the server closed it (the caller destroys it).
 */
function rawGet(path: string, files: { cert: string; key: string } | undefined, o: { ms: number; done?: (data: string) => boolean }): Promise<Seen> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: mock.pair().kmes.A.port, ca: readFileSync(mock.pair().ca), servername: 'localhost', ...(files ? { cert: readFileSync(files.cert), key: readFileSync(files.key) } : {}) });
    let data = '';
    let settled = false;
    const finish = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ data, closed, socket });
    };
    const timer = setTimeout(() => finish(false), o.ms);
    socket.once('secureConnect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
    socket.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      if (o.done?.(data)) finish(false);
    });
    socket.on('error', () => undefined);
    socket.once('close', () => finish(true));
  });
}

/** Like rawGet, but only counts the bytes after the first 2 KiB, until `maxBytes` arrived (then it hangs up). */
function rawCount(path: string, files: { cert: string; key: string } | undefined, maxBytes: number): Promise<{ head: string; bytes: number; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: mock.pair().kmes.A.port, ca: readFileSync(mock.pair().ca), servername: 'localhost', ...(files ? { cert: readFileSync(files.cert), key: readFileSync(files.key) } : {}) });
    let head = '';
    let bytes = 0;
    const timer = setTimeout(() => done(false), 20_000);
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ head, bytes, closed });
    };
    socket.once('secureConnect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
    socket.on('data', (d: Buffer) => {
      if (head.length < 2048) head += d.toString('latin1').slice(0, 2048);
      bytes += d.length;
      if (bytes >= maxBytes) done(false);
    });
    socket.on('error', () => undefined);
    socket.once('close', () => done(true));
  });
}

const STATUS = '/api/v1/keys/SAE_B/status';
const ENC = '/api/v1/keys/SAE_B/enc_keys';
const headOf = (data: string): string | undefined => (data.includes('\r\n\r\n') ? data.slice(0, data.indexOf('\r\n\r\n')) : undefined);
const lengthOf = (head: string): number => Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1]);
const bodyOf = (data: string): string => data.slice(data.indexOf('\r\n\r\n') + 4);

/** Waits until no hostile answer of KME A runs any more (its timers end with the connection). */
async function noStallsLeft(): Promise<void> {
  for (let i = 0; i < 250 && mock.pair().instances.A.hostile.active > 0; i++) await new Promise((r) => setTimeout(r, 20));
  expect(mock.pair().instances.A.hostile.active).toBe(0);
}

const unauthenticated = () => [undefined, mock.pair().pki.bad.otherCaSae] as const;

/** For each switch: `check(on)` asserts the deviant behaviour when on, the standard one when off. */
const CASES: Record<TransportDeviation, (on: boolean) => Promise<void>> = {
  async 'unauthenticated-served-oversized'(on) {
    const cap = 8 * 1024 * 1024; // twice the harness's default response cap
    for (const files of unauthenticated()) {
      const seen = await rawCount(STATUS, files, cap);
      if (on) {
        expect(seen.head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
        expect(seen.head).toMatch(/\r\ncontent-type: application\/json; charset=utf-8\r\n/i);
        expect(lengthOf(seen.head)).toBeGreaterThan(cap);
        expect(seen.bytes).toBeGreaterThanOrEqual(cap); // still streaming when the client gave up
      } else {
        expect(seen.head).toBe('');
        expect(seen.closed).toBe(true);
      }
    }
    expect((await A().status('SAE_B')).status).toBe(200); // an authenticated client is served normally
  },
  async 'unauthenticated-served-reset'(on) {
    for (const files of unauthenticated()) {
      const seen = await rawGet(STATUS, files, { ms: 5000 });
      expect(seen.closed).toBe(true);
      if (on) {
        expect(seen.data).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
        expect(bodyOf(seen.data).length).toBeGreaterThan(0);
        expect(bodyOf(seen.data).length).toBeLessThan(lengthOf(headOf(seen.data)!));
      } else expect(seen.data).toBe('');
    }
    expect((await A().status('SAE_B')).status).toBe(200);
  },
  async 'dec-keys-ignores-master'(on) {
    const k = await oneKey();
    const wrong = await B().decKeysGet('SAE_C', k.key_ID);
    expect(wrong.status).toBe(on ? 200 : 400);
    if (on) expect(wrong.data!.keys).toEqual([k]);
    // Consumed when served under the wrong master; still there for the real call when refused.
    expect((await B().decKeysGet('SAE_A', k.key_ID)).status).toBe(on ? 400 : 200);
  },
  async 'master-can-redeem'(on) {
    const k = await oneKey();
    const own = await A().decKeysGet('SAE_A', k.key_ID);
    expect(own.status).toBe(on ? 200 : 401);
    if (on) {
      expect(own.data!.keys).toEqual([k]);
      expect((await A().decKeysGet('SAE_A', k.key_ID)).status).toBe(400); // consumed at A
    }
    expect((await B().decKeysGet('SAE_A', k.key_ID)).data!.keys).toEqual([k]); // B's copy is the slave's
  },
  async 'unknown-slave-served'(on) {
    const s = await A().status('SAE_NOBODY');
    expect(s.status).toBe(on ? 200 : 401);
    if (on) expect(s.data!.slave_SAE_ID).toBe('SAE_NOBODY');
    const r = await A().encKeysGet('SAE_NOBODY', { number: 2 });
    expect(r.status).toBe(on ? 200 : 401);
    if (on) expect(r.data!.keys).toHaveLength(2);
  },
  async 'stall-body'(on) {
    const seen = await rawGet(ENC, mock.pair().saes.SAE_A, { ms: on ? 2500 : 10_000, done: (d) => /\r\n0\r\n\r\n$|"keys":\[.*\]\}$/.test(d) });
    seen.socket.destroy();
    expect(seen.data).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const body = bodyOf(seen.data);
    if (on) {
      expect(headOf(seen.data)).toMatch(/\r\ntransfer-encoding: chunked/i);
      expect(body).not.toMatch(/\r\n0\r\n\r\n$/); // no last chunk: the body has not ended
      expect(body.length).toBeLessThan(200); // a byte a second, not the container
    } else expect(JSON.parse(body).keys).toHaveLength(1);
    await noStallsLeft();
    expect((await A().status('SAE_B')).status).toBe(200); // Status is not stalled
  },
  async 'lying-content-length'(on) {
    const seen = await rawGet(ENC, mock.pair().saes.SAE_A, { ms: on ? 2500 : 10_000, done: (d) => headOf(d) !== undefined && bodyOf(d).length >= lengthOf(headOf(d)!) });
    seen.socket.destroy();
    const head = headOf(seen.data)!;
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const body = bodyOf(seen.data);
    expect(JSON.parse(body).keys).toHaveLength(1); // the whole container arrived …
    if (on) {
      expect(lengthOf(head)).toBeGreaterThan(Buffer.byteLength(body, 'latin1')); // … but more was promised
      expect(seen.closed).toBe(false); // and the connection stays open, idle
    } else expect(lengthOf(head)).toBe(Buffer.byteLength(body, 'latin1'));
    expect((await A().status('SAE_B')).status).toBe(200);
  },
  async 'slow-headers'(on) {
    const seen = await rawGet(ENC, mock.pair().saes.SAE_A, { ms: on ? 5000 : 10_000, done: (d) => headOf(d) !== undefined });
    seen.socket.destroy();
    if (on) {
      expect(headOf(seen.data)).toBeUndefined();
      expect(seen.data.length).toBeGreaterThan(0); // the head has begun …
      expect('HTTP/1.1 200 OK\r\n'.startsWith(seen.data.slice(0, 17))).toBe(true); // … byte by byte
    } else expect(headOf(seen.data)).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    await noStallsLeft();
    expect((await A().status('SAE_B')).status).toBe(200);
  },
};

describe('mock KME transport, authorisation and stall deviation switches', () => {
  it('every switch of deviation-suites.ts has a case here, and no other', () => {
    expect(Object.keys(CASES).sort()).toEqual([...TRANSPORT_DEVIATIONS].sort());
  });

  for (const name of TRANSPORT_DEVIATIONS) {
    it(`${name}: faithful mode does not show it; the switch does; switching back restores the standard behaviour`, async () => {
      await CASES[name](false);
      mock.pair().setDeviations([name]);
      await CASES[name](true);
      mock.pair().setDeviations([]);
      await CASES[name](false);
    });
  }

  it('stop() does not wait for running stalls: their timers are cleared and their connections closed', async () => {
    const p = await startMockPair({ deviations: ['stall-body'], log: false });
    const running = await new Promise<TLSSocket>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: p.kmes.A.port, ca: readFileSync(p.ca), servername: 'localhost', cert: readFileSync(p.saes.SAE_A!.cert), key: readFileSync(p.saes.SAE_A!.key) });
      s.once('secureConnect', () => s.write(`GET ${ENC} HTTP/1.1\r\nHost: x\r\n\r\n`));
      s.once('data', () => resolve(s)); // the head: the stall has begun
      s.on('error', () => undefined);
    });
    expect(p.instances.A.hostile.active).toBe(1);
    const closed = new Promise<void>((ok) => running.once('close', () => ok()));
    await p.stop();
    await closed;
    expect(p.instances.A.hostile.active).toBe(0);
  });
});

describe('plain-http at start-up', () => {
  it('prints http:// URLs, and its profile describes what it serves', async () => {
    const plain = await startMockPair({ deviations: ['plain-http'], log: false });
    try {
      expect([plain.kmes.A.url, plain.kmes.B.url].every((u) => u.startsWith('http://'))).toBe(true);
      expect(readFileSync(plain.profilePath, 'utf8')).toContain('url: http://');
    } finally {
      await plain.stop();
    }
  });
});
