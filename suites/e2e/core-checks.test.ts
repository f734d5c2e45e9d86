// The core end-to-end checks (wg/1, wg/4, wg/5, wg/6, wg/9 and wg/13's recovery, suites/e2e/checks.ts)
// on synthetic observations: each passes on a faithful timeline and fails on the timeline the fault it
// exists for produces — the same proof the kill labs of faults.test.ts give with real faulty agents (the
// nightly profile), without a lab. Test names do not start with the IDs: those are the lab suites' own.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { derivePsk } from '../../src/psk/index.ts';
import { fingerprint } from '../../src/secrets/fingerprint.ts';
import type { AgentRecord, PqcRecord } from '../../src/sites/timeline.ts';
import { handshakeAndTraffic, pskAgreement, pskDerivation, recovery, rotationSkew, sameFreshInputs } from './checks.ts';
import { at, inStep, run } from './synthetic.ts';

/** A hybrid rotation as our agent records it: KMS key and PQC key (base64), and the PSK's fingerprint. */
function rotation(t: number, keyId: string, pqc = randomBytes(32)): { record: AgentRecord; fp: string; pqcFp: string } {
  const kms = randomBytes(32);
  const fp = derivePsk({ mode: 'hybrid', qkd: kms, pqc }).fingerprint;
  const pqcFp = fingerprint(pqc);
  return { record: { t: at(t), role: 'master', keyId, kind: 'hybrid', kmsKey: kms.toString('base64'), pqc: pqc.toString('base64'), kmsFp: fingerprint(kms), pqcFp, pskFp: fp }, fp, pqcFp };
}

