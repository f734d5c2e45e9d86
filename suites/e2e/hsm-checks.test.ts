// Every HSM judgement can fail, and says `error` (never `pass`) when it saw nothing: each is fed a
// healthy observation, a mutated one and an empty one. Pure — no lab, no token. (The fault rows of
// hsm-faults.test.ts show the same on a running lab for the checks an agent fault can break.)
import { describe, expect, it } from 'vitest';
import { compareInventories } from '../../src/hsm/compare.ts';
import type { Inventory, InventoryEntry } from '../../src/hsm/inventory.ts';
import type { UnderlaySample } from '../../src/lab/underlay-counters.ts';
import { COUNTED } from '../../src/lab/underlay-counters.ts';
import {
  aesAcross,
  appearsOnB,
  destroyPropagates,
  exactlyOnce,
  latencyReport,
  nameKey,
  outageCatchUp,
  protectionKept,
  rotationLosesNothing,
  routeViaTunnel,
  rsaAcross,
  signAcross,
  underlayOnlyAllowed,
  underlayUnreachable,
  wgCountersCover,
  type Arrival,
  type MadeKey,
} from './hsm-checks.ts';

const token = (label: string) => ({ slot: '1', label, manufacturer: 'x', model: 'x', serial: '1', initialized: true, userPinInitialized: true, loginRequired: true });
const aes = (label: string, fp = 'kcv:abcdef', sensitive = true, extractable = false): InventoryEntry => ({ class: 'secret-key', label, id: '01', keyType: 'aes', handle: '1', fingerprint: fp, protection: { sensitive, extractable } });
const inv = (label: string, ...objects: InventoryEntry[]): Inventory => ({ token: token(label), objects });
const T0 = 1_000_000;
const key: MadeKey = { kind: 'aes', label: 'k', id: '01', objects: [{ class: 'secret-key', label: 'k', id: '01' }], madeAt: T0 };
const A = inv('a', aes('k', 'kcv:abcdef', true, true));
const arrived = (at: number | null): Map<string, Arrival> => new Map([[nameKey(key.objects[0]!), { seenAt: at, matchedAt: at }]]);

function sample(counts: Partial<Record<(typeof COUNTED)[number], number>>): UnderlaySample {
  const protocols = Object.fromEntries(COUNTED.map((p) => {
    const n = counts[p] ?? 0;
    return [p, { packets: n, bytes: n * 100, in: { packets: n, bytes: n * 100 }, out: { packets: 0, bytes: 0 } }];
  })) as UnderlaySample['protocols'];
  return { at: T0, protocols };
}

