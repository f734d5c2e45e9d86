// Shared by the HSM suites (hsm-replication, hsm-faults): where A and B come from (the lab's two SoftHSM
// sites, or a target profile's sites.*.hsm through src/sites/hsm-remote.ts), and the actions whose
// observations the judgements of hsm-checks.ts take: making keys on A, watching B's inventory, crypto
// across the sites, extraction attempts, and the lab-only views (agent status, route, counters, a TCP
// connection attempt). Every call has a deadline; failures are classified (transport = cannot judge).
import { randomBytes } from 'node:crypto';
import * as allure from 'allure-js-commons';
import { CannotRunError, UsageError } from '../../src/cli/exit.ts';
import type { Inventory } from '../../src/hsm/inventory.ts';
import type { KeySpec } from '../../src/hsm/keygen.ts';
import type { ObjectName } from '../../src/hsm/objects.ts';
import type { HsmRequest, HsmResult } from '../../src/hsm/operations.ts';
import type { HsmSiteClient } from '../../src/hsm/site-client.ts';
import { cleanupStale } from '../../src/lab/cleanup.ts';
import { Lab } from '../../src/lab/lab.ts';
import { hsmUnavailable } from '../../src/lab/hsm.ts';
import { ADDRESSES, PORTS, type SiteName } from '../../src/lab/names.ts';
import { labUnavailable } from '../../src/lab/prerequisites.ts';
import { nftUnavailable } from '../../src/lab/underlay-counters.ts';
import { samplePeer } from '../../src/sites/wg.ts';
import { loadSitesProfile } from '../../src/target/load.ts';
import type { Verdict } from './checks.ts';
import { report, settings, type Gate } from './fixture.ts';
import { nameKey, type Arrival, type CallFailure, type ConnectOutcome, type CryptoTrial, type ExtractionAttempt, type MadeKey } from './hsm-checks.ts';

/** Deadline of one request on a token (ms). */
export const CALL_MS = 30_000;

export interface HsmPair {
  a: HsmSiteClient;
  b: HsmSiteClient;
  /** The lab (lab runs only): route, counters, agents, outage. */
  lab?: Lab;
  source: string;
  evidence: string[];
}

/** For the suites that need the lab's HSM part (faults; the lab-only checks). */
export function hsmLabGate(): Gate {
  if (settings.target) return { skip: 'agent faults are injected into the lab only (QKD_E2E_TARGET is set)' };
  const why = labUnavailable() ?? hsmUnavailable() ?? nftUnavailable();
  if (!why) return {};
  return process.env.QKD_REQUIRE_LAB === '1' ? { fail: `QKD_REQUIRE_LAB=1 but the HSM lab cannot run: ${why}` } : { skip: why };
}

/** For the replication suite: the lab, or a target profile (whose HSM sites are checked in `hsmPair`). */
export function hsmRunGate(): Gate {
  return settings.target ? {} : hsmLabGate();
}

/**
 * The seam between lab and deployment: A and B as HsmSiteClients. With QKD_E2E_TARGET the profile's
 * sites.*.hsm (src/sites/hsm-remote.ts profileHsmClients: roles or file order, PINs from the
 * environment); a profile without two HSM sites gives `{ skip }`. Otherwise a new lab with tokens,
 * pushed to `labs` for the caller's afterAll.
 */
export async function hsmPair(labs: Lab[], labOptions: Parameters<typeof Lab.up>[0] = {}): Promise<HsmPair | { skip: string }> {
  if (settings.target) {
    const profile = loadSitesProfile(settings.target);
    const { profileHsmClients } = await import('../../src/sites/hsm-remote.ts');
    const p = profileHsmClients(profile);
    if ('skip' in p) return p;
    return { a: p.a, b: p.b, source: `target ${profile.name}`, evidence: p.evidence };
  }
  await cleanupStale();
  const lab = await Lab.up({ intervalS: settings.intervalS ?? 10, ...labOptions, hsm: true });
  labs.push(lab);
  const a = lab.hsmClient('alice');
  const b = lab.hsmClient('bob');
  return { a, b, lab, source: `lab ${lab.runId}`, evidence: [`A = ${a.describe}`, `B = ${b.describe}`] };
}

/** A failed call as the judgements see it: transport (deadline, site or module not answering) or the token's answer. */
export function failureOf(err: unknown): CallFailure {
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);
  return { transport: err instanceof CannotRunError, message };
}

