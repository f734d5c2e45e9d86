// Shared by the end-to-end suites: where the run comes from (the lab, or a target profile's sites), the
// run's settings from the environment, the skip/fail gate, and reporting a verdict to Allure. A lab whose
// negative control failed (wg/22) cannot judge anything: `report` turns each of its verdicts into
// `error` ("negative control failed: …") and fails the test, whatever the check said.
import * as allure from 'allure-js-commons';
import { expect } from 'vitest';
import { labelOutcome, labelRequirement } from '../../src/report/allure-requirement.ts';
import { cleanupStale } from '../../src/lab/cleanup.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, type LabOptions } from '../../src/lab/lab.ts';
import { keyControlFromEnv, keyControlText } from '../../src/lab/key-control-options.ts';
import { observeLab, rolesSummary, type RoleRow, type WireObservation } from '../../src/lab/observe.ts';
import { labUnavailable } from '../../src/lab/prerequisites.ts';
import { loadSitesProfile } from '../../src/target/load.ts';
import { observeTarget } from '../../src/sites/target-run.ts';
import { timelineSvg } from '../../src/sites/timeline-svg.ts';
import { firstUp, percentile, rotations, type E2eRun } from '../../src/sites/timeline.ts';
import { controlLine } from '../../src/lab/negative-control.ts';
import { wirePerRotation } from './lab-checks.ts';
import { outagesPerRotation, type Verdict } from './checks.ts';

function num(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${v}"`);
  return n;
}

/**
 * QKD_E2E_TARGET    target profile: run against its `sites` instead of the lab
 * QKD_E2E_ROTATIONS rotations to observe (default 2; the nightly run raises it)
 * QKD_E2E_INTERVAL  key-control INTERVAL in seconds (lab default 10, Arnika's own default; for a target, what it is configured with)
 * QKD_E2E_HANDSHAKES forced | natural (lab default forced: rekey brought forward; a target is always natural)
 * QKD_E2E_SKEW_BOUND_MS, QKD_E2E_OUTAGE_BOUND_MS  bounds of wg/9 and wg/11 (default 2000 each)
 * QKD_E2E_KEY_CONTROL[_ALICE|_BOB]  the key control under test in the lab: builtin | exec:COMMAND (as `lab up --key-control`);
 *                   unset: each suite's own choice
 * QKD_E2E_MODE      Arnika MODE of the lab's key controls (default AtLeastQkdRequired)
 * QKD_E2E_FIGURES   directory where each suite writes its figures (rotations, skew, outage, recovery) for `e2e`'s console summary
 */
const keyControl = keyControlFromEnv();
export const settings = {
  target: process.env.QKD_E2E_TARGET || undefined,
  rotations: Math.round(num('QKD_E2E_ROTATIONS', 2)),
  intervalS: process.env.QKD_E2E_INTERVAL ? num('QKD_E2E_INTERVAL', 15) : undefined,
  handshakes: (process.env.QKD_E2E_HANDSHAKES === 'natural' ? 'natural' : 'forced') as 'natural' | 'forced',
  skewBoundMs: num('QKD_E2E_SKEW_BOUND_MS', 2_000),
  outageBoundMs: num('QKD_E2E_OUTAGE_BOUND_MS', 2_000),
  /** Per site, the key control the user put under test (empty: none given). */
  keyControl: keyControl.keyControl,
  mode: keyControl.mode,
};

/**
 * Why suites that need our agent's internals (its recorded inputs, its fault switches) cannot judge this
 * run: a key control was given and one site runs a command (whatever it is, we cannot read its inputs).
 */
export function externalKeyControl(): string | undefined {
  const ext = Object.entries(settings.keyControl).filter(([, k]) => k.kind === 'exec');
  if (!ext.length) return undefined;
  return `needs the built-in agent's internals; the key control under test is external (${ext.map(([s, k]) => `${s}: ${keyControlText(k)}`).join(', ')})`;
}

export interface Gate {
  /** Why the suite is skipped (shown in its title). */
  skip?: string;
  /** Why the suite must fail instead (QKD_REQUIRE_LAB=1 and no lab possible). */
  fail?: string;
}

/** For suites that need the lab itself (faults, lifecycle). */
export function labGate(): Gate {
  if (settings.target) return { skip: 'faults are injected into the lab only (QKD_E2E_TARGET is set)' };
  const why = labUnavailable();
  if (!why) return {};
  return process.env.QKD_REQUIRE_LAB === '1' ? { fail: `QKD_REQUIRE_LAB=1 but the lab cannot run: ${why}` } : { skip: why };
}

