// One end-to-end observation of a lab: watch both sites until N rotations have happened (or for a fixed
// time), forcing the post-rotation handshake when asked, then collect the probe logs, the built-in
// agents' records and the PQC emulators' events into an E2eRun for the requirement checks.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Observer, observedEnough } from '../sites/observer.ts';
import { rotations, type AgentRecord, type E2eRun, type PqcRecord, type RunConfig } from '../sites/timeline.ts';
import type { Lab } from './lab.ts';
import { SITES } from './names.ts';
import { readProbeLog } from './probe.ts';
import { forceHandshakesAfterRotations } from './rekey.ts';
import { openObservation, type Observation } from '../../mocks/keyctl/agent.ts';

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

export async function observeLab(lab: Lab, o: ObserveOptions = {}): Promise<E2eRun> {
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
  await observer.start();
  const forcer = config.handshakes === 'forced' ? forceHandshakesAfterRotations(lab, observer, { settleMs: config.skewBoundMs }) : undefined;
  const started = observer.startedAt;
  const want = (o.rotations ?? 2) + 1; // the first rotation only brings the tunnel up
  const tail = o.tailMs ?? (config.handshakes === 'forced' ? config.skewBoundMs + 4_000 : 130_000);
  const maxMs = o.maxMs ?? (o.durationMs ?? (want + 1) * lab.info.intervalS * 1000 * 1.5 + tail + 10_000);
  let reachedAt: number | undefined;
  let seen = 0;
  let firstRotationAt: number | undefined;
  let injectedAt: number | undefined;
  const injectAfter = o.injectAfterFirstRotationMs ?? (lab.info.intervalS * 1000) / 2;
  try {
    for (;;) {
      await sleep(250);
      const now = Date.now();
      const n = rotations({ sites: ['alice', 'bob'], series: observer.series } as E2eRun).length;
      if (n > 0 && firstRotationAt === undefined) firstRotationAt = now;
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
      if (now - started > maxMs) break;
    }
  } finally {
    forcer?.stop();
    await observer.stop();
  }
  await sleep(config.probeTimeoutMs + 300); // let the probe settle the fate of its last datagrams
  const run = snapshot(lab, observer, config, forcer?.forced ?? [], started, observer.stoppedAt);
  if (injectedAt !== undefined) run.faultInjectedAt = injectedAt;
  return run;
}

function snapshot(lab: Lab, observer: Observer, config: RunConfig, forced: E2eRun['forced'], startedAt: number, endedAt: number): E2eRun {
  const logs = SITES.map((s) => readJsonLines<Observation>(lab.info.sites[s].keyControl.observations));
  return {
    sites: ['alice', 'bob'],
    startedAt,
    endedAt,
    series: observer.series,
    probes: Object.fromEntries(SITES.map((s) => [s, readProbeLog(lab.info.sites[s].probe.log)])),
    agent: logs.some((l) => l.length > 0) ? Object.fromEntries(SITES.map((s, i) => [s, logs[i]!.map((o): AgentRecord => openObservation(o, lab.observationKey))])) : undefined,
    pqc: lab.info.pqc ? Object.fromEntries(SITES.map((s) => [s, readJsonLines<PqcRecord>(lab.info.sites[s].pqc?.events)])) : undefined,
    forced,
    config,
    faults: lab.info.faults,
  };
}
