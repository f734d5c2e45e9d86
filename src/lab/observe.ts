// One end-to-end observation of a lab: watch both sites until N rotations have happened (or for a fixed
// time), forcing the post-rotation handshake when asked, then collect the probe logs, the built-in
// agents' records and the PQC emulators' events into an E2eRun for the requirement checks.
// Also, for any key control: the packets and bytes per protocol on the underlay for each rotation (nft
// counters on alice's underlay veth, read once each rotation has settled: wg/23), and which site acted
// as master in each rotation, from the KMEs' request logs (the site whose KME served enc_keys).
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Observer, observedEnough } from '../sites/observer.ts';
import { rotations, type AgentRecord, type E2eRun, type PqcRecord, type RunConfig } from '../sites/timeline.ts';
import type { Lab } from './lab.ts';
import { SITES } from './names.ts';
import { readProbeLog, type ProbeReport } from './probe.ts';
import { forceHandshakesAfterRotations } from './rekey.ts';
import { openObservation, type Observation } from '../../mocks/keyctl/agent.ts';
import { UnderlayCounters, underlayDelta, type PacketCount, type UnderlaySample } from './underlay-counters.ts';
import type { SiteName } from './names.ts';

/** Which site acted as master in one rotation (served enc_keys), by the KMEs' request logs. */
export interface RoleRow {
  rotation: number;
  /** `both`: each site's KME served enc_keys in the window (both acted as master); `unknown`: none did. */
  master: SiteName | 'both' | 'unknown';
  /** The enc_keys request taken as this rotation's (ms), if any. */
  encKeysAt: number | null;
}

/** The protocols of the wire budget, as counted on the underlay. */
export const WIRE_PROTOCOLS = ['key-control', 'kms-link', 'pqc', 'wireguard'] as const;
export type WireProtocol = (typeof WIRE_PROTOCOLS)[number];

/** Underlay traffic between two reads: from the previous rotation's settle (or the start) to this one's. */
export interface WireRow {
  rotation: number;
  from: number;
  to: number;
  protocols: Record<WireProtocol, PacketCount>;
  /** WireGuard handshake messages (initiation, response, cookie), also in `wireguard`. */
  wireguardHandshake?: PacketCount;
}

export interface WireObservation {
  /** Where the counters were: the underlay interface (both directions: all traffic between the sites). */
  where: string;
  rows: WireRow[];
  /** Why the counters could not be installed or read (rows may then be missing or partial). */
  error?: string;
}

/** An observation of the lab: the E2eRun plus what only the lab can see. */
export interface LabRun extends E2eRun {
  roles: RoleRow[];
  wire: WireObservation;
}

/** enc_keys requests answered 200 in a KME request log (mocks/kme/request-log.ts lines), their times (ms). Pure. */
export function encKeysTimes(log: string): number[] {
  const out: number[] = [];
  for (const line of log.split('\n')) {
    const m = /^(\S+) \S+ (?:GET|POST) \S*\/enc_keys\S* 200 /.exec(line);
    if (!m) continue;
    const t = Date.parse(m[1]!);
    if (Number.isFinite(t)) out.push(t);
  }
  return out;
}

/**
 * The master of each rotation: the site whose KME served enc_keys in (previous rotation's start, this
 * rotation's start] (both + `slackMs`; the first rotation looks back `firstWindowMs`). Pure. The master
 * fetches a key with enc_keys and sends its key_ID; the backup asks dec_keys — the same for any
 * Arnika-compatible key control.
 */
export function rolesFromKmeLogs(rots: Array<{ index: number; start: number }>, encKeys: Record<SiteName, number[]>, o: { slackMs?: number; firstWindowMs?: number } = {}): RoleRow[] {
  const slackMs = o.slackMs ?? 1_000;
  return rots.map((r, i) => {
    const from = i > 0 ? rots[i - 1]!.start + slackMs : r.start - (o.firstWindowMs ?? 60_000);
    const inWindow = (t: number) => t > from && t <= r.start + slackMs;
    const hits = (['alice', 'bob'] as const).map((site) => ({ site, t: encKeys[site].filter(inWindow).at(-1) }));
    const seen = hits.filter((h) => h.t !== undefined);
    const master = seen.length === 2 ? 'both' : seen.length === 1 ? seen[0]!.site : 'unknown';
    return { rotation: r.index, master, encKeysAt: seen.length ? Math.max(...seen.map((h) => h.t!)) : null };
  });
}

