// The lab's run-time fault control file (`mock --faults-file`): read on change only, acknowledged with
// its id, a missing or malformed file is no fault (logged once); and a single KME under it — `hang`
// leaves requests unanswered with the connection open past every idle timeout, `unavailable` answers
// enc_keys 503 with the empty-pool Error body while dec_keys still serves shared keys.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KmeClient } from '../../src/kme/client.ts';
import { SaeIdentity } from '../../src/kme/identity.ts';
import { ackPath, FaultsFile, writeAtomic, type FaultsAck } from './faults-file.ts';
import { startMockKme, type SingleMockKme } from './index.ts';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'qkd-mock-faults-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const ack = (file: string): FaultsAck => JSON.parse(readFileSync(ackPath(file), 'utf8')) as FaultsAck;

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('faults file', () => {
  it('a window is in effect from `from` to `until` only, and each version is acknowledged with its id', () => {
    const file = join(tmp(), 'f.json');
    const lines: string[] = [];
    const f = new FaultsFile(file, ['hang', 'unavailable'] as const, (l) => lines.push(l));
    const now = Date.now();
    writeAtomic(file, JSON.stringify({ id: 'v1', hang: { from: now - 1000, until: now + 60_000 } }));
    expect(f.active('hang', now)).toBe(true);
    expect(f.active('unavailable', now)).toBe(false);
    expect(f.active('hang', now + 60_000)).toBe(false);
    expect(f.active('hang', now - 2000)).toBe(false);
    expect(ack(file).id).toBe('v1');
    writeAtomic(file, JSON.stringify({ id: 'v2' }));
    expect(f.active('hang', now)).toBe(false);
    expect(ack(file).id).toBe('v2');
    expect(lines.filter((l) => l.includes('applied'))).toHaveLength(2);
  });

  it('a missing, malformed or unknown-key file is no fault, logged once per state, and acknowledged with its error', () => {
    const file = join(tmp(), 'f.json');
    const lines: string[] = [];
    const f = new FaultsFile(file, ['stale', 'stop'] as const, (l) => lines.push(l));
    for (let i = 0; i < 5; i++) expect(f.active('stop')).toBe(false);
    expect(lines).toEqual([expect.stringMatching(/absent: no fault/)]);
    writeFileSync(file, '{ not json');
    for (let i = 0; i < 5; i++) expect(f.active('stop')).toBe(false);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/not JSON.*no fault/);
    expect(ack(file)).toMatchObject({ id: null, error: expect.stringMatching(/not JSON/) });
    const now = Date.now();
    writeAtomic(file, JSON.stringify({ id: 'x', stpo: { from: now - 1, until: now + 60_000 } }));
    expect(f.active('stop')).toBe(false);
    expect(lines[2]).toMatch(/malformed.*no fault/);
    writeAtomic(file, JSON.stringify({ id: 'y', stop: { from: now - 1, until: 'later' } }));
    expect(f.active('stop')).toBe(false);
    expect(lines[3]).toMatch(/malformed at stop\.until/);
    writeAtomic(file, JSON.stringify({ id: 'z', stop: { from: now - 1, until: now + 60_000 } }));
    expect(f.active('stop')).toBe(true); // the same reader recovers once the file is right
  });

  it('watch() acknowledges a new version without any traffic', async () => {
    const file = join(tmp(), 'f.json');
    const f = new FaultsFile(file, ['hang'] as const, () => undefined).watch(50);
    try {
      writeAtomic(file, JSON.stringify({ id: 'w1' }));
      await until(() => {
        try {
          return ack(file).id === 'w1';
        } catch {
          return false;
        }
      });
    } finally {
      f.stop();
    }
  });
});

