// The lab's negative control (wg/22): before any key control runs, the lab proves its own instruments.
// With the deliberately different random PSKs each site starts with, the probe must get no answer and no
// WireGuard handshake may complete on either site; with one equal random PSK on both, the probe must get
// answers on both sites and a handshake must complete, within a deadline. Then the PSKs are made
// different again and the sessions expired, so any later agreement is the key control's doing.
//
// A blind instrument (a probe that reports answers the network never carried, a handshake reader that
// always sees one) fails the first half; a probe or reader that never sees anything fails the second.
// A failed control does not stop the lab (a person should see it), but every e2e verdict of that lab is
// `error` (suites/e2e/fixture.ts). The equal PSK goes to `wg` through a pipe: never on disk or argv.
import { setTimeout as sleep } from 'node:timers/promises';
import type { SiteDriver } from '../sites/driver.ts';
import { SITES, type SiteName } from './names.ts';
import { randomKey, viaPipe } from './wireguard.ts';

/**
 * Instrument faults (lab only): switches that break the harness's own instruments, to show that the
 * negative control catches them and turns verdicts into `error`.
 */
export const INSTRUMENT_FAULTS = {
  'probe-always-replies': 'the probe counts every datagram as answered the moment it is sent, whatever the network does',
  'handshake-always': "the control's handshake reader reports a handshake completed now, whatever WireGuard says",
} as const;
export type InstrumentFault = keyof typeof INSTRUMENT_FAULTS;

/** What one phase saw, per site. */
export interface ControlPhase {
  /** Probe answers received during the phase (at least one per `up` record of the probe log). */
  probeReplies: Record<SiteName, number>;
  /** `wg show <if> latest-handshakes` at the end of the phase (unix seconds; 0: never). */
  handshakes: Record<SiteName, number>;
  /** How long the phase lasted (ms). */
  ms: number;
}

/** The negative control's record, in LabInfo and the state file (no key material: the PSKs are not kept). */
export interface NegativeControl {
  ok: boolean;
  /** Different PSKs: no answer and no handshake expected. */
  mismatch: ControlPhase;
  /** One equal PSK: answers and a handshake on both sites expected within `deadlineMs`. */
  match: ControlPhase & { deadlineMs: number };
  startedAt: number;
  /** When the PSKs were different again (ms): anything the probe sees later is the key control's doing. */
  endedAt: number;
  durationMs: number;
  /** Why it failed: each broken expectation, naming the instrument (probe, handshake) and the site. */
  why?: string;
  /** Instrument faults the lab was built with (tests only). */
  instrumentFaults?: InstrumentFault[];
}

/** Judges the two phases. Pure. `matchStartS`: the match phase's start, unix seconds (a handshake must not be older). */
export function judgeNegativeControl(mismatch: ControlPhase, match: ControlPhase, matchStartS: number): { ok: boolean; why?: string } {
  const problems: string[] = [];
  for (const site of SITES) {
    if (mismatch.probeReplies[site] > 0) problems.push(`the probe of ${site} got ${mismatch.probeReplies[site]} answers with different PSKs (a blind probe: it reports traffic the tunnel cannot carry)`);
    if (mismatch.handshakes[site] !== 0) problems.push(`a handshake completed on ${site} with different PSKs (latest-handshake ${mismatch.handshakes[site]}: the handshake reader or WireGuard's PSK check is broken)`);
  }
  for (const site of SITES) {
    if (match.probeReplies[site] === 0) problems.push(`the probe of ${site} got no answer with equal PSKs within ${(match.ms / 1000).toFixed(1)} s (the probe sees nothing)`);
    if (match.handshakes[site] < matchStartS) problems.push(`no handshake completed on ${site} with equal PSKs within ${(match.ms / 1000).toFixed(1)} s`);
  }
  return problems.length ? { ok: false, why: problems.join('; ') } : { ok: true };
}

/** What the control needs from the lab. */
export interface ControlSite {
  driver: SiteDriver;
  iface: string;
  peer: string;
  /** Probe answers so far and the times of the probe's `up` records (src/lab/probe.ts probeAnswers). */
  answers(): { rx: number; ups: number[] };
  /** Expires the site's WireGuard sessions (the next packet handshakes with the PSK configured now). */
  expire(): Promise<void>;
}

/** `wg show <if> latest-handshakes` for `peer` (unix seconds, 0: never). @throws when wg fails or the peer is missing. */
export async function latestHandshake(driver: SiteDriver, iface: string, peer: string): Promise<number> {
  const out = await driver.check(['wg', 'show', iface, 'latest-handshakes'], { timeoutMs: 5_000 });
  for (const line of out.split('\n')) {
    const [pk, t] = line.trim().split(/\s+/);
    if (pk === peer) return Number(t);
  }
  throw new Error(`wg show ${iface} latest-handshakes: no peer ${peer.slice(0, 8)}…`);
}

/** Sets the peer's PSK (base64) on stdin through a pipe: the key is on no command line and no file. */
export async function setPeerPsk(driver: SiteDriver, iface: string, peer: string, psk: string): Promise<void> {
  await driver.check(viaPipe(['set', iface, 'peer', peer, 'preshared-key', '/dev/stdin']), { input: `${psk}\n`, timeoutMs: 5_000 });
}

export interface ControlOptions {
  /** How long the different PSKs are watched (default 3 000 ms). */
  mismatchMs?: number;
  /** Deadline for answers and a handshake on both sites with the equal PSK (default 15 000 ms). */
  matchDeadlineMs?: number;
  instrumentFaults?: InstrumentFault[];
  /** Checked between steps (the lab's abort). */
  checkAborted?: () => void;
}

