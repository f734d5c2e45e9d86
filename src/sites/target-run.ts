// An end-to-end observation of a real deployment: the two sites of a target profile, read through their
// drivers (`wg show <if> dump`, hashed at once) and probed across the tunnel through the drivers. Nothing
// is changed on the sites: handshakes are WireGuard's own (natural), so a rotation's handshake can take
// up to REKEY_AFTER_TIME + REKEY_TIMEOUT to show.
import { setTimeout as sleep } from 'node:timers/promises';
import type { TargetProfile } from '../target/schema.ts';
import { SiteDriver } from './driver.ts';
import { Observer, observedEnough } from './observer.ts';
import { DriverProbe } from './probe-driver.ts';
import { rotations, WG_TIMERS, type E2eRun, type RunConfig } from './timeline.ts';

export interface TargetObserveOptions {
  rotations?: number;
  durationMs?: number;
  /** Watching after the last counted rotation (default: REKEY_AFTER_TIME + REKEY_TIMEOUT + margins). */
  tailMs?: number;
  maxMs?: number;
  intervalMs?: number;
  pollMs?: number;
  skewBoundMs?: number;
  outageBoundMs?: number;
  log?: (line: string) => void;
}

/** The two sites of a profile (the first two under `sites`). */
export function targetSites(profile: Pick<TargetProfile, 'sites'>): Array<{ name: string; driver: SiteDriver; site: NonNullable<TargetProfile['sites']>[string] }> {
  const entries = Object.entries(profile.sites ?? {});
  if (entries.length < 2) throw new Error(`the target profile names ${entries.length} site(s) under sites; the end-to-end suites need two`);
  return entries.slice(0, 2).map(([name, site]) => ({ name, driver: new SiteDriver(name, site.exec), site }));
}

export async function observeTarget(profile: Pick<TargetProfile, 'sites'>, o: TargetObserveOptions = {}): Promise<E2eRun> {
  const sites = targetSites(profile);
  const pollMs = o.pollMs ?? 500;
  const config: RunConfig = { intervalMs: o.intervalMs, handshakes: 'natural', skewBoundMs: o.skewBoundMs ?? 2_000, outageBoundMs: o.outageBoundMs ?? 2_000, pollMs, probeTimeoutMs: 1_000 };
  const observer = new Observer(
    sites.map((s) => ({ name: s.name, driver: s.driver, iface: s.site.wireguard.interface, peer: s.site.wireguard.peer })),
    pollMs,
  );
  const probes = sites.map((s) => (s.site.probe ? new DriverProbe(s.driver, s.site.probe.host, s.site.probe.port) : undefined));
  await observer.start();
  probes.forEach((p) => p?.start());
  const want = o.rotations ?? 2;
  const tail = o.tailMs ?? WG_TIMERS.rekeyAfterMs + WG_TIMERS.rekeyTimeoutMs + 3_000;
  const maxMs = o.maxMs ?? o.durationMs ?? want * (o.intervalMs ?? WG_TIMERS.rekeyAfterMs) * 1.5 + tail + 30_000;
  let reachedAt: number | undefined;
  let seen = 0;
  try {
    for (;;) {
      await sleep(250);
      const now = Date.now();
      if (now - observer.startedAt > maxMs) break;
      if (o.durationMs !== undefined) {
        if (now - observer.startedAt >= o.durationMs) break;
        continue;
      }
      const n = rotations({ sites: sites.map((s) => s.name), series: observer.series } as E2eRun).length;
      if (n !== seen) o.log?.(`target: rotation ${(seen = n)}`);
      if (n >= want && reachedAt === undefined) reachedAt = now;
      // Done once the want-th rotation's handshake and traffic are seen; the tail only bounds the wait.
      const enough = n >= want ? observedEnough(observer.series, sites.map((s) => s.name), want, { settleMs: config.skewBoundMs + 2 * pollMs + 500, afterHandshakeMs: config.probeTimeoutMs + 3_000 }) : null;
      if (enough !== null && now >= enough) break;
      if (reachedAt !== undefined && now - reachedAt >= tail) break;
    }
  } finally {
    await observer.stop();
    await sleep(1_300);
    probes.forEach((p) => p?.stop());
  }
  return {
    sites: [sites[0]!.name, sites[1]!.name],
    startedAt: observer.startedAt,
    endedAt: observer.stoppedAt,
    series: observer.series,
    probes: Object.fromEntries(sites.map((s, i) => [s.name, probes[i]?.report()])),
    forced: [],
    config,
  };
}