/** For suites that run against the lab or a target. */
export function runGate(): Gate {
  return settings.target ? {} : labGate();
}

/** For suites that need the built-in agent itself (its fault switches): skipped under an external key control. */
export function agentGate(): Gate {
  const g = labGate();
  if (g.skip || g.fail) return g;
  const why = externalKeyControl();
  return why ? { skip: why } : {};
}

/**
 * Kill labs (a real faulty component proves a check can fail) observe for minutes: they run in the nightly
 * profile (QKD_NIGHTLY=1). The default run proves the same checks fail on mutated observations (the
 * `*-checks.test.ts` files).
 */
export function nightlyGate(g: Gate): Gate {
  if (g.skip || g.fail || process.env.QKD_NIGHTLY === '1') return g;
  return { skip: 'a kill lab, run by the nightly profile (QKD_NIGHTLY=1)' };
}

export const titled = (title: string, gate: Gate): string => (gate.skip ? `${title} (skipped: ${gate.skip})` : title);

/** Generous hook timeout for one observation of N rotations. */
export function observationTimeoutMs(intervalS: number, rotations = settings.rotations, natural = settings.handshakes === 'natural' || Boolean(settings.target)): number {
  return 60_000 + (rotations + 2) * intervalS * 1000 * 1.6 + (natural ? 140_000 : 10_000);
}

export interface Observed {
  run: E2eRun;
  lab?: Lab;
  source: string;
  /** Lab only: which site acted as master per rotation (KME request logs). */
  roles?: RoleRow[];
  /** Lab only: underlay packets and bytes per protocol per rotation (wg/23). */
  wire?: WireObservation;
}

/** Observes the target profile's sites, or builds a lab with `labOptions` and observes it. */
export async function observe(labOptions: LabOptions, labs: Lab[]): Promise<Observed> {
  if (settings.target) {
    const profile = loadSitesProfile(settings.target); // WireGuard checks need only `sites`
    const run = await observeTarget(profile, { rotations: settings.rotations, intervalMs: settings.intervalS ? settings.intervalS * 1000 : undefined, skewBoundMs: settings.skewBoundMs, outageBoundMs: settings.outageBoundMs });
    return { run, source: `target ${profile.name}` };
  }
  await cleanupStale();
  // The WireGuard suites need no tokens: the HSM suites ask for them (hsm-fixture.ts). The key control the
  // user put under test replaces the suite's own choice, site by site.
  const given = settings.keyControl;
  const own = labOptions.keyControl && 'kind' in labOptions.keyControl ? { alice: labOptions.keyControl, bob: labOptions.keyControl } : (labOptions.keyControl ?? {});
  const keyControl = Object.keys(given).length ? { ...own, ...given } : labOptions.keyControl;
  const lab = await Lab.up({ intervalS: settings.intervalS ?? 10, hsm: false, ...labOptions, keyControl, ...(settings.mode ? { mode: settings.mode } : {}) });
  labs.push(lab);
  const run = await observeLab(lab, { rotations: settings.rotations, handshakes: settings.handshakes, skewBoundMs: settings.skewBoundMs, outageBoundMs: settings.outageBoundMs });
  return { run, lab, source: `lab ${lab.runId}`, roles: run.roles, wire: run.wire };
}

/** What a person reads on the console per suite (`e2e` prints it): counts and milliseconds. */
export interface SuiteFigures {
  suite: string;
  source: string;
  rotations: number;
  skewMs: { p50: number | null; max: number | null };
  outageMs: { p50: number | null; max: number | null };
  /** Recovery after each fault (faults suite), seconds; null: no recovery observed. */
  recoveries?: Array<{ fault: string; recoveryS: number | null }>;
  /** Lab only: "alice master in N/M rotations" (from the KMEs' request logs). */
  roles?: string;
  /** Lab only: `lab up` to up (ms), and to the first agreed PSK with traffic (ms; null: never). */
  setupMs?: number;
  firstTrafficMs?: number | null;
  /** Lab only: the negative control in one line. */
  negativeControl?: string;
  /** Lab only: per protocol, median packets and bytes per rotation on the underlay. */
  wirePerRotation?: Record<string, { packets: number | null; bytes: number | null }>;
}

