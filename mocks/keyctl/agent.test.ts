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
type KmsState = 'ok' | '503' | 'hang';
async function fakeKms(): Promise<{ server: Server; url: string; calls: string[]; state: Record<string, KmsState> }> {
  const keys = new Map<string, string>();
  const calls: string[] = [];
  /** Per SAE path segment (SAE_A: bob's calls, SAE_B: alice's): answer, 503, or never answer. */
  const state: Record<string, KmsState> = {};
  let n = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    calls.push(`${req.method} ${url.pathname}${url.search}`);
    const st = state[url.pathname.split('/')[4] ?? ''] ?? 'ok';
    if (st === 'hang') return;
    if (st === '503') return (res.statusCode = 503), res.end('{"message":"no key available"}');
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
  return { server, url: `http://127.0.0.1:${port}/api/v1/keys`, calls, state };
}

const pqcFiles = new Map<string, string>();
let port = 20_000 + Math.floor(Math.random() * 8_000); // below the ephemeral range (32768+)
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Site {
  agent: Agent;
  installed: Array<{ t: number; fp: string }>;
  /** The stand-in interface's PSK of the peer (what `wg show … preshared-keys` would print); tests may overwrite it. */
  wg: { psk?: string };
  events: AgentEvent[];
  observations: () => OpenedObservation[];
}