export async function inventoryOf(c: HsmSiteClient): Promise<Inventory> {
  const r = await c.run({ op: 'objects' }, { timeoutMs: CALL_MS });
  if (r.op !== 'objects') throw new Error(`${c.site}: objects returned ${r.op}`);
  return r.inventory;
}

async function run<T extends HsmResult['op']>(c: HsmSiteClient, req: HsmRequest & { op: T }): Promise<HsmResult & { op: T }> {
  const r = await c.run(req, { timeoutMs: CALL_MS });
  if (r.op !== req.op) throw new Error(`${c.site}: ${req.op} returned ${r.op}`);
  return r as HsmResult & { op: T };
}

/** A label unique to this run (the suite never touches objects it did not make). */
export const uniqueLabel = (prefix: string, kind: string): string => `${prefix}-${kind}-${randomBytes(3).toString('hex')}`;

/** Generates one extractable key on A (the agent replicates only extractable keys). */
export async function makeKey(a: HsmSiteClient, prefix: string, spec: Omit<KeySpec, 'label' | 'extractable'>): Promise<MadeKey> {
  const label = uniqueLabel(prefix, spec.kind);
  const r = await run(a, { op: 'generate', spec: { ...spec, label, extractable: true } });
  return { kind: spec.kind, label, id: r.key.id, objects: r.key.objects.map((o) => ({ class: o.class, label: o.label, id: o.id })), madeAt: Date.now() };
}

/**
 * B's inventory, polled: every poll is remembered as (time it returned, fingerprints per name), so
 * arrival and departure times can be read afterwards for any name.
 */
export class Watcher {
  private readonly polls: Array<{ at: number; names: Map<string, Array<string | null>> }> = [];
  last: Inventory | undefined;
  /** When the poll that read `last` was sent. */
  lastStartedAt = 0;
  lastFailure: CallFailure | undefined;

  constructor(readonly client: HsmSiteClient) {}

  async poll(): Promise<Inventory | undefined> {
    const startedAt = Date.now();
    try {
      const inv = await inventoryOf(this.client);
      const names = new Map<string, Array<string | null>>();
      for (const e of inv.objects) names.set(nameKey(e), [...(names.get(nameKey(e)) ?? []), e.fingerprint]);
      this.polls.push({ at: Date.now(), names });
      this.last = inv;
      this.lastStartedAt = startedAt;
      this.lastFailure = undefined;
      return inv;
    } catch (err) {
      this.lastFailure = failureOf(err);
      return undefined;
    }
  }