/** "alice master in 3/3 rotations" and the like. Pure. */
export function rolesSummary(roles: RoleRow[]): string {
  if (!roles.length) return 'no rotation';
  const n = (m: RoleRow['master']) => roles.filter((r) => r.master === m).length;
  const parts = [`alice master in ${n('alice')}/${roles.length} rotations`];
  if (n('bob')) parts.push(`bob in ${n('bob')}`);
  if (n('both')) parts.push(`both in ${n('both')}`);
  if (n('unknown')) parts.push(`unknown in ${n('unknown')}`);
  return parts.join(', ');
}

function wireRow(rotation: number, a: UnderlaySample, b: UnderlaySample, from: number): WireRow {
  const d = underlayDelta(a, b);
  const protocols = Object.fromEntries(WIRE_PROTOCOLS.map((p) => [p, { packets: d.protocols[p].packets, bytes: d.protocols[p].bytes }])) as Record<WireProtocol, PacketCount>;
  return { rotation, from, to: b.at, protocols, ...(d.wireguardHandshake ? { wireguardHandshake: { packets: d.wireguardHandshake.packets, bytes: d.wireguardHandshake.bytes } } : {}) };
}

/** The observation's own nft table, apart from hsm/10's (src/lab/underlay-counters.ts). */
const WIRE_TABLE = 'qkdh_wire';

export interface ObserveOptions {
  /** Stop once this many rotations were seen after the one that brought the tunnel up … */
  rotations?: number;
  /** … or after this long (ms), whichever is given (durationMs wins). */
  durationMs?: number;
  /** Time to keep watching after the last counted rotation (default: enough for its handshake). */
  tailMs?: number;
  maxMs?: number;
  pollMs?: number;
  handshakes?: RunConfig['handshakes'];
  skewBoundMs?: number;
  outageBoundMs?: number;
  /** Inject the lab's `signal` faults this long after the first rotation (default: half an interval). */
  injectAfterFirstRotationMs?: number;
  /** Called once when the first rotation is seen (ms): the environment suite schedules its faults from it. */
  onFirstRotation?: (at: number) => void;
  /** Ends the observation when aborted (checked with durationMs and the rotation count). */
  signal?: AbortSignal;
  /** Called with each progress line. */
  log?: (line: string) => void;
}

export function readJsonLines<T>(file: string | undefined): T[] {
  if (!file) return [];
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as T];
        } catch {
          return [];
        }
      });
  } catch {
    return [];
  }
}