/** Two agents (alice ARNIKA_ID 2, bob 1) on one KMS; `pqcFile` turns the base64 PQC key into the file's content. */
async function pair(o: { intervalMs?: number; pqc?: boolean; pqcFile?: (b64: string) => string; faults?: { alice?: string; bob?: string }; env?: Record<string, string>; envOf?: { alice?: Record<string, string>; bob?: Record<string, string> } } = {}): Promise<{ alice: Site; bob: Site; kms: Awaited<ReturnType<typeof fakeKms>>; pqcKey: Buffer }> {
  const kms = await fakeKms();
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        kms.server.closeAllConnections(); // hung requests too
        kms.server.close(() => r());
      }),
  );
  const dir = mkdtempSync(join(tmpdir(), 'qkdh-agent-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const pqcFile = join(dir, 'pqc');
  pqcFiles.set(kms.url, pqcFile);
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
      ...o.envOf?.[name],
    };
    const installed: Site['installed'] = [];
    const events: AgentEvent[] = [];
    const wg: Site['wg'] = {};
    const config = loadConfig(env);
    const faults = FaultPlan.fromEnv(env);
    const kmsClient = new Kms(config, { noDeadline: faults.has('no-kms-deadline') });
    const agent = new Agent(config, {
      kms: kmsClient,
      faults,
      install: async (b64) => {
        wg.psk = b64;
        installed.push({ t: Date.now(), fp: fingerprint(Buffer.from(b64, 'base64')) });
      },
      readPsk: async () => wg.psk,
      watchMs: 100,
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
    return { agent, installed, wg, events, observations };
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

  it('QKDH_SCHEDULE_ORIGIN_FILE: no turn before the file exists; then turns count from its instant (alice on it, bob half an interval later)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'qkdh-origin-')), 'origin');
    cleanups.push(() => rmSync(file, { force: true }));
    const { alice, bob } = await pair({ intervalMs: 1_000, env: { QKDH_SCHEDULE_ORIGIN_FILE: file } });
    await sleep(1_600); // past both first turns had they counted from their own start
    expect([...alice.events, ...bob.events].filter((e) => e.ev === 'turn' || e.ev === 'start')).toEqual([]);
    const origin = Date.now() - 3_750; // an origin in the past: the phase is kept, whole intervals skipped
    writeFileSync(file, String(origin));
    const firstTurnAt = async (s: Site) => {
      const e = await until('the start event', () => s.events.find((x) => x.ev === 'start'));
      return e.t + Number(/first turn in (-?\d+) ms/.exec(e.why ?? '')![1]);
    };
    // Computed at start (no scheduling involved): the phase against the origin, within a few ms of rounding.
    const phase = async (s: Site) => ((((await firstTurnAt(s)) - origin) % 1_000) + 1_000) % 1_000;
    const pa = await phase(alice);
    expect(Math.min(pa, 1_000 - pa)).toBeLessThan(20);
    expect(Math.abs((await phase(bob)) - 500)).toBeLessThan(20);
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

// What a key control must do when its environment misbehaves (wg/15–wg/21), and the switches that turn
// each behaviour off so the environment suite can show its check failing (suites/e2e/environment.test.ts).
describe('key-control agent: environmental faults and the switches that ignore them', { timeout: 60_000 }, () => {
  it('the master installs only what the peer ACKed; install-unacked installs anyway (Arnika 1.x)', async () => {
    const unreachable = { alice: { SERVER_ADDRESS: '127.0.0.1:9' } }; // discard port: closed
    const [faithful, arnika] = await Promise.all([pair({ envOf: unreachable }), pair({ envOf: unreachable, faults: { alice: 'install-unacked' } })]);
    const kept = await until('alice keeps her PSK after a failed send', () => faithful.alice.events.find((e) => e.ev === 'kept' && e.role === 'master'));
    expect(kept.why).toMatch(/did not ACK/);
    expect(faithful.alice.events.some((e) => e.ev === 'send-failed')).toBe(true);
    expect(faithful.alice.installed).toEqual([]);
    const failed = await until('install-unacked: a failed send', () => arnika.alice.events.find((e) => e.ev === 'send-failed'));
    await until('install-unacked: alice installs the unacknowledged key', () => installedEvent(arnika.alice, 'master', failed.keyId));
  });

  it('a KMS answering 503 for a while: the agent tries again each turn and resumes; stop-on-kms-error gives up for good', async () => {
    const [faithful, stops] = await Promise.all([pair(), pair({ faults: { bob: 'stop-on-kms-error' } })]);
    for (const p of [faithful, stops]) p.kms.state.SAE_A = '503'; // bob's dec_keys
    await until('both bobs saw the KMS fail', () => [faithful, stops].every((p) => p.bob.events.some((e) => e.ev === 'kms-failed')));
    expect(stops.bob.events.some((e) => e.ev === 'halted')).toBe(true);
    expect(faithful.bob.events.some((e) => e.ev === 'halted')).toBe(false);
    for (const p of [faithful, stops]) p.kms.state.SAE_A = 'ok';
    const mark = Date.now();
    await until('the faithful bob installs again after the KMS came back', () => faithful.bob.installed.some((i) => i.t > mark));
    // Meanwhile alice rotated at least twice against the stopped bob: none reached him.
    await until('alice rotates twice more', () => stops.alice.installed.filter((i) => i.t > mark).length >= 2);
    expect(stops.bob.installed.filter((i) => i.t > mark)).toEqual([]);
    expect(stops.bob.events.some((e) => e.ev === 'skip' && /halted/.test(e.why ?? ''))).toBe(true);
  });

  it('a hung KMS: every call gives up at KMS_HTTP_TIMEOUT; no-kms-deadline waits for good', async () => {
    const env = { KMS_HTTP_TIMEOUT: '150ms', KMS_BACKOFF_MAX_RETRIES: '1' };
    const [faithful, stuck] = await Promise.all([pair({ env }), pair({ env, faults: { bob: 'no-kms-deadline' } })]);
    for (const p of [faithful, stuck]) p.kms.state.SAE_A = 'hang';
    const failed = await until('the faithful bob gives up on the hung KMS', () => faithful.bob.events.find((e) => e.ev === 'kms-failed'));
    expect(failed.why).toMatch(/2 attempts failed/);
    await until('the stuck bob received a key_ID', () => stuck.bob.events.some((e) => e.ev === 'received'));
    await sleep(1_500); // ten timeouts' worth
    expect(stuck.bob.events.filter((e) => e.ev === 'kms-failed')).toEqual([]);
    for (const p of [faithful, stuck]) p.kms.state.SAE_A = 'ok';
    const mark = Date.now();
    await until('the faithful bob installs again', () => faithful.bob.installed.some((i) => i.t > mark));
    await until('alice rotates twice more', () => stuck.alice.installed.filter((i) => i.t > mark).length >= 2);
    expect(stuck.bob.installed.filter((i) => i.t > mark)).toEqual([]); // still waiting on the first answer
  });

  it('a PSK overwritten behind its back is installed again within the watch period (fingerprints only); no-psk-watch leaves it', async () => {
    const env = { INTERVAL: '5s' }; // no rotation masks the overwrite
    const [faithful, blind] = await Promise.all([pair({ env }), pair({ env, faults: { bob: 'no-psk-watch' } })]);
    await until('both bobs installed once', () => [faithful, blind].every((p) => p.bob.installed.length >= 1));
    const foreign = randomBytes(32).toString('base64');
    const before = [faithful, blind].map((p) => p.bob.wg.psk);
    for (const p of [faithful, blind]) p.bob.wg.psk = foreign;
    const restored = await until('the faithful bob restores', () => faithful.bob.events.find((e) => e.ev === 'restored'));
    expect(faithful.bob.wg.psk).toBe(before[0]);
    expect(restored.psk).toBe(fingerprint(Buffer.from(before[0]!, 'base64')));
    expect(restored.why).toContain(fingerprint(Buffer.from(foreign, 'base64')));
    expect(JSON.stringify(faithful.bob.events)).not.toContain(foreign);
    expect(JSON.stringify(faithful.bob.events)).not.toContain(before[0]);
    await sleep(500);
    expect(blind.bob.wg.psk).toBe(foreign);
    expect(blind.bob.events.some((e) => e.ev === 'restored')).toBe(false);
  });

  it('the PQC key is read afresh for each derivation; pqc-cached keeps the first one', async () => {
    const [faithful, cached] = await Promise.all([pair(), pair({ faults: { bob: 'pqc-cached' } })]);
    await until('both bobs installed once', () => [faithful, cached].every((p) => p.bob.observations().length >= 1));
    const next = randomBytes(32).toString('base64');
    for (const p of [faithful, cached]) writeFileSync(pqcFiles.get(p.kms.url)!, next, { mode: 0o600 });
    const mark = Date.now();
    const fresh = await until('the faithful bob derives from the new key', () => faithful.bob.observations().find((o) => o.t > mark));
    expect(fresh.pqcFp).toBe(fingerprint(Buffer.from(next, 'base64')));
    const stale = await until('the cached bob derives again', () => cached.bob.observations().find((o) => o.t > mark));
    expect(stale.pqcFp).toBe(fingerprint(cached.pqcKey));
  });

  it('only WIREGUARD_PEER_PUBLIC_KEY gets the PSK; all-peers gives every peer of the interface one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qkdh-agent-wg-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    // A stand-in `wg`: two peers on the interface, each `set` recorded (the key read from stdin, not kept).
    const wg = join(dir, 'wg');
    writeFileSync(wg, `#!/bin/sh\nif [ "$1" = show ] && [ "$3" = peers ]; then printf 'real\\ndecoy\\n'; exit 0; fi\nif [ "$1" = set ]; then cat >/dev/null; echo "$4" >> ${dir}/set.log; exit 0; fi\nexit 1\n`, { mode: 0o755 });
    const sets = (agentDir: string) => {
      try {
        return readFileSync(join(agentDir, 'set.log'), 'utf8').trim().split('\n');
      } catch {
        return [];
      }
    };
    const kms = await fakeKms();
    cleanups.push(() => new Promise<void>((r) => kms.server.close(() => r())));
    const run = async (fault?: string) => {
      const env = { LISTEN_ADDRESS: `127.0.0.1:${port++}`, SERVER_ADDRESS: '127.0.0.1:9', INTERVAL: '200ms', KMS_URL: `${kms.url}/SAE_B`, KMS_BACKOFF_BASE_DELAY: '5ms', WIREGUARD_INTERFACE: 'wgtest', WIREGUARD_PEER_PUBLIC_KEY: 'real', QKDH_WG: wg, QKDH_FAULT: ['install-unacked', fault].filter(Boolean).join(',') };
      const config = loadConfig(env);
      const events: AgentEvent[] = [];
      const agent = new Agent(config, { kms: new Kms(config), faults: FaultPlan.fromEnv(env), readPsk: async () => undefined, log: (e) => events.push(e) });
      await agent.start();
      await until('an installation', () => events.some((e) => e.ev === 'installed'));
      await agent.stop();
    };
    await run();
    expect([...new Set(sets(dir))]).toEqual(['real']);
    rmSync(join(dir, 'set.log'));
    await run('all-peers');
    expect([...new Set(sets(dir))].sort()).toEqual(['decoy', 'real']);
  });
});
