// The built-in agent against a stand-in KMS pair (plain HTTP, shared key store) with WireGuard replaced
// by a recorder: Arnika 1.x roles, the peer protocol, modes and the fault switches.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { expectedPsk } from '../../src/psk/index.ts';
import { fingerprint } from '../../src/secrets/fingerprint.ts';
import { Agent, openObservation, type AgentEvent, type Observation, type OpenedObservation } from './agent.ts';
import { newSealKey } from '../../src/secrets/seal.ts';

const sealKey = newSealKey();
import { loadConfig, parseDuration } from './config.ts';
import { FaultPlan } from './faults.ts';
import { Kms } from './kms.ts';
import { listenForKeyIds, sendKeyId } from './peer.ts';
import { decide } from './decide.ts';

/** A KMS pair in one process: enc_keys hands out a fresh key, dec_keys returns it by key_ID once. */
async function fakeKms(): Promise<{ server: Server; url: string; calls: string[] }> {
  const keys = new Map<string, string>();
  const calls: string[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    calls.push(`${req.method} ${url.pathname}${url.search}`);
    res.setHeader('content-type', 'application/json');
    if (req.method === 'GET' && url.pathname.endsWith('/enc_keys')) {
      const id = `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
      keys.set(id, randomBytes(32).toString('base64'));
      return res.end(JSON.stringify({ keys: [{ key_ID: id, key: keys.get(id) }] }));
    }
    if (req.method === 'GET' && url.pathname.endsWith('/dec_keys')) {
      const id = url.searchParams.get('key_ID') ?? '';
      const key = keys.get(id);
      keys.delete(id);
      if (!key) return (res.statusCode = 400), res.end('{"message":"unknown key_ID"}');
      return res.end(JSON.stringify({ keys: [{ key_ID: id, key }] }));
    }
    res.statusCode = 404;
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return { server, url: `http://127.0.0.1:${port}/api/v1/keys`, calls };
}

let port = 20_000 + Math.floor(Math.random() * 8_000); // below the ephemeral range (32768+)
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Site {
  agent: Agent;
  installed: Array<{ t: number; fp: string }>;
  events: AgentEvent[];
  observations: () => OpenedObservation[];
}

async function pair(o: { intervalMs?: number; pqc?: boolean; faults?: { alice?: string; bob?: string }; env?: Record<string, string> } = {}): Promise<{ alice: Site; bob: Site; kms: Awaited<ReturnType<typeof fakeKms>> }> {
  const kms = await fakeKms();
  cleanups.push(() => new Promise<void>((r) => kms.server.close(() => r())));
  const dir = mkdtempSync(join(tmpdir(), 'qkdh-agent-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const pqcFile = join(dir, 'pqc');
  writeFileSync(pqcFile, randomBytes(32).toString('base64'), { mode: 0o600 });
  const pa = port++;
  const pb = port++;
  const make = async (name: 'alice' | 'bob', listen: number, server: number, id: number, peerSae: string): Promise<Site> => {
    const env: NodeJS.ProcessEnv = {
      LISTEN_ADDRESS: `127.0.0.1:${listen}`,
      SERVER_ADDRESS: `127.0.0.1:${server}`,
      ARNIKA_ID: String(id),
      INTERVAL: `${o.intervalMs ?? 400}ms`,
      KMS_URL: `${kms.url}/${peerSae}`,
      KMS_BACKOFF_BASE_DELAY: '5ms',
      WIREGUARD_INTERFACE: 'wgtest',
      WIREGUARD_PEER_PUBLIC_KEY: 'x',
      QKDH_OBSERVATION_LOG: join(dir, `${name}.obs`),
      QKDH_OBSERVATION_KEY: sealKey.toString('hex'),
      ...(o.pqc === false ? {} : { PQC_PSK_FILE: pqcFile }),
      ...(o.faults?.[name] ? { QKDH_FAULT: o.faults[name] } : {}),
      ...o.env,
    };
    const installed: Site['installed'] = [];
    const events: AgentEvent[] = [];
    const config = loadConfig(env);
    const kmsClient = new Kms(config);
    const agent = new Agent(config, {
      kms: kmsClient,
      faults: FaultPlan.fromEnv(env),
      install: async (b64) => void installed.push({ t: Date.now(), fp: fingerprint(Buffer.from(b64, 'base64')) }),
      log: (e) => events.push(e),
    });
    await agent.start();
    cleanups.push(async () => {
      await agent.stop();
      await kmsClient.close();
    });
    const observations = () => {
      try {
        return readFileSync(join(dir, `${name}.obs`), 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => openObservation(JSON.parse(l) as Observation, sealKey));
      } catch {
        return [];
      }
    };
    return { agent, installed, events, observations };
  };
  const alice = await make('alice', pa, pb, 2, 'SAE_B');
  const bob = await make('bob', pb, pa, 1, 'SAE_A');
  return { alice, bob, kms };
}

describe('key-control agent (Arnika 1.x behaviour)', () => {
  it('parses Go durations and the Arnika environment, with its defaults', () => {
    expect(parseDuration('10s', 'X')).toBe(10_000);
    expect(parseDuration('1m30s', 'X')).toBe(90_000);
    expect(parseDuration('100ms', 'X')).toBe(100);
    expect(() => parseDuration('ten', 'X')).toThrow(/not a duration/);
    const c = loadConfig({ LISTEN_ADDRESS: '0.0.0.0:9999', SERVER_ADDRESS: 'peer:9999', KMS_URL: 'https://kme/api/v1/keys/SAE_B', WIREGUARD_INTERFACE: 'wg0', WIREGUARD_PEER_PUBLIC_KEY: 'pk' });
    expect(c).toMatchObject({ arnikaId: 9999, intervalMs: 10_000, kmsHttpTimeoutMs: 10_000, kmsBackoffMaxRetries: 5, kmsBackoffBaseDelayMs: 100, kmsRetryIntervalMs: 5_000, mode: 'AtLeastQkdRequired' });
    expect(() => loadConfig({ LISTEN_ADDRESS: '0.0.0.0:1', SERVER_ADDRESS: 'p:1', KMS_URL: 'https://k', WIREGUARD_INTERFACE: 'w', WIREGUARD_PEER_PUBLIC_KEY: 'p', CERTIFICATE: 'c' })).toThrow(/go together/);
    expect(() => loadConfig({ LISTEN_ADDRESS: '0.0.0.0:1', SERVER_ADDRESS: 'p:1', KMS_URL: 'https://k', WIREGUARD_INTERFACE: 'w', WIREGUARD_PEER_PUBLIC_KEY: 'p', MODE: 'Sometimes' })).toThrow(/MODE/);
  });

  it('speaks key_ID\\n / ACK\\n and does not retry', async () => {
    const got: string[] = [];
    const p = port++;
    const server = await listenForKeyIds('127.0.0.1', p, (id) => got.push(id));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    await sendKeyId('127.0.0.1', p, 'abc-123');
    expect(got).toEqual(['abc-123']);
    await expect(sendKeyId('127.0.0.1', port++, 'x')).rejects.toThrow(/cannot connect|no connection/);
  });

  it('decides per MODE: hybrid, QKD-only fallback, fail closed, unchanged', () => {
    const q = new Uint8Array(32).fill(1);
    const k = new Uint8Array(32).fill(2);
    expect(decide('AtLeastQkdRequired', q, { state: 'ok', key: k })).toMatchObject({ action: 'install', kind: 'hybrid' });
    expect(decide('AtLeastQkdRequired', q, { state: 'unreadable', why: 'empty' })).toMatchObject({ action: 'install', kind: 'qkd-only' });
    expect(decide('AtLeastQkdRequired', undefined, { state: 'ok', key: k })).toMatchObject({ action: 'keep' });
    expect(decide('QkdAndPqcRequired', q, { state: 'unreadable', why: 'empty' })).toMatchObject({ action: 'install', kind: 'random' });
    expect(decide('AtLeastPqcRequired', undefined, { state: 'ok', key: k })).toMatchObject({ action: 'install', kind: 'pqc-only' });
    const right = decide('AtLeastQkdRequired', q, { state: 'ok', key: k });
    const wrong = decide('AtLeastQkdRequired', q, { state: 'ok', key: k }, { wrongDerivation: true });
    expect(right.action === 'install' && fingerprint(right.psk)).toBe(expectedPsk({ mode: 'hybrid', kmsKey: Buffer.from(q).toString('base64'), pqc: k }).fingerprint);
    expect(wrong.action === 'install' && fingerprint(wrong.psk)).not.toBe(right.action === 'install' && fingerprint(right.psk));
  });

  it('rotates: the even ID is master, the odd one backup; same PSK on both, derivable from the recorded inputs', async () => {
    const { alice, bob, kms } = await pair();
    await sleep(1_500);
    expect(alice.installed.length).toBeGreaterThanOrEqual(2);
    expect(bob.installed.map((i) => i.fp)).toEqual(alice.installed.map((i) => i.fp).slice(0, bob.installed.length));
    expect(alice.events.filter((e) => e.ev === 'turn').length).toBeGreaterThanOrEqual(2);
    expect(bob.events.some((e) => e.ev === 'skip')).toBe(true);
    expect(kms.calls.every((c) => /^GET \/api\/v1\/keys\/SAE_[AB]\/(enc_keys\?number=1&size=256|dec_keys\?key_ID=[0-9a-f-]+)$/.test(c))).toBe(true);
    for (const o of [...alice.observations(), ...bob.observations()]) {
      expect(expectedPsk({ mode: 'hybrid', kmsKey: o.kmsKey, pqc: Buffer.from(o.pqc!, 'base64') }).fingerprint).toBe(o.pskFp);
    }
  });

  it('one-sided: the master installs although the key_ID did not arrive', async () => {
    const { alice, bob } = await pair({ faults: { alice: 'one-sided' } });
    await sleep(1_000);
    expect(alice.events.some((e) => e.ev === 'send-failed')).toBe(true);
    expect(alice.installed.length).toBeGreaterThanOrEqual(1);
    const mastered = alice.events.filter((e) => e.ev === 'installed' && e.role === 'master').map((e) => e.psk);
    expect(mastered.length).toBeGreaterThanOrEqual(1);
    expect(bob.installed.filter((i) => mastered.includes(i.fp))).toEqual([]);
  });

  it('kms-outage on the backup: six attempts, then the PSK is left unchanged', async () => {
    const { alice, bob } = await pair({ faults: { bob: 'kms-outage' } });
    await sleep(1_200);
    expect(alice.installed.length).toBeGreaterThanOrEqual(1);
    expect(bob.installed).toEqual([]);
    const failed = bob.events.find((e) => e.ev === 'kms-failed');
    expect(failed?.why).toMatch(/6 attempts failed/);
    expect(bob.events.some((e) => e.ev === 'kept')).toBe(true);
  });

  it('wrong-derivation and skewed-interval change what and when the backup installs', async () => {
    const wrong = await pair({ faults: { bob: 'wrong-derivation' } });
    const skewed = await pair({ faults: { bob: 'skewed-interval' }, intervalMs: 600, env: { QKDH_SKEW: '250ms' } });
    await sleep(1_800);
    expect(wrong.bob.installed.length).toBeGreaterThanOrEqual(1);
    expect(wrong.bob.installed[0]!.fp).not.toBe(wrong.alice.installed[0]!.fp);
    const o = wrong.bob.observations()[0]!;
    expect(expectedPsk({ mode: 'hybrid', kmsKey: o.kmsKey, pqc: Buffer.from(o.pqc!, 'base64') }).fingerprint).not.toBe(wrong.bob.installed[0]!.fp);
    expect(skewed.bob.installed[0]!.fp).toBe(skewed.alice.installed[0]!.fp);
    expect(skewed.bob.installed[0]!.t - skewed.alice.installed[0]!.t).toBeGreaterThanOrEqual(240);
  });
});
