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

/** Two agents (alice ARNIKA_ID 2, bob 1) on one KMS; `pqcFile` turns the base64 PQC key into the file's content. */
async function pair(o: { intervalMs?: number; pqc?: boolean; pqcFile?: (b64: string) => string; faults?: { alice?: string; bob?: string }; env?: Record<string, string> } = {}): Promise<{ alice: Site; bob: Site; kms: Awaited<ReturnType<typeof fakeKms>>; pqcKey: Buffer }> {
  const kms = await fakeKms();
  cleanups.push(() => new Promise<void>((r) => kms.server.close(() => r())));
  const dir = mkdtempSync(join(tmpdir(), 'qkdh-agent-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const pqcFile = join(dir, 'pqc');
  const pqcKey = randomBytes(32);
  writeFileSync(pqcFile, (o.pqcFile ?? ((b) => b))(pqcKey.toString('base64')), { mode: 0o600 });
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
  return { alice, bob, kms, pqcKey };
}

/**
 * Waits until the agents, running on their own timers, have produced what `find` looks for. The
 * deadline is generous (a loaded 2-core machine) and never a measurement: a healthy run returns early.
 */
async function until<T>(what: string, find: () => T | undefined | false, ms = 20_000): Promise<T> {
  for (const end = Date.now() + ms; ; await sleep(20)) {
    const found = find();
    if (found) return found;
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
  }
}

/** The agent's `installed` event of one role for one key_ID. */
const installedEvent = (site: Site, role: 'master' | 'backup', keyId?: string) =>
  site.events.find((e) => e.ev === 'installed' && e.role === role && (keyId === undefined || e.keyId === keyId));

// Agents run on wall-clock intervals: tests wait for events with generous deadlines, never for a fixed time.
describe('key-control agent (Arnika 1.x behaviour)', { timeout: 60_000 }, () => {
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
    const turns = (s: Site) => s.events.filter((e) => e.ev === 'turn').length;
    await until('two master turns of alice, a skipped turn of bob', () => turns(alice) >= 2 && alice.installed.length >= 2 && bob.events.some((e) => e.ev === 'skip'));
    // Every key bob applied as backup is one alice mastered, with the same PSK (joined on the key_ID, so a
    // slow turn that lets roles swap on a loaded machine does not matter).
    const backups = await until('bob applied a key as backup', () => {
      const b = bob.events.filter((e) => e.ev === 'installed' && e.role === 'backup');
      return b.length > 0 && b.every((e) => installedEvent(alice, 'master', e.keyId)) && b;
    });
    for (const b of backups) expect(b.psk, `key ${b.keyId}`).toBe(installedEvent(alice, 'master', b.keyId)!.psk);
    expect(kms.calls.every((c) => /^GET \/api\/v1\/keys\/SAE_[AB]\/(enc_keys\?number=1&size=256|dec_keys\?key_ID=[0-9a-f-]+)$/.test(c))).toBe(true);
    for (const o of [...alice.observations(), ...bob.observations()]) {
      expect(expectedPsk({ mode: 'hybrid', kmsKey: o.kmsKey, pqc: Buffer.from(o.pqc!, 'base64') }).fingerprint).toBe(o.pskFp);
    }
  });

  it('one-sided: the master installs although the key_ID did not arrive', async () => {
    const { alice, bob } = await pair({ faults: { alice: 'one-sided' } });
    const failed = await until('a failed send of alice', () => alice.events.find((e) => e.ev === 'send-failed'));
    await until('alice installs the key it could not send', () => installedEvent(alice, 'master', failed.keyId));
    const mastered = alice.events.filter((e) => e.ev === 'installed' && e.role === 'master').map((e) => e.psk);
    expect(bob.installed.filter((i) => mastered.includes(i.fp))).toEqual([]);
  });

  it('kms-outage on the backup: six attempts, then the PSK is left unchanged', async () => {
    const { alice, bob } = await pair({ faults: { bob: 'kms-outage' } });
    await until('bob leaves its PSK unchanged', () => bob.events.some((e) => e.ev === 'kept'));
    await until('alice installs', () => alice.installed.length >= 1);
    expect(bob.installed).toEqual([]);
    const failed = bob.events.find((e) => e.ev === 'kms-failed');
    expect(failed?.why).toMatch(/6 attempts failed/);
    expect(bob.events.some((e) => e.ev === 'kept')).toBe(true);
  });

  it('wrong-derivation and skewed-interval change what and when the backup installs', async () => {
    const wrong = await pair({ faults: { bob: 'wrong-derivation' } });
    const skewed = await pair({ faults: { bob: 'skewed-interval' }, intervalMs: 600, env: { QKDH_SKEW: '250ms' } });
    // Compare one key_ID's installations on both sites (the first ones may belong to different keys when
    // a loaded machine delays a turn).
    const pairOf = async (p: Awaited<ReturnType<typeof pair>>) => {
      const b = await until('bob applies a key as backup', () => installedEvent(p.bob, 'backup'));
      const a = await until('alice installs the same key as master', () => installedEvent(p.alice, 'master', b.keyId));
      return { a, b };
    };
    const w = await pairOf(wrong);
    expect(w.b.psk).not.toBe(w.a.psk);
    const o = await until('bob records its inputs', () => wrong.bob.observations().find((x) => x.keyId === w.b.keyId));
    expect(expectedPsk({ mode: 'hybrid', kmsKey: o.kmsKey, pqc: Buffer.from(o.pqc!, 'base64') }).fingerprint).not.toBe(w.b.psk);
    const k = await pairOf(skewed);
    expect(k.b.psk).toBe(k.a.psk);
    // The skew is measured on bob's own clock, from the key_ID's arrival to the installation: the sleep
    // makes it at least 250 ms (less 2 ms of timer rounding) however loaded the machine; no upper bound.
    const received = skewed.bob.events.find((e) => e.ev === 'received' && e.keyId === k.b.keyId)!;
    expect(k.b.t - received.t).toBeGreaterThanOrEqual(248);
  });

  it('reads PQC_PSK_FILE through the shared reader: one trailing LF or CRLF stripped (one warning), more refused', async () => {
    const [lf, crlf, twoLf] = await Promise.all([
      pair({ pqcFile: (b) => `${b}\n` }),
      pair({ pqcFile: (b) => `${b}\r\n` }),
      pair({ pqcFile: (b) => `${b}\n\n` }),
    ]);
    for (const [eol, p] of [['LF', lf], ['CRLF', crlf]] as const) {
      await until(`${eol}: two installations by alice`, () => p.alice.installed.length >= 2);
      const o = await until(`${eol}: alice records its inputs`, () => p.alice.observations()[0]);
      // What wg/4 recomputes: the recorded key is the file's key, and the PSK its hybrid derivation.
      expect(o.kind, eol).toBe('hybrid');
      expect(o.pqc === p.pqcKey.toString('base64'), `${eol}: the recorded PQC key is the file's key`).toBe(true);
      expect(expectedPsk({ mode: 'hybrid', kmsKey: o.kmsKey, pqc: Buffer.from(o.pqc!, 'base64') }).fingerprint, eol).toBe(o.pskFp);
      const warnings = p.alice.events.filter((e) => e.ev === 'warning');
      expect(warnings, `${eol}: one warning, not one per turn`).toHaveLength(1);
      expect(warnings[0]!.why).toMatch(new RegExp(`ends with ${eol}: stripped it as Arnika does`));
      expect(warnings[0]!.why, `${eol}: the warning shows key material`).not.toContain(p.pqcKey.toString('base64').slice(0, 12));
    }
    // Two line endings: the file is unreadable, so MODE AtLeastQkdRequired falls back to QKD only.
    const fallback = await until('QKD-only fallback', () => installedEvent(twoLf.alice, 'master'));
    expect(fallback.kind).toBe('qkd-only');
    expect(fallback.why).toMatch(/ends with more than one line ending/);
    expect(twoLf.alice.events.some((e) => e.ev === 'warning')).toBe(false);
  });
});