describe('HSM judgements fail on bad observations and never pass on none', () => {
  it('appears: pass, wrong fingerprint, absent after the deadline, absent before it (error), nothing made (error)', () => {
    const B = inv('b', aes('k'));
    expect(appearsOnB([key], A, B, arrived(T0 + 500), 10_000, T0 + 600).outcome).toBe('pass');
    expect(appearsOnB([key], A, inv('b', aes('k', 'kcv:000000')), arrived(null), 10_000, T0 + 20_000).outcome).toBe('fail');
    expect(appearsOnB([key], A, inv('b'), arrived(null), 10_000, T0 + 20_000).outcome).toBe('fail');
    expect(appearsOnB([key], A, inv('b'), arrived(null), 10_000, T0 + 2_000).outcome).toBe('error');
    expect(appearsOnB([], A, B, new Map(), 10_000, T0).outcome).toBe('error');
  });

  it('exactly once: two copies fail, none fails', () => {
    const B2 = inv('b', aes('k'), aes('k'));
    expect(exactlyOnce([key], inv('b', aes('k')), compareInventories(A, inv('b', aes('k')))).outcome).toBe('pass');
    expect(exactlyOnce([key], B2, compareInventories(A, B2)).outcome).toBe('fail');
    expect(exactlyOnce([key], inv('b'), compareInventories(A, inv('b'))).outcome).toBe('fail');
  });

  it('crypto across the sites: a wrong round trip or a refusal fails, a transport failure is an error, no trial is an error', () => {
    const k = key.objects[0]!;
    for (const check of [rsaAcross, aesAcross, signAcross]) {
      expect(check([{ what: 'x', key: k, ok: true, mechanism: 'M' }]).outcome).toBe('pass');
      expect(check([{ what: 'x', key: k, ok: false }]).outcome).toBe('fail');
      expect(check([{ what: 'x', key: k, failure: { transport: false, message: 'CKR_ENCRYPTED_DATA_INVALID' } }]).outcome).toBe('fail');
      expect(check([{ what: 'x', key: k, failure: { transport: true, message: 'deadline' } }]).outcome).toBe('error');
      expect(check([]).outcome).toBe('error');
    }
  });

  it('destroy: still on B fails; a kept key gone too fails; nothing destroyed is an error', () => {
    const o = key.objects[0]!;
    expect(destroyPropagates([o], T0, new Map([[nameKey(o), T0 + 500]]), [], inv('b'), 10_000).outcome).toBe('pass');
    expect(destroyPropagates([o], T0, new Map([[nameKey(o), null]]), [], inv('b', aes('k')), 10_000).outcome).toBe('fail');
    expect(destroyPropagates([o], T0, new Map([[nameKey(o), T0 + 500]]), [{ class: 'secret-key', label: 'other', id: '01' }], inv('b'), 10_000).outcome).toBe('fail');
    expect(destroyPropagates([], null, new Map(), [], inv('b'), 10_000).outcome).toBe('error');
  });

  it('protection: non-sensitive, extractable, readable or extracted copies fail; nothing replicated is an error', () => {
    const objects = key.objects;
    const ok = inv('b', aes('k'));
    const refused = { key: { ...objects[0]!, handle: '1' }, read: { outcome: 'refused' as const, ckr: 'CKR_ATTRIBUTE_SENSITIVE' }, wrap: { outcome: 'refused' as const, mechanism: 'CKM_AES_CBC_PAD', ckr: 'CKR_KEY_UNEXTRACTABLE' } };
    expect(protectionKept(objects, ok, compareInventories(A, ok), [{ object: objects[0]!, report: refused }]).outcome).toBe('pass');
    const weak = inv('b', aes('k', 'kcv:abcdef', false, false));
    expect(protectionKept(objects, weak, compareInventories(A, weak), []).outcome).toBe('fail');
    const extractable = inv('b', aes('k', 'kcv:abcdef', true, true));
    expect(protectionKept(objects, extractable, compareInventories(A, extractable), []).outcome).toBe('fail');
    expect(protectionKept(objects, ok, compareInventories(A, ok), [{ object: objects[0]!, report: { ...refused, wrap: { outcome: 'extracted', mechanism: 'CKM_AES_CBC_PAD', bytes: 32, kcvMatches: true } } }]).outcome).toBe('fail');
    expect(protectionKept(objects, ok, compareInventories(A, ok), [{ object: objects[0]!, report: { ...refused, read: { outcome: 'readable', bytes: 32 } } }]).outcome).toBe('fail');
    expect(protectionKept([], ok, compareInventories(A, ok), []).outcome).toBe('error');
  });

  it('route: a session outside the tunnel or a route via another device fails; no session is an error', () => {
    const good = { primary: { local: '203.0.113.1:4000', remote: '203.0.113.2:5656' }, replica: { local: '203.0.113.2:5656', remote: '203.0.113.1:4000' }, routeDevice: 'wg0', wgInterface: 'wg0', serviceHost: '203.0.113.2', primaryTunnelHost: '203.0.113.1' };
    expect(routeViaTunnel(good).outcome).toBe('pass');
    expect(routeViaTunnel({ ...good, routeDevice: 'veth0' }).outcome).toBe('fail');
    expect(routeViaTunnel({ ...good, primary: { local: '198.51.100.1:4000', remote: '198.51.100.2:5656' } }).outcome).toBe('fail');
    expect(routeViaTunnel({ ...good, primary: null, replica: null }).outcome).toBe('error');
  });

  it('WireGuard counters: less tunnel traffic than replication traffic fails; no replication traffic is an error', () => {
    expect(wgCountersCover({ tx: 5000, rx: 3000 }, { sent: 4000, received: 1000 }, 10_000).outcome).toBe('pass');
    expect(wgCountersCover({ tx: 3000, rx: 3000 }, { sent: 4000, received: 1000 }, 10_000).outcome).toBe('fail');
    expect(wgCountersCover({ tx: 5000, rx: 500 }, { sent: 4000, received: 1000 }, 10_000).outcome).toBe('fail');
    expect(wgCountersCover({ tx: 5000, rx: 3000 }, { sent: 0, received: 0 }, 10_000).outcome).toBe('error');
  });

  it('underlay: hsm-sync, KME or other packets fail; no WireGuard packet is an error', () => {
    const healthy = sample({ wireguard: 100, 'key-control': 4, 'kms-link': 3, link: 1 });
    expect(underlayOnlyAllowed({ alice: healthy }, 10_000).outcome).toBe('pass');
    for (const bad of ['hsm-sync', 'kme', 'other'] as const) expect(underlayOnlyAllowed({ alice: sample({ wireguard: 100, [bad]: 1 }) }, 10_000).outcome).toBe('fail');
    expect(underlayOnlyAllowed({ alice: sample({ 'key-control': 4 }) }, 10_000).outcome).toBe('error');
    expect(underlayOnlyAllowed({}, 10_000).outcome).toBe('error');
  });

  it('unreachable: a connection on the underlay fails; a control that does not connect is an error', () => {
    const tunnel = { target: 't', outcome: 'connected' as const };
    expect(underlayUnreachable({ target: 'u', outcome: 'refused' }, tunnel).outcome).toBe('pass');
    expect(underlayUnreachable({ target: 'u', outcome: 'timeout' }, tunnel).outcome).toBe('pass');
    expect(underlayUnreachable({ target: 'u', outcome: 'connected' }, tunnel).outcome).toBe('fail');
    expect(underlayUnreachable({ target: 'u', outcome: 'refused' }, { target: 't', outcome: 'refused' }).outcome).toBe('error');
  });

  it('outage: a lost, duplicated or surviving key fails; no catch-up fails; a cut that did not cut is an error', () => {
    const o = key.objects[0]!;
    const gone = { class: 'secret-key', label: 'gone', id: '01' };
    const base = { outageMs: 8_000, made: [o], destroyed: [gone], leakedDuringOutage: [], restoredAt: T0, caughtUpAt: T0 + 2_000, deadlineMs: 60_000 };
    const B = inv('b', aes('k'));
    expect(outageCatchUp({ ...base, invB: B, comparison: compareInventories(A, B) }).outcome).toBe('pass');
    expect(outageCatchUp({ ...base, caughtUpAt: null, invB: inv('b'), comparison: compareInventories(A, inv('b')) }).outcome).toBe('fail');
    const dup = inv('b', aes('k'), aes('k'));
    expect(outageCatchUp({ ...base, invB: dup, comparison: compareInventories(A, dup) }).outcome).toBe('fail');
    const left = inv('b', aes('k'), aes('gone'));
    expect(outageCatchUp({ ...base, invB: left, comparison: compareInventories(A, left) }).outcome).toBe('fail');
    expect(outageCatchUp({ ...base, caughtUpAt: null, invB: B, comparison: compareInventories(A, B) }).outcome).toBe('fail');
    expect(outageCatchUp({ ...base, leakedDuringOutage: ['k arrived'], invB: B, comparison: compareInventories(A, B) }).outcome).toBe('error');
  });

  it('rotation: a key lost across a rotation fails; no rotation, or keys on one side of it only, is an error', () => {
    const after: MadeKey = { ...key, label: 'k2', objects: [{ class: 'secret-key', label: 'k2', id: '01' }], madeAt: T0 + 5_000 };
    const psks = [{ fp: 'sha256:1', seenAt: T0 - 1 }, { fp: 'sha256:2', seenAt: T0 + 4_000 }];
    const keys = [{ label: 'k', id: '01', before: 'sha256:1', after: 'sha256:1' }, { label: 'k2', id: '01', before: 'sha256:2', after: 'sha256:2' }];
    const B = inv('b', aes('k'), aes('k2'));
    expect(rotationLosesNothing([key, after], { psks, keys }, B).outcome).toBe('pass');
    expect(rotationLosesNothing([key, after], { psks, keys }, inv('b', aes('k'))).outcome).toBe('fail');
    expect(rotationLosesNothing([key, after], { psks: psks.slice(0, 1), keys }, B).outcome).toBe('error');
    // The second key's generation straddled the change: keys under one PSK only.
    expect(rotationLosesNothing([key, after], { psks, keys: [keys[0]!, { ...keys[1]!, before: 'sha256:1' }] }, B).outcome).toBe('error');
  });

  it('latency: figures reported as a pass; nothing measured is an error', () => {
    const v = latencyReport([key], arrived(T0 + 120), { n: 1, p50: 20, p95: 30 });
    expect(v.outcome).toBe('pass');
    expect(v.evidence).toMatchObject({ madeToFoundMs: { p50: 120, p95: 120 }, agentPutToAckMs: { p50: 20 } });
    expect(latencyReport([key], arrived(null), null).outcome).toBe('error');
    expect(latencyReport([], new Map(), null).outcome).toBe('error');
  });
});
