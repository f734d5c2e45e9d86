// The negative control can fail (wg/22): a lab built with a blind probe (instrument fault
// probe-always-replies: every datagram counts as answered) must record a failed control naming the
// probe, and a verdict of that lab reported through the fixture must come out `error`, never pass.
// The healthy case (a normal lab's control passes) is wg/22 in psk-agreement.test.ts. One lab, without
// PQC, tokens or rotations (~20 s); the judging and the wire budget are also checked pure, without a lab.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../src/lab/lab.ts';
import { cleanupStale } from '../../src/lab/cleanup.ts';
import { judgeNegativeControl, type ControlPhase } from '../../src/lab/negative-control.ts';
import { encKeysTimes, rolesFromKmeLogs, rolesSummary, type LabRun, type WireRow } from '../../src/lab/observe.ts';
import { probeAnswers, probeSinceFirstUp } from '../../src/lab/probe.ts';
import type { Verdict } from './checks.ts';
import { negativeControlVerdict, wireBudget } from './lab-checks.ts';
import { controlGate, labGate, report, titled } from './fixture.ts';

const gate = labGate();
const labs: Lab[] = [];
let lab: Lab;

const phase = (replies: number, hs: number, ms = 3_000): ControlPhase => ({ probeReplies: { alice: replies, bob: replies }, handshakes: { alice: hs, bob: hs }, ms });

describe('negative control and wire budget, judged (no lab)', () => {
  it('the control passes only on silence with different PSKs and traffic with the equal one', () => {
    expect(judgeNegativeControl(phase(0, 0), phase(3, 1_000), 1_000)).toEqual({ ok: true });
    // handshake-always: a reader that always sees a handshake is caught in the mismatch phase.
    const always = judgeNegativeControl(phase(0, 999), phase(3, 1_000), 1_000);
    expect(always.ok).toBe(false);
    expect(always.why).toMatch(/a handshake completed on alice with different PSKs/);
    // A probe that never sees anything is caught in the match phase.
    const deaf = judgeNegativeControl(phase(0, 0), phase(0, 1_000), 1_000);
    expect(deaf.why).toMatch(/the probe of alice got no answer with equal PSKs/);
    // A handshake older than the match phase is not the equal PSK's.
    expect(judgeNegativeControl(phase(0, 0), phase(3, 999), 1_000).why).toMatch(/no handshake completed on bob/);
  });

  it('probe counters run from the first answer after a moment, not from the start', () => {
    const log = [
      { k: 'start', t: 0, target: 'x', intervalMs: 100, timeoutMs: 1_000 },
      { k: 'up', t: 500 }, // the control's equal PSK
      { k: 'sum', t: 1_000, sent: 10, ok: 3, lost: 7, late: 0, rttP50: 1, rx: 3 },
      { k: 'sum', t: 2_000, sent: 20, ok: 5, lost: 15, late: 0, rttP50: 1, rx: 5 },
      { k: 'up', t: 5_000 }, // the key control's first agreed PSK
      { k: 'sum', t: 6_000, sent: 60, ok: 12, lost: 48, late: 0, rttP50: 1, rx: 12 },
      { k: 'sum', t: 9_000, sent: 90, ok: 41, lost: 49, late: 0, rttP50: 1, rx: 41 },
    ].map((r) => JSON.stringify(r)).join('\n');
    expect(probeSinceFirstUp(log, 3_000)).toEqual({ from: 5_000, sent: 30, ok: 29, lost: 1, loss: 1 / 30 });
    expect(probeSinceFirstUp(log, 9_500).from).toBeNull();
    expect(probeAnswers(log)).toEqual({ rx: 41, ups: [500, 5_000] });
  });

  it('roles come from which KME served enc_keys before each rotation', () => {
    const a = '2026-01-01T00:00:09.000Z KME_A GET /api/v1/keys/SAE_B/enc_keys?number=1&size=256 200 sae=SAE_A 3.0ms keys=k:sha256:1\n2026-01-01T00:00:19.000Z KME_A GET /api/v1/keys/SAE_B/enc_keys?number=1&size=256 503 sae=SAE_A 1.0ms';
    const b = '2026-01-01T00:00:19.500Z KME_B GET /api/v1/keys/SAE_A/enc_keys?number=1&size=256 200 sae=SAE_B 3.0ms keys=k:sha256:2';
    const t0 = Date.parse('2026-01-01T00:00:00.000Z');
    const roles = rolesFromKmeLogs([{ index: 1, start: t0 + 9_200 }, { index: 2, start: t0 + 19_700 }, { index: 3, start: t0 + 29_700 }], { alice: encKeysTimes(a), bob: encKeysTimes(b) }, { firstWindowMs: 10_000 });
    expect(roles.map((r) => r.master)).toEqual(['alice', 'bob', 'unknown']);
    expect(rolesSummary(roles)).toBe('alice master in 1/3 rotations, bob in 1, unknown in 1');
  });

  it('the wire-budget check (wg/23) judges: within budget passes, over budget fails, blind or unread counters are errors', () => {
    const row = (rotation: number, kc: number, link: number): WireRow => ({
      rotation,
      from: 0,
      to: 1,
      protocols: { 'key-control': { packets: kc, bytes: kc * 60 }, 'kms-link': { packets: link, bytes: link * 100 }, pqc: { packets: 0, bytes: 0 }, wireguard: { packets: 100, bytes: 10_000 } },
    });
    const series = { initial: 'a', initialAt: 0, changes: [{ site: 'alice', at: 10, after: 5, fp: 'n', prev: 'a' }], handshakes: [], traffic: [], samples: 1, seen: {}, errors: [] };
    const run = (rows: WireRow[], error?: string) => ({ sites: ['alice', 'bob'], series: { alice: series, bob: { ...series, initial: 'b', changes: [{ ...series.changes[0]!, site: 'bob', prev: 'b' }] } }, wire: { where: 'veth', rows, ...(error ? { error } : {}) }, roles: [] }) as unknown as LabRun;
    const budget = { bytes: 4_096, packets: 20 };
    expect(wireBudget(run([row(1, 8, 4)]), budget).outcome).toBe('pass');
    expect(wireBudget(run([row(1, 30, 4)]), budget).outcome).toBe('fail');
    expect(wireBudget(run([row(1, 0, 4)]), budget)).toMatchObject({ outcome: 'error', summary: expect.stringMatching(/no key-control packet counted/) });
    expect(wireBudget(run([], 'nft: table gone'), budget)).toMatchObject({ outcome: 'error', summary: expect.stringMatching(/table gone/) });
    expect(wireBudget(run([]), budget).outcome).toBe('error'); // a rotation seen, none counted
  });
});