describe('a single KME with --faults-file', () => {
  const SEED = 'b2'.repeat(32);
  // Short idle and request timeouts: a held request must outlive them.
  const FAST = { timeouts: { link_ack_ms: 1000, link_connect_ms: 500, link_ping_ms: 500, idle_ms: 400, headers_ms: 400, request_ms: 400, keep_alive_ms: 400 } };

  async function pair(): Promise<{ a: SingleMockKme; b: SingleMockKme; file: string; lines: string[]; client(sae: string, k: SingleMockKme, timeoutMs?: number): KmeClient; stop(): Promise<void> }> {
    const pki = tmp();
    const file = join(pki, 'kme-faults.json');
    const lines: string[] = [];
    const b = await startMockKme({ name: 'B', pkiDir: pki, config: FAST, link: { listen: '127.0.0.1:0', seed: SEED }, log: false });
    const a = await startMockKme({ name: 'A', pkiDir: pki, config: FAST, link: { peer: b.linkAddress, seed: SEED }, log: (l) => lines.push(l), faultsFile: file }).catch(async (err: unknown) => {
      await b.stop();
      throw err;
    });
    await until(() => a.linkUp() && b.linkUp());
    const made: KmeClient[] = [];
    return {
      a,
      b,
      file,
      lines,
      client(sae, k, timeoutMs = 5000) {
        const f = k.saes[sae]!;
        const c = new KmeClient(SaeIdentity.fromFiles({ saeId: sae, ca: k.ca, cert: f.cert, key: f.key, kmeId: k.kmeId, timeoutMs }), k.url);
        made.push(c);
        return c;
      },
      async stop() {
        await Promise.all(made.map((c) => c.identity.close()));
        await Promise.all([a.stop(), b.stop()]);
      },
    };
  }

  const applied = async (file: string, doc: object, id: string): Promise<void> => {
    writeAtomic(file, JSON.stringify({ id, ...doc }));
    await until(() => {
      try {
        return ack(file).id === id;
      } catch {
        return false;
      }
    });
  };

  it('unavailable: enc_keys answers 503 with the empty-pool Error body; dec_keys still serves shared keys; 200 again after', async () => {
    const p = await pair();
    try {
      const sa = p.client('SAE_A', p.a);
      const shared = await sa.encKeys('SAE_B', { number: 1 });
      expect(shared.status).toBe(200);
      const now = Date.now();
      await applied(p.file, { unavailable: { from: now, until: now + 60_000 } }, 'u1');
      const r = await sa.encKeys('SAE_B', { number: 1 });
      expect(r.status).toBe(503);
      expect(r.raw.json()).toMatchObject({ message: expect.stringMatching(/not enough key material/) });
      expect(p.lines.some((l) => / 503 \(faults file: unavailable\)/.test(l))).toBe(true);
      // KME B's SAE fetches a key KME A delivered before: dec_keys at B is untouched; and at A (SAE_A
      // decoding a key B's SAE got) too.
      const back = await p.client('SAE_B', p.b).encKeys('SAE_A', { number: 1 });
      expect(back.status).toBe(200);
      const dec = await sa.decKeys('SAE_B', back.data!.keys.map((k) => k.key_ID));
      expect(dec.status).toBe(200);
      await applied(p.file, {}, 'u2');
      expect((await sa.encKeys('SAE_B', { number: 1 })).status).toBe(200);
    } finally {
      await p.stop();
    }
  });

  it('hang: the request is never answered and its connection outlives the idle timeouts until the client leaves; answered again after', async () => {
    const p = await pair();
    try {
      const now = Date.now();
      await applied(p.file, { hang: { from: now, until: now + 60_000 } }, 'h1');
      const err = await p
        .client('SAE_A', p.a, 1500)
        .status('SAE_B')
        .then(() => undefined, (e: unknown) => e);
      // A deadline of the client (1.5 s, well past the KME's 0.4 s idle timeout), not a reset by the KME.
      expect(err).toMatchObject({ kind: 'deadline' });
      expect(p.lines.some((l) => /hung \(faults file: hang\): no answer/.test(l))).toBe(true);
      await until(() => p.lines.some((l) => /hung request closed by the client after \d+ ms/.test(l)));
      await applied(p.file, {}, 'h2');
      expect((await p.client('SAE_A', p.a).status('SAE_B')).status).toBe(200);
    } finally {
      await p.stop();
    }
  });

  it('hang: a request held when the KME stops goes with it (no crash, nothing left)', async () => {
    const p = await pair();
    const now = Date.now();
    await applied(p.file, { hang: { from: now, until: now + 60_000 } }, 'h3');
    const pending = p.client('SAE_A', p.a, 10_000).status('SAE_B').then(() => 'answered', (e: { kind?: string }) => e.kind);
    await until(() => p.lines.some((l) => /hung \(faults file: hang\)/.test(l)));
    const t0 = Date.now();
    await p.stop();
    expect(await pending).not.toBe('answered');
    expect(Date.now() - t0).toBeLessThan(8_000);
  });
});