export async function observeLab(lab: Lab, o: ObserveOptions = {}): Promise<LabRun> {
  const pollMs = o.pollMs ?? 300;
  const config: RunConfig = {
    intervalMs: lab.info.intervalS * 1000,
    handshakes: o.handshakes ?? 'forced',
    skewBoundMs: o.skewBoundMs ?? 2_000,
    outageBoundMs: o.outageBoundMs ?? 2_000,
    pollMs,
    probeTimeoutMs: 1_000,
  };
  const observer = new Observer(
    SITES.map((site) => ({ name: site, driver: lab.driver(site), iface: lab.info.sites[site].wireguard.interface, peer: lab.info.sites[site].wireguard.peer })),
    pollMs,
  );
  // Counters first, so the first row covers the first rotation whole.
  const wire: WireObservation = { where: `${lab.names.veth.alice} (alice's underlay veth, both directions)`, rows: [] };
  let counters: UnderlayCounters | undefined;
  let last: UnderlaySample | undefined;
  try {
    counters = await UnderlayCounters.install(lab.driver('alice'), lab.names.veth.alice, { table: WIRE_TABLE });
    last = await counters.read();
  } catch (err) {
    wire.error = `the underlay counters could not be installed or read: ${err instanceof Error ? err.message : String(err)}`;
  }
  await observer.start();
  const forcer = config.handshakes === 'forced' ? forceHandshakesAfterRotations(lab, observer, { settleMs: config.skewBoundMs }) : undefined;
  const started = observer.startedAt;
  const want = (o.rotations ?? 2) + 1; // the first rotation only brings the tunnel up
  const tail = o.tailMs ?? (config.handshakes === 'forced' ? config.skewBoundMs + 4_000 : 130_000);
  const maxMs = o.maxMs ?? (o.durationMs ?? (want + 1) * lab.info.intervalS * 1000 * 1.5 + tail + 10_000);
  let reachedAt: number | undefined;
  let reading: Promise<void> | undefined;
  let seen = 0;
  let firstRotationAt: number | undefined;
  let injectedAt: number | undefined;
  const injectAfter = o.injectAfterFirstRotationMs ?? (lab.info.intervalS * 1000) / 2;
  // A rotation's traffic is read once it has settled (both installs, the forced handshake), well before
  // the next one's key exchange: each row then holds one rotation's exchange.
  const settleMs = Math.min((lab.info.intervalS * 1000) / 2, config.skewBoundMs + 1_000);
  const readWire = async (rotation: number) => {
    if (!counters || !last) return;
    try {
      const now = await counters.read();
      wire.rows.push(wireRow(rotation, last, now, last.at));
      last = now;
    } catch (err) {
      wire.error ??= `the underlay counters could not be read at rotation ${rotation}: ${err instanceof Error ? err.message : String(err)}`;
      counters = undefined; // one failure ends the rows: a later row would span several rotations
    }
  };
  try {
    for (;;) {
      await sleep(250);
      const now = Date.now();
      const rots = rotations({ sites: ['alice', 'bob'], series: observer.series } as E2eRun);
      const n = rots.length;
      const due = rots[wire.rows.length];
      // Read in the background: an nft read can take seconds on a loaded machine, and the loop must not
      // stall (fault injection is timed from the first rotation).
      if (due && !reading && now >= due.start + settleMs) reading = readWire(due.index).finally(() => (reading = undefined));
      if (n > 0 && firstRotationAt === undefined) {
        firstRotationAt = now;
        o.onFirstRotation?.(now);
      }
      if (firstRotationAt !== undefined && injectedAt === undefined && now - firstRotationAt >= injectAfter) {
        injectedAt = now;
        const hit = lab.injectFaults();
        if (hit.length) o.log?.(`lab ${lab.runId}: fault injected (${hit.join(', ')})`);
      }
      if (o.durationMs !== undefined) {
        if (now - started >= o.durationMs) break;
      } else {
        if (n !== seen) o.log?.(`lab ${lab.runId}: rotation ${(seen = n)}`);
        if (n >= want && reachedAt === undefined) reachedAt = now;
        // Done once the want-th rotation's handshake and traffic are seen; the tail only bounds the wait.
        const enough = n >= want ? observedEnough(observer.series, SITES, want, { settleMs: config.skewBoundMs + 2 * pollMs + 500, afterHandshakeMs: config.probeTimeoutMs + 2_000 }) : null;
        if (enough !== null && now >= enough) break;
        if (reachedAt !== undefined && now - reachedAt >= tail) break;
      }
      if (now - started > maxMs || o.signal?.aborted) break;
    }
  } finally {
    forcer?.stop();
    await observer.stop();
    await reading;
    await counters?.remove().catch(() => undefined);
  }
  await sleep(config.probeTimeoutMs + 300); // let the probe settle the fate of its last datagrams
  const run = snapshot(lab, observer, config, forcer?.forced ?? [], started, observer.stoppedAt);
  if (injectedAt !== undefined) run.faultInjectedAt = injectedAt;
  // A rotation seen too late to settle before the end has no row (its traffic is not complete).
  const encKeys = Object.fromEntries(SITES.map((s) => [s, encKeysTimes(readText(lab.info.sites[s].kme.requestLog))])) as Record<SiteName, number[]>;
  return { ...run, roles: rolesFromKmeLogs(rotations(run), encKeys, { firstWindowMs: config.intervalMs }), wire };
}

function readText(file: string | undefined): string {
  if (!file) return '';
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function snapshot(lab: Lab, observer: Observer, config: RunConfig, forced: E2eRun['forced'], startedAt: number, endedAt: number): E2eRun {
  const logs = SITES.map((s) => readJsonLines<Observation>(lab.info.sites[s].keyControl.observations));
  return {
    sites: ['alice', 'bob'],
    startedAt,
    endedAt,
    series: observer.series,
    probes: Object.fromEntries(SITES.map((s) => [s, probeFrom(readProbeLog(lab.info.sites[s].probe.log), startedAt)])),
    agent: logs.some((l) => l.length > 0) ? Object.fromEntries(SITES.map((s, i) => [s, logs[i]!.map((o): AgentRecord => openObservation(o, lab.observationKey))])) : undefined,
    pqc: lab.info.pqc ? Object.fromEntries(SITES.map((s) => [s, readJsonLines<PqcRecord>(lab.info.sites[s].pqc?.events)])) : undefined,
    forced,
    config,
    faults: lab.info.faults,
  };
}

/**
 * The probe as the checks see it: outages that ended before the observation started are left out —
 * they are the lab's own (the negative control's deliberate mismatch), not the key control's doing; the
 * outage open at the start (different PSKs until the first rotation) stays, as the checks expect.
 */
function probeFrom(p: ProbeReport, startedAt: number): ProbeReport {
  return { ...p, outages: p.outages.filter((x) => x.to === null || x.to > startedAt) };
}