  /**
   * Polls until `done(inventory)` or the deadline; the last inventory either way (undefined: never read).
   * `at`: when that poll returned (an upper bound for an arrival); `startedAt`: when it was sent (the
   * inventory shows the token at some time after it: the lower bound an absence is judged at).
   */
  async until(done: (inv: Inventory) => boolean, deadlineMs: number, pauseMs = 250): Promise<{ inv: Inventory | undefined; met: boolean; at: number; startedAt: number }> {
    const end = Date.now() + deadlineMs;
    for (;;) {
      const sent = Date.now();
      const inv = await this.poll();
      if (inv && done(inv)) return { inv, met: true, at: Date.now(), startedAt: this.lastStartedAt };
      // Given up only after a poll sent past the deadline: what is judged then is the state after it.
      if (sent > end) return { inv: this.last, met: false, at: Date.now(), startedAt: this.lastStartedAt };
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  }

  /** First poll after `after` holding `n` (with `fingerprint` when given). */
  arrival(n: ObjectName, fingerprint: string | null | undefined, after = 0): Arrival {
    const k = nameKey(n);
    const seen = this.polls.find((p) => p.at >= after && p.names.has(k));
    const matched = fingerprint ? this.polls.find((p) => p.at >= after && (p.names.get(k) ?? []).includes(fingerprint)) : undefined;
    return { seenAt: seen?.at ?? null, matchedAt: matched?.at ?? null };
  }

  /** First poll after `after` without `n`. */
  goneAt(n: ObjectName, after: number): number | null {
    return this.polls.find((p) => p.at >= after && !p.names.has(nameKey(n)))?.at ?? null;
  }
}

/** Arrival of every object of `made` on B, matched with A's fingerprints from `invA`. */
export function arrivals(w: Watcher, made: MadeKey[], invA: Inventory): Map<string, Arrival> {
  const out = new Map<string, Arrival>();
  for (const k of made) {
    for (const o of k.objects) {
      const fp = invA.objects.find((e) => nameKey(e) === nameKey(o))?.fingerprint;
      out.set(nameKey(o), w.arrival(o, fp, k.madeAt - 1));
    }
  }
  return out;
}

/** Every object of `made` on B with A's fingerprint (the condition to stop polling on). */
export const allMatched = (made: MadeKey[], invA: Inventory) => (invB: Inventory) =>
  made.every((k) => k.objects.every((o) => {
    const fp = invA.objects.find((e) => nameKey(e) === nameKey(o))?.fingerprint;
    return invB.objects.some((e) => nameKey(e) === nameKey(o) && e.fingerprint === fp);
  }));

// ---- crypto across the sites --------------------------------------------------------------------

const keySel = (k: MadeKey) => ({ label: k.label, id: k.id });
const privateOf = (k: MadeKey): ObjectName => k.objects.find((o) => o.class === 'private-key') ?? k.objects[0]!;

/** Encrypt random data on `a` with the key's public (RSA) or secret (AES) part, decrypt on `b`, compare. */
export async function encryptAcross(a: HsmSiteClient, b: HsmSiteClient, k: MadeKey): Promise<CryptoTrial> {
  const data = randomBytes(48);
  const what = `encrypt on ${a.site}, decrypt on ${b.site}`;
  const key = privateOf(k);
  let mechanism: string | undefined;
  try {
    const enc = await run(a, { op: 'encrypt', key: keySel(k), data, ...(k.kind === 'rsa' ? { oaepHash: 'sha1' as const } : { aesMode: 'auto' as const }) });
    mechanism = enc.mechanism;
    const aesMode = enc.mechanism === 'CKM_AES_GCM' ? ('gcm' as const) : ('cbc-pad' as const);
    const dec = await run(b, { op: 'decrypt', key: keySel(k), data: enc.output, ...(k.kind === 'rsa' ? { oaepHash: 'sha1' as const } : { aesMode }) });
    const ok = dec.output.equals(data);
    return { what, key, mechanism, ok, detail: ok ? `the same ${data.length}-byte plaintext` : `B decrypted to different data (${dec.output.length} bytes)` };
  } catch (err) {
    return { what, key, ...(mechanism ? { mechanism } : {}), failure: failureOf(err) };
  }
}

/** Sign random data on `b` with the key's private part, verify on `a` with the public part. */
export async function signAcross(b: HsmSiteClient, a: HsmSiteClient, k: MadeKey): Promise<CryptoTrial> {
  const data = randomBytes(64);
  const what = `sign on ${b.site}, verify on ${a.site}`;
  const key = privateOf(k);
  try {
    const sig = await run(b, { op: 'sign', key: keySel(k), data });
    const v = await run(a, { op: 'verify', key: keySel(k), data, signature: sig.signature });
    return { what, key, mechanism: sig.mechanism, ok: v.valid, detail: v.valid ? 'the signature verifies' : `${a.site} rejected B's signature` };
  } catch (err) {
    return { what, key, failure: failureOf(err) };
  }
}

/** The extraction attempt on B's copy of each private/secret object; a remote site without the op gives `notRun`. */
export async function extractionAttempts(b: HsmSiteClient, objects: ObjectName[]): Promise<ExtractionAttempt[]> {
  const out: ExtractionAttempt[] = [];
  for (const o of objects.filter((x) => x.class === 'private-key' || x.class === 'secret-key')) {
    try {
      const r = await run(b, { op: 'extraction', key: { label: o.label, id: o.id, classes: [o.class] } });
      out.push({ object: o, report: { key: r.key, read: r.read, wrap: r.wrap } });
    } catch (err) {
      if (err instanceof UsageError && /no CLI command/.test(err.message)) out.push({ object: o, notRun: 'the attempt runs on local tokens only' });
      else out.push({ object: o, failure: failureOf(err) });
    }
  }
  return out;
}

// ---- the lab's views ----------------------------------------------------------------------------

/** The part of an agent's status file the suites read (docs/hsm-sync.md). */
export interface SyncStatusView {
  state?: string;
  pid?: number;
  kek?: { kcv: string | null };
  session?: { local: string; remote: string } | null;
  lastSession?: { local: string; remote: string } | null;
  journal?: { seq: number; acked: number; pending: number } | null;
  counters?: Record<string, number>;
  latencyMs?: { n: number; p50: number | null; p95: number | null };
  bytes?: { sent: number; received: number };
}

export const syncStatus = (lab: Lab, site: SiteName): SyncStatusView | undefined => lab.hsmSyncStatus(site) as SyncStatusView | undefined;

/** Waits until the primary has a session with an agreed KEK and nothing pending (ready to replicate). */
export async function replicationReady(lab: Lab, deadlineMs = 120_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const p = syncStatus(lab, 'alice');
    if (p?.session && p.kek?.kcv && p.state === 'idle' && (p.journal?.pending ?? 0) === 0) return;
    if (Date.now() > end) throw new Error(`the replication agents did not get ready within ${deadlineMs} ms (primary: ${p?.state ?? 'no status'})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A's WireGuard peer: transfer counters and the PSK's fingerprint. */
export async function wgSample(lab: Lab): Promise<{ rx: number; tx: number; psk: string; at: number }> {
  const w = lab.info.sites.alice.wireguard;
  const p = await samplePeer(lab.driver('alice'), w.interface, w.peer, 5_000);
  return { rx: p.rx, tx: p.tx, psk: p.pskFingerprint, at: p.at };
}

/** `ip -j route get HOST` in the site's namespace: the device, or null. */
export async function routeDevice(lab: Lab, site: SiteName, hostAddr: string): Promise<string | null> {
  const r = await lab.driver(site).run(['ip', '-j', 'route', 'get', hostAddr], { timeoutMs: 5_000 });
  if (r.code !== 0) return null;
  try {
    return (JSON.parse(r.stdout) as Array<{ dev?: string }>)[0]?.dev ?? null;
  } catch {
    return null;
  }
}

/** One TCP connection attempt from the site's namespace (bash /dev/tcp), under `timeoutS`. */
export async function tryConnect(lab: Lab, site: SiteName, hostAddr: string, port: number, timeoutS = 3): Promise<{ target: string; outcome: ConnectOutcome; detail?: string }> {
  const target = `${hostAddr}:${port}`;
  const r = await lab.driver(site).run(['timeout', String(timeoutS), 'bash', '-c', `exec 3<>/dev/tcp/${hostAddr}/${port}`], { timeoutMs: (timeoutS + 5) * 1000 });
  if (r.code === 0) return { target, outcome: 'connected' };
  if (r.code === 124) return { target, outcome: 'timeout' };
  if (/refused/i.test(r.stderr)) return { target, outcome: 'refused' };
  if (/unreachable|no route/i.test(r.stderr)) return { target, outcome: 'unreachable', detail: r.stderr.trim().split('\n').pop() };
  return { target, outcome: 'error', detail: `exit ${r.code ?? r.signal}: ${r.stderr.trim().split('\n').pop() ?? ''}` };
}

/**
 * The control attempt of hsm/11 (is the service up at all?): its tunnel address from `site`, retried for
 * up to `forMs` (the tunnel may be between PSKs for a moment), then from the service's own site
 * (`serviceSite`), which proves it listens there whatever the tunnel's state. The outcome says which.
 */
export async function tryConnectUntilUp(lab: Lab, site: SiteName, hostAddr: string, port: number, forMs = 10_000, serviceSite: SiteName = 'bob'): Promise<{ target: string; outcome: ConnectOutcome; detail?: string }> {
  const end = Date.now() + forMs;
  for (;;) {
    const r = await tryConnect(lab, site, hostAddr, port);
    if (r.outcome === 'connected') return { ...r, detail: `from ${site} through the tunnel` };
    if (Date.now() > end) {
      const local = await tryConnect(lab, serviceSite, hostAddr, port);
      return { ...local, detail: `from ${serviceSite} itself (from ${site}: ${r.outcome}${r.detail ? `, ${r.detail}` : ''})` };
    }
    await new Promise((res) => setTimeout(res, 500));
  }
}

export const SERVICE = { tunnel: ADDRESSES.overlay.bob, underlay: ADDRESSES.underlay.bob, port: PORTS.hsmSync, primaryTunnel: ADDRESSES.overlay.alice };

/** Reports a verdict like the other e2e suites, with the run's source and, for measurements, the figures. */
export async function reportHsm(v: Verdict, source: string, evidence: string[] = []): Promise<void> {
  await report(v, undefined);
  await allure.parameter('source', source.split(' ')[0]!);
  await allure.parameter('run', source, { excluded: true });
  if (evidence.length) await allure.attachment('sites', evidence.join('\n'), 'text/plain');
}

