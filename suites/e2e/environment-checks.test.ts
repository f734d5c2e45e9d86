// The environmental-fault checks (wg/15 … wg/21, suites/e2e/checks.ts) on synthetic observations: each
// passes on a faithful timeline, fails on the timeline a key control that ignores the fault produces, and
// is `error` — never a pass — when it saw nothing. Fast (no lab); test names do not start with the IDs
// (the lab tests in environment.test.ts are each requirement's own test).
import { describe, expect, it } from 'vitest';
import { at, inStep, run, win } from './synthetic.ts';
import { decoyPeerUntouched, kmsEmptyPool, kmsHangRecovery, kmsRefuseRecovery, pqcFailure, pskOverwriteRestored, underlayCut } from './checks.ts';

describe('environmental-fault checks on synthetic observations', () => {
  it('KMS faults on the backup (wg/15, wg/16): recovery after the window passes, a stalled key control fails, too short an observation is an error', () => {
    const w = [win('kms-hang', 'bob', 11, 26), win('kms-refuse', 'bob', 11, 26)];
    // Faithful: during the window bob misses alice's keys (the protocol's divergence), catches up after it.
    const before = inStep(10, 10);
    const after = inStep(30, 50);
    const faithful = run({
      changes: { alice: [...before.a, [20, 'w20'], ...after.a], bob: [...before.b, [27, 'w20'], ...after.b] },
      outages: { alice: [[20.2, 30.5]], bob: [[20.2, 30.5]] },
      endS: 60,
    });
    for (const check of [kmsHangRecovery, kmsRefuseRecovery]) {
      const v = check(faithful, w, { kmsGiveUpMs: 3_600 });
      expect(v.outcome, v.summary).toBe('pass');
      expect(v.evidence.recoveryS).toBeCloseTo(4.5, 1);
    }
    // Stalled (no-kms-deadline / stop-on-kms-error): alice goes on alone.
    const stalled = run({ changes: { alice: [...before.a, [20, 'w20'], [30, 'x30'], [40, 'x40'], [50, 'x50'], [60, 'x60']], bob: before.b }, outages: { alice: [[20.2, null]], bob: [[20.2, null]] }, endS: 70 });
    expect(kmsHangRecovery(stalled, w, { kmsGiveUpMs: 3_600 }).outcome).toBe('fail');
    expect(kmsRefuseRecovery(stalled, w).outcome).toBe('fail');
    // The same, observed only 10 s past the window: not judged.
    const short = run({ changes: { alice: [...before.a, [20, 'w20'], [30, 'x30']], bob: before.b }, outages: { alice: [[20.2, null]] }, endS: 36 });
    const e = kmsHangRecovery(short, w, { kmsGiveUpMs: 3_600 });
    expect(e.outcome).toBe('error');
    expect(e.summary).toMatch(/observation ended/);
  });

  it('empty input is an error, never a pass: no window, a window that never ended, an observer that saw nothing', () => {
    const r = run({ changes: { alice: inStep(10, 50).a, bob: inStep(10, 50).b }, endS: 60 });
    for (const check of [kmsHangRecovery, kmsRefuseRecovery, kmsEmptyPool, underlayCut, pskOverwriteRestored, decoyPeerUntouched, pqcFailure]) {
      expect(check(r, []).outcome, check.name).toBe('error');
    }
    expect(underlayCut(r, [win('underlay-cut', 'alice', 11, undefined)]).summary).toMatch(/never ended/);
    const blind = run({ changes: { alice: inStep(10, 50).a, bob: inStep(10, 50).b }, endS: 60, polled: (t) => t < 5 || t > 40 });
    const v = underlayCut(blind, [win('underlay-cut', 'alice', 11, 26)]);
    expect(v.outcome).toBe('error');
    expect(v.summary).toMatch(/no sample/);
  });

  it('empty key pool and underlay cut (wg/17, wg/18): a rotation reaching one site during the window fails even when the sites agree later', () => {
    const w = [win('kms-503', 'alice', 11, 26), win('underlay-cut', 'alice', 11, 26)];
    const before = inStep(10, 10);
    const after = inStep(30, 50);
    // Faithful: nothing changes during the cut; rotations resume after it.
    const faithful = run({ changes: { alice: [...before.a, ...after.a], bob: [...before.b, ...after.b] }, outages: { alice: [[11, 26.5]], bob: [[11, 26.5]] }, endS: 60 });
    expect(underlayCut(faithful, w).outcome).toBe('pass');
    expect(kmsEmptyPool(faithful, w).outcome).toBe('pass');
    // install-unacked: alice installs the key_ID she could not deliver.
    const unacked = run({ changes: { alice: [...before.a, [20, 'lonely'], ...after.a], bob: [...before.b, ...after.b] }, outages: { alice: [[11, 30.5]], bob: [[11, 30.5]] }, endS: 60 });
    const v = underlayCut(unacked, w);
    expect(v.outcome).toBe('fail');
    expect(v.summary).toMatch(/lonely\) reached alice only/);
    expect(kmsEmptyPool(unacked, w).outcome).toBe('fail');
  });

  it('PSK overwrite (wg/19): replaced within 5 s passes; kept until the next rotation fails; never seen is an error', () => {
    const r = inStep(10, 40);
    const w = [win('psk-overwrite', 'bob', 11, 11, { pskFingerprint: 'foreign' })];
    const restored = run({ changes: { alice: r.a, bob: [r.b[0]!, [11.2, 'foreign'], [12.1, 'k10'], ...r.b.slice(1)] }, endS: 45 });
    const ok = pskOverwriteRestored(restored, w);
    expect(ok.outcome, ok.summary).toBe('pass');
    expect(ok.evidence.restoreS).toBeCloseTo(1.1, 1);
    const kept = run({ changes: { alice: r.a, bob: [r.b[0]!, [11.2, 'foreign'], ...r.b.slice(1)] }, outages: { alice: [[13, 20.5]] }, endS: 45 });
    const bad = pskOverwriteRestored(kept, w);
    expect(bad.outcome).toBe('fail');
    expect(bad.summary).toMatch(/9\.\d s after the overwrite/);
    // The observer polled past it and the suite's read missed it too: blind, not a pass.
    const unseen = run({ changes: { alice: r.a, bob: r.b }, endS: 45 });
    expect(pskOverwriteRestored(unseen, w).outcome).toBe('error');
    expect(pskOverwriteRestored(unseen, w, { samples: [{ at: at(11.05), site: 'bob', peer: 'p', fp: 'other' }] }).outcome).toBe('error');
    // Seen only by the suite's own read right after the overwrite: judged (restored before the next poll).
    const v = pskOverwriteRestored(unseen, w, { samples: [{ at: at(11.05), site: 'bob', peer: 'p', fp: 'foreign' }] });
    expect(v.outcome).not.toBe('error');
    // Seen only by the injector's read-back in the same shell as the set; a read-back of another PSK is no sighting.
    const readBack = pskOverwriteRestored(unseen, [win('psk-overwrite', 'bob', 11, 11, { pskFingerprint: 'foreign', pskReadBack: 'foreign' })]);
    expect([readBack.outcome, readBack.evidence.seenBy]).toEqual([v.outcome, 'read back after the set']);
    expect(pskOverwriteRestored(unseen, [win('psk-overwrite', 'bob', 11, 11, { pskFingerprint: 'foreign', pskReadBack: 'k9' })]).outcome).toBe('error');
  });

  it('decoy peer (wg/20): (none) throughout and rotations in step passes; a PSK on the decoy fails; no read of the decoy is an error', () => {
    const r = inStep(10, 40);
    const w = [win('decoy-peer', 'alice', 11, 26, { decoyPublicKey: 'DECOY' })];
    const obs = run({ changes: { alice: r.a, bob: r.b }, endS: 45 });
    const reads = (fp: (t: number) => string) => Array.from({ length: 30 }, (_, i) => ({ at: at(11 + i * 0.5), site: 'alice', peer: 'DECOY', fp: fp(11 + i * 0.5) }));
    expect(decoyPeerUntouched(obs, w, { samples: reads(() => '(none)') }).outcome).toBe('pass');
    const v = decoyPeerUntouched(obs, w, { samples: reads((t) => (t >= 20 ? 'k20' : '(none)')) });
    expect(v.outcome).toBe('fail');
    expect(v.summary).toMatch(/decoy peer on alice was given a PSK \(k20\)/);
    expect(decoyPeerUntouched(obs, w).outcome).toBe('error');
    // The real peer did not rotate while the decoy was there.
    const stuck = run({ changes: { alice: r.a.slice(0, 1), bob: r.b.slice(0, 1) }, endS: 45 });
    expect(decoyPeerUntouched(stuck, w, { samples: reads(() => '(none)') }).outcome).toBe('fail');
  });

  it('PQC failure (wg/21): an agreed PSK while the key is stale fails where MODE requires PQC, passes where QKD suffices; no stale key seen is an error', () => {
    const before = inStep(10, 10);
    const after = inStep(40, 50);
    const w = [win('pqc-stale', 'bob', 11, 31)];
    const stale = { alice: [], bob: [{ t: at(11.1), epoch: 1, why: 'stale' as const, fp: 'stalekey' }] };
    // Faithful: the stale key makes the sites differ until the window ends.
    const closed = run({ changes: { alice: [...before.a, [20, 'a20'], [30, 'a30'], ...after.a], bob: [...before.b, [20.1, 'b20'], [30.1, 'b30'], ...after.b] }, outages: { alice: [[20.5, 40.5]], bob: [[20.5, 40.5]] }, endS: 55, pqc: stale });
    const cached = run({ changes: { alice: inStep(10, 50).a, bob: inStep(10, 50).b }, endS: 55, pqc: stale });
    for (const mode of ['QkdAndPqcRequired', 'AtLeastPqcRequired']) {
      expect(pqcFailure(closed, w, { mode }).outcome, mode).toBe('pass');
      const v = pqcFailure(cached, w, { mode });
      expect(v.outcome, mode).toBe('fail');
      expect(v.summary).toMatch(/stale key was not used/);
    }
    expect(pqcFailure(cached, w, { mode: 'AtLeastQkdRequired' }).outcome).toBe('pass');
    expect(pqcFailure(closed, w, { mode: 'AtLeastQkdRequired' }).outcome).toBe('pass');
    expect(pqcFailure(run({ changes: { alice: inStep(10, 50).a, bob: inStep(10, 50).b }, endS: 55 }), w, { mode: 'QkdAndPqcRequired' }).outcome).toBe('error');
    // pqc-stop: both keep the last key, rotations in step.
    const stop = [win('pqc-stop', 'bob', 11, 31)];
    expect(pqcFailure(cached, stop).outcome).toBe('pass');
    const noRotation = run({ changes: { alice: before.a, bob: before.b }, endS: 55 });
    expect(pqcFailure(noRotation, stop).outcome).toBe('error');
  });
});