export function figuresOf(suite: string, o: Observed): SuiteFigures {
  const skews = rotations(o.run).flatMap((r) => (r.skewMs === null ? [] : [r.skewMs]));
  const outages = outagesPerRotation(o.run).map((x) => x.outageMs);
  const max = (v: number[]) => (v.length ? Math.max(...v) : null);
  const f: SuiteFigures = { suite, source: o.source, rotations: rotations(o.run).length, skewMs: { p50: percentile(skews, 50), max: max(skews) }, outageMs: { p50: percentile(outages, 50), max: max(outages) } };
  const info = o.lab?.info;
  if (!info) return f;
  const up = firstUp(o.run);
  const wire = o.wire?.rows.length ? Object.fromEntries(Object.entries(wirePerRotation({ wire: o.wire })).map(([p, x]) => [p, { packets: x.packetsP50, bytes: x.bytesP50 }])) : undefined;
  return {
    ...f,
    ...(o.roles ? { roles: rolesSummary(o.roles) } : {}),
    setupMs: info.setup.ms,
    firstTrafficMs: up === null ? null : up - info.setup.startedAt,
    negativeControl: controlLine(info.negativeControl),
    ...(wire ? { wirePerRotation: wire } : {}),
  };
}

/** The verdict as the lab's negative control lets it stand: `error` for every verdict (but wg/22's own) of a lab whose control failed. Pure. */
export function controlGate(v: Verdict, lab: Pick<Lab, 'info'> | undefined): Verdict {
  const nc = lab?.info.negativeControl;
  if (!nc || nc.ok || v.id === 'wg/22' || v.outcome === 'skip') return v;
  return { id: v.id, outcome: 'error', summary: `negative control failed: ${nc.why} (the check itself said ${v.outcome}: ${v.summary})`, evidence: { ...v.evidence, negativeControl: nc } };
}

/** Writes a suite's figures where `e2e` collects them (QKD_E2E_FIGURES); nothing when run by plain vitest. */
export function recordFigures(f: SuiteFigures): void {
  const dir = process.env.QKD_E2E_FIGURES;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${f.suite.replace(/[^A-Za-z0-9]+/g, '-').toLowerCase()}.json`), JSON.stringify(f, null, 2) + '\n');
}

/**
 * Labels, parameters and evidence of a verdict for the report (fingerprints and times only). When the
 * lab's negative control failed, records `error` instead and throws (so no test of that lab can pass);
 * `v` itself is updated to the `error` verdict too, for callers that look at it afterwards.
 */
export async function report(v: Verdict, o: Observed | undefined, timeline = false): Promise<void> {
  const gated = controlGate(v, o?.lab);
  if (gated !== v) Object.assign(v, gated);
  // Epic, feature (the suite's describe title), story, Allure ID and severity from the catalogue (src/report/allure-requirement.ts).
  await labelRequirement(allure, v.id, expect.getState().currentTestName?.split(' > ')[0]?.replace(/ \(skipped: .*\)$/, '') ?? 'end to end');
  await labelOutcome(allure, v.outcome);
  await allure.tag(v.id);
  if (o) {
    await allure.parameter('source', o.source.split(' ')[0]!);
    await allure.parameter('run', o.source, { excluded: true });
    await allure.parameter('handshakes', o.run.config.handshakes);
    if (o.roles) await allure.parameter('roles observed', rolesSummary(o.roles), { excluded: true });
    if (o.lab) {
      await allure.parameter('set-up', `${(o.lab.info.setup.ms / 1000).toFixed(1)} s`, { excluded: true });
      await allure.parameter('negative control', o.lab.info.negativeControl ? (o.lab.info.negativeControl.ok ? 'passed' : 'FAILED') : 'not run', { excluded: true });
    }
  }
  await allure.attachment(`${v.id} evidence`, JSON.stringify({ outcome: v.outcome, summary: v.summary, evidence: v.evidence }, null, 2), 'application/json');
  if (timeline && o) await attachPicture('timeline', () => timelineSvg(o.run, `${o.source}: PSK rotations, handshakes, outages`));
  if (gated.outcome === 'error' && gated !== v) throw new Error(`${v.id}: ${v.summary}`);
}

/**
 * An SVG picture attached beside a verdict as `name` (none when `draw` has nothing to show). A picture
 * that cannot be drawn is noted in a text attachment, never thrown: the verdict is the result.
 */
export async function attachPicture(name: string, draw: () => Promise<string | undefined>): Promise<void> {
  const svg = await draw().catch((err: Error) => err);
  if (svg instanceof Error) await allure.attachment(`${name} (not drawn)`, svg.message, 'text/plain');
  else if (svg) await allure.attachment(name, svg, 'image/svg+xml');
}

/** Asserts the verdict passes; a `skip` verdict skips the test with its reason. */
export function expectPass(v: Verdict, skip: (note?: string) => never): void {
  if (v.outcome === 'skip') skip(v.summary);
  expect(v.outcome, `${v.id}: ${v.summary}`).toBe('pass');
}