/**
 * Runs the control on a lab whose sites hold different PSKs and whose probes run. Leaves the sites with
 * different random PSKs and expired sessions. Every wg call has a deadline; a wg call that fails makes
 * the control fail (its reason in `why`), it never throws for that.
 */
export async function runNegativeControl(sites: Record<SiteName, ControlSite>, o: ControlOptions = {}): Promise<NegativeControl> {
  const mismatchMs = o.mismatchMs ?? 3_000;
  const deadlineMs = o.matchDeadlineMs ?? 15_000;
  const faults = o.instrumentFaults ?? [];
  const check = o.checkAborted ?? (() => undefined);
  const readHs = async (site: SiteName): Promise<number> => {
    if (faults.includes('handshake-always')) return Math.floor(Date.now() / 1000);
    const s = sites[site];
    return latestHandshake(s.driver, s.iface, s.peer);
  };
  const repliesSince = (site: SiteName, t: number, rx0: number) => {
    const a = sites[site].answers();
    return Math.max(a.rx - rx0, a.ups.filter((u) => u >= t).length);
  };
  // Each site's step once more on failure: a loaded machine can miss one deadline (a step that fails
  // twice fails the control, with its reason).
  const both = async <T>(f: (site: SiteName) => Promise<T>): Promise<Record<SiteName, T>> => {
    const [alice, bob] = await Promise.all(SITES.map((site) => f(site).catch(() => (check(), f(site)))));
    return { alice: alice!, bob: bob! };
  };
  const startedAt = Date.now();
  const errors: string[] = [];
  const zero = { alice: 0, bob: 0 };

  // 1. Different PSKs (as configured at the interface's creation): nothing may get through.
  await sleep(mismatchMs);
  check();
  const mismatch: ControlPhase = {
    // Everything since the probes started: they started with these PSKs.
    probeReplies: { alice: repliesSince('alice', 0, 0), bob: repliesSince('bob', 0, 0) },
    handshakes: await both(readHs).catch((err: unknown) => (errors.push(`reading the handshakes: ${msg(err)}`), { ...zero })),
    ms: Date.now() - startedAt,
  };

  // 2. One equal random PSK on both sites, sessions expired (also the handshake back-off): both must come up.
  const matchAt = Date.now();
  const rx1 = { alice: sites.alice.answers().rx, bob: sites.bob.answers().rx };
  const psk = randomKey();
  let match: ControlPhase = { probeReplies: { ...zero }, handshakes: { ...zero }, ms: 0 };
  try {
    await both((site) => setPeerPsk(sites[site].driver, sites[site].iface, sites[site].peer, psk));
    await both((site) => sites[site].expire());
    // The probe logs are cheap to read (every 100 ms); `wg show` only once both probes were answered
    // (an answer means a handshake completed), or every second until then.
    let lastHs = 0;
    for (;;) {
      check();
      const replies = { alice: repliesSince('alice', matchAt, rx1.alice), bob: repliesSince('bob', matchAt, rx1.bob) };
      const answered = SITES.every((s) => replies[s] > 0);
      const late = Date.now() - matchAt > deadlineMs;
      if (answered || late || Date.now() - lastHs >= 1_000) {
        lastHs = Date.now();
        match = { probeReplies: replies, handshakes: await both(readHs), ms: Date.now() - matchAt };
        if ((answered && SITES.every((s) => match.handshakes[s] >= Math.floor(matchAt / 1000))) || late) break;
      }
      await sleep(100);
    }
  } catch (err) {
    if (err instanceof Error && err.name === 'LabAborted') throw err;
    errors.push(`the equal-PSK phase: ${msg(err)}`);
    match = { ...match, ms: Date.now() - matchAt };
  }

  // 3. Different PSKs again, sessions expired: from here on only the key control can make them agree.
  check();
  await both((site) => setPeerPsk(sites[site].driver, sites[site].iface, sites[site].peer, randomKey())).catch((err: unknown) => errors.push(`setting different PSKs again: ${msg(err)}`));
  await both((site) => sites[site].expire()).catch((err: unknown) => errors.push(`expiring the sessions: ${msg(err)}`));
  const endedAt = Date.now();

  const verdict = judgeNegativeControl(mismatch, match, Math.floor(matchAt / 1000));
  const why = [...errors, ...(verdict.why ? [verdict.why] : [])].join('; ');
  return {
    ok: verdict.ok && !errors.length,
    mismatch,
    match: { ...match, deadlineMs },
    startedAt,
    endedAt,
    durationMs: endedAt - startedAt,
    ...(why ? { why } : {}),
    ...(faults.length ? { instrumentFaults: faults } : {}),
  };
}

/** One line for a person (`lab up`, `lab status`). */
export function controlLine(c: NegativeControl | undefined): string {
  if (!c) return 'negative control: not run (lab built with negativeControl: false, or by an older version): its instruments are unproven';
  const r = (p: ControlPhase) => SITES.map((s) => `${s} ${p.probeReplies[s]} answers, handshake ${p.handshakes[s] ? 'yes' : 'no'}`).join('; ');
  const head = c.ok ? 'passed' : `FAILED: ${c.why}`;
  return `negative control ${head} (different PSKs ${(c.mismatch.ms / 1000).toFixed(1)} s: ${r(c.mismatch)}; equal PSK up after ${(c.match.ms / 1000).toFixed(1)} s: ${r(c.match)})${c.instrumentFaults?.length ? ` [instrument faults: ${c.instrumentFaults.join(', ')}]` : ''}`;
}

function msg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
