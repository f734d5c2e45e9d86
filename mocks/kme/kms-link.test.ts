// The KMS↔KMS link over TCP with mutual TLS: identical keys at both ends, 503 while the peer is down,
// reconnection when it is back, refusal of a peer with another link seed or without a KME certificate.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { KmeClient } from '../../src/kme/client.ts';
import { SaeIdentity } from '../../src/kme/identity.ts';
import { startMockKme, startMockPair, type SingleMockKme } from './index.ts';
import { parseHostPort } from './kms-link-tcp.ts';
import { clients } from './test-support.ts';

const SEED = 'a1'.repeat(32);
const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'qkd-mock-link-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const FAST = { timeouts: { link_ack_ms: 1000, link_connect_ms: 500, link_ping_ms: 500 } };

function clientAt(k: SingleMockKme, sae: string): KmeClient {
  const f = k.saes[sae]!;
  return new KmeClient(SaeIdentity.fromFiles({ saeId: sae, ca: k.ca, cert: f.cert, key: f.key, kmeId: k.kmeId, timeoutMs: 5000 }), k.url);
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('KMS↔KMS link over mutual TLS', () => {
  it('a pair linked over TCP gives identical keys', async () => {
    const pair = await startMockPair({ link: 'tcp', log: false });
    const c = clients(pair);
    try {
      const r = await c.of('SAE_A').encKeys('SAE_B', { number: 4 });
      expect(r.status).toBe(200);
      expect((await c.of('SAE_B').decKeys('SAE_A', r.data!.keys.map((k) => k.key_ID))).data!.keys).toEqual(r.data!.keys);
      const back = await c.of('SAE_B').encKeys('SAE_A', { number: 2 }); // reservations flow both ways on one connection
      expect((await c.of('SAE_A').decKeys('SAE_B', back.data!.keys.map((k) => k.key_ID))).data!.keys).toEqual(back.data!.keys);
    } finally {
      await c.close();
      await pair.stop();
    }
  });

  it('two single KMEs: 503 while the peer is down, keys again after it comes back on the same address', async () => {
    const pki = tmp();
    const lines: string[] = [];
    let b = await startMockKme({ name: 'B', pkiDir: pki, config: FAST, link: { listen: '127.0.0.1:0', seed: SEED }, log: false });
    const linkAddress = b.linkAddress!;
    const a = await startMockKme({ name: 'A', pkiDir: pki, config: FAST, link: { peer: linkAddress, seed: SEED }, log: (l) => lines.push(l) });
    const master = clientAt(a, 'SAE_A');
    try {
      await until(() => a.linkUp());
      const r = await master.encKeysGet('SAE_B', { number: 2 });
      expect(r.status).toBe(200);
      let slave = clientAt(b, 'SAE_B');
      expect((await slave.decKeys('SAE_A', r.data!.keys.map((k) => k.key_ID))).data!.keys).toEqual(r.data!.keys);
      await slave.identity.close();

      await b.stop();
      await until(() => !a.linkUp());
      const t0 = Date.now();
      const down = await master.encKeysGet('SAE_B');
      expect(down.status).toBe(503);
      expect(down.error).toMatchObject({ message: expect.stringContaining('KME_B') });
      expect(Date.now() - t0).toBeLessThan(3000);
      expect((await master.status('SAE_B')).status).toBe(200); // status does not need the link

      b = await startMockKme({ name: 'B', pkiDir: pki, config: FAST, link: { listen: linkAddress, seed: SEED }, log: false });
      await until(() => a.linkUp());
      const again = await master.encKeysGet('SAE_B');
      expect(again.status).toBe(200);
      slave = clientAt(b, 'SAE_B');
      expect((await slave.decKeysGet('SAE_A', again.data!.keys[0]!.key_ID)).data!.keys).toEqual(again.data!.keys);
      await slave.identity.close();
      expect(lines.some((l) => /KMS link to KME_B up/.test(l))).toBe(true);
      expect(lines.some((l) => /KMS link to KME_B down/.test(l))).toBe(true);
    } finally {
      await master.identity.close();
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('ends with different link seeds refuse each other', async () => {
    const pki = tmp();
    const lines: string[] = [];
    const b = await startMockKme({ name: 'B', pkiDir: pki, config: FAST, link: { listen: '127.0.0.1:0', seed: SEED }, log: (l) => lines.push(l) });
    const a = await startMockKme({ name: 'A', pkiDir: pki, config: FAST, link: { peer: b.linkAddress, seed: 'b2'.repeat(32) }, log: false });
    const master = clientAt(a, 'SAE_A');
    try {
      await until(() => lines.some((l) => /different link secret/.test(l)));
      expect(a.linkUp()).toBe(false);
      expect((await master.encKeysGet('SAE_B')).status).toBe(503);
    } finally {
      await master.identity.close();
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('the link listener accepts only KME certificates of the peer', async () => {
    const pki = tmp();
    const lines: string[] = [];
    const b = await startMockKme({ name: 'B', pkiDir: pki, config: FAST, link: { listen: '127.0.0.1:0', seed: SEED }, log: (l) => lines.push(l) });
    try {
      const at = parseHostPort(b.linkAddress!, 'link');
      const closed = await new Promise<string>((resolve) => {
        const s = connect({ host: at.host, port: at.port, ca: readFileSync(b.ca), cert: readFileSync(b.saes.SAE_A!.cert), key: readFileSync(b.saes.SAE_A!.key), checkServerIdentity: () => undefined });
        let data = '';
        s.on('data', (d: Buffer) => (data += d.toString()));
        s.on('error', () => undefined);
        s.on('close', () => resolve(data));
      });
      expect(closed).toBe('');
      expect(lines.some((l) => /does not carry the KME ID KME_A/.test(l))).toBe(true);
    } finally {
      await b.stop();
    }
  });

  it('a single KME needs the link seed', async () => {
    await expect(startMockKme({ name: 'A', pkiDir: tmp(), log: false })).rejects.toThrow(/--link-seed/);
  });
});