describe.skipIf(Boolean(gate.skip))(titled('Negative control with a blind probe', gate), () => {
  beforeAll(async () => {
    if (gate.fail) throw new Error(gate.fail);
    await cleanupStale();
    lab = await Lab.up({ hsm: false, pqc: false, intervalS: 60, instrumentFaults: ['probe-always-replies'] });
    labs.push(lab);
  }, 90_000);
  afterAll(async () => {
    await Promise.all(labs.map((l) => l.down()));
  }, 30_000);

  it('a blind probe (probe-always-replies) fails the negative control, and every verdict of that lab is error', async () => {
    const nc = lab.info.negativeControl!;
    expect(nc, 'the lab ran its negative control').toBeDefined();
    expect(nc.ok).toBe(false);
    expect(nc.why).toMatch(/the probe of (alice|bob) got \d+ answers with different PSKs/);
    expect(nc.instrumentFaults).toEqual(['probe-always-replies']);
    // wg/22 of this lab fails, naming the probe.
    expect(negativeControlVerdict(lab.info)).toMatchObject({ outcome: 'fail', summary: expect.stringMatching(/negative control failed: .*probe/) });
    // A passing verdict of this lab, through the fixture: error, and report() fails the test.
    const v: Verdict = { id: 'wg/1', outcome: 'pass', summary: 'both sites held the same PSK', evidence: {} };
    expect(controlGate(v, lab)).toMatchObject({ outcome: 'error', summary: expect.stringMatching(/^negative control failed: .*probe/) });
    await expect(report(v, { run: { config: { handshakes: 'forced' } } as unknown as LabRun, lab, source: `lab ${lab.runId}` })).rejects.toThrow(/wg\/1: negative control failed/);
    expect(v.outcome).toBe('error');
    // The lab stayed up for a person to look at: its processes run.
    expect(lab.processes.filter((p) => p.running).length).toBeGreaterThan(5);
  });
});