describe('core end-to-end checks on synthetic observations', () => {
  it('PSK agreement (wg/1): equal PSKs after every rotation pass; one site left on the old PSK fails; no rotation fails', () => {
    const r = inStep(10, 40);
    expect(pskAgreement(run({ changes: { alice: r.a, bob: r.b }, endS: 45 })).outcome).toBe('pass');
    // one-sided: alice installs k20, bob never hears of it.
    const v = pskAgreement(run({ changes: { alice: r.a, bob: r.b.filter(([t]) => Math.round(t) !== 20) }, endS: 45 }));
    expect(v.outcome).toBe('fail');
    expect(v.summary).toMatch(/rotation \d+: alice holds k20, bob holds k10/);
    expect(pskAgreement(run({ changes: { alice: [], bob: [] }, endS: 45 })).outcome).toBe('fail');
  });

  it('rotation skew (wg/9): sites 0.1 s apart pass; 5 s apart fail', () => {
    const r = inStep(10, 40);
    expect(rotationSkew(run({ changes: { alice: r.a, bob: r.b }, endS: 45 })).outcome).toBe('pass');
    const skewed = run({ changes: { alice: r.a, bob: r.b.map(([t, fp]) => [t + 4.9, fp] as [number, string]) }, endS: 50 });
    const v = rotationSkew(skewed);
    expect(v.outcome).toBe('fail');
    expect(v.summary).toMatch(/the sites changed 5\.\d s apart \(bound 2\.0 s\)/);
  });

  it('handshake and traffic (wg/6): a handshake and the probe after each rotation pass; a tunnel down after the rotation fails', () => {
    const r = inStep(10, 40);
    const hs = [10.5, 20.5, 30.5, 40.5];
    expect(handshakeAndTraffic(run({ changes: { alice: r.a, bob: r.b }, handshakes: { alice: hs, bob: hs }, endS: 45 })).outcome).toBe('pass');
    // kms-outage on bob: no handshake after the rotation at 20 s, the probe down from then on.
    const down = run({ changes: { alice: r.a, bob: r.b }, handshakes: { alice: [10.5], bob: [10.5] }, outages: { alice: [[20.2, null]], bob: [[20.2, null]] }, endS: 45 });
    expect(handshakeAndTraffic(down).outcome).toBe('fail');
  });

  it('recovery (wg/13): the first rotation that breaks and the time until both agree with traffic again', () => {
    const before = inStep(10, 10);
    const after = inStep(30, 40);
    const o = run({ changes: { alice: [...before.a, [20, 'x20'], ...after.a], bob: [...before.b, ...after.b] }, outages: { alice: [[20.2, 30.5]], bob: [[20.2, 30.5]] }, endS: 45 });
    const r = recovery(o, at(15));
    expect(r.brokeAt).toBe(at(20));
    expect(r.recoveryMs! / 1000).toBeCloseTo(10.5, 1);
    // Never in step again: no recovery.
    const never = run({ changes: { alice: [...before.a, [20, 'x20'], [30, 'x30'], [40, 'x40']], bob: before.b }, outages: { alice: [[20.2, null]], bob: [[20.2, null]] }, endS: 45 });
    expect(recovery(never, at(15)).recoveryMs).toBeNull();
  });

  it('derivation (wg/4): installed PSKs that equal the recomputed derivation pass; a wrong derivation fails; a random fail-closed PSK fails', () => {
    const k1 = rotation(10, 'id-1');
    const k2 = rotation(20, 'id-2');
    const changes = { alice: [[10, k1.fp], [20, k2.fp]] as Array<[number, string]>, bob: [[10.1, k1.fp], [20.1, k2.fp]] as Array<[number, string]> };
    const agent = { alice: [k1.record, k2.record], bob: [{ ...k1.record, t: at(10.1) }, { ...k2.record, t: at(20.1) }] };
    expect(pskDerivation(run({ changes, agent, endS: 25 })).outcome).toBe('pass');
    // wrong-derivation on bob: it installs (and records) a PSK its inputs do not give.
    const wrong = fingerprint(randomBytes(32));
    const bad = run({ changes: { ...changes, bob: [[10.1, k1.fp], [20.1, wrong]] }, agent: { ...agent, bob: [{ ...k1.record, t: at(10.1) }, { ...k2.record, t: at(20.1), pskFp: wrong }] }, endS: 25 });
    const v = pskDerivation(bad);
    expect(v.outcome).toBe('fail');
    expect(v.summary).toContain(`bob: installed ${wrong}, the hybrid derivation of key id-2 gives ${k2.fp}`);
    const random = run({ changes, agent: { ...agent, bob: [{ ...k1.record, t: at(10.1) }, { ...k2.record, t: at(20.1), kind: 'random' }] }, endS: 25 });
    expect(pskDerivation(random).summary).toMatch(/bob: .* is a fail-closed random PSK/);
  });

  it('same fresh inputs (wg/5): the same KMS and PQC keys on both sites pass; a stale PQC key on one site fails; nothing used fails', () => {
    const k1 = rotation(10, 'id-1');
    const exchanged: PqcRecord[] = [{ t: at(5), epoch: 1, why: 'exchanged', fp: k1.pqcFp }];
    const agent = { alice: [k1.record], bob: [{ ...k1.record, t: at(10.1) }] };
    expect(sameFreshInputs(run({ changes: { alice: [], bob: [] }, agent, pqc: { alice: exchanged, bob: exchanged }, endS: 25 })).outcome).toBe('pass');
    // stale-pqc on bob: its key expired at 8 s and it mixed a different (stale) key in at 10 s.
    const staleFp = fingerprint(randomBytes(32));
    const stale = run({ changes: { alice: [], bob: [] }, agent: { ...agent, bob: [{ ...k1.record, t: at(10.1), pqcFp: staleFp }] }, pqc: { alice: exchanged, bob: [...exchanged, { t: at(8), epoch: 1, why: 'stale', fp: staleFp }] }, endS: 25 });
    const v = sameFreshInputs(stale);
    expect(v.outcome).toBe('fail');
    expect(v.summary).toMatch(/key id-1: bob mixed in a stale PQC key/);
    expect(v.summary).toMatch(/the PQC key differs/);
    expect(sameFreshInputs(run({ changes: { alice: [], bob: [] }, agent: { alice: [], bob: [] }, endS: 25 })).outcome).toBe('fail');
  });
});
