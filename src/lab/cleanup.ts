// Tearing a lab down from its record alone (no live handles needed): what `lab down` does for a lab
// whose owner is gone, and what `lab down --stale` does for every crashed run (found by its record or
// its machine-wide owner marker), plus a scan by name prefix for what a dead run had not recorded yet.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { deleteNamespace, listNamespaces, pidsIn } from './namespace.ts';
import { NAMESPACE_PREFIX, labNames, runIdOf } from './names.ts';
import { signalGroup } from './process.ts';
import { isAlive, listOwnerMarkers, listRecords, readRecord, removeOwnerMarker, stateDir, type LabRecord, type RecordedProcess } from './state.ts';
import { WG_SOCKET_DIR, removeSocket, socketPath } from './wireguard.ts';

export interface CleanupReport {
  runIds: string[];
  processes: number;
  namespaces: string[];
  sockets: string[];
  dirs: string[];
  /** Objects carrying a lab name whose run has no owner on record (left alone: not provably dead). */
  unowned?: string[];
}

const empty = (): CleanupReport => ({ runIds: [], processes: 0, namespaces: [], sockets: [], dirs: [] });

/** SIGTERM the live ones (by process group), wait, SIGKILL what is left. Returns how many were alive. */
export async function stopRecorded(procs: RecordedProcess[], graceMs = 3_000): Promise<number> {
  const alive = procs.filter(isAlive);
  for (const p of alive) signalGroup(p.pid, 'SIGTERM');
  const until = Date.now() + graceMs;
  while (alive.some(isAlive) && Date.now() < until) await sleep(50);
  for (const p of alive.filter(isAlive)) signalGroup(p.pid, 'SIGKILL');
  return alive.length;
}

/** Kills every process still inside the namespaces, then deletes them. */
export async function removeNamespaces(names: string[], report: CleanupReport): Promise<void> {
  const present = new Set(await listNamespaces());
  for (const ns of names) {
    if (!present.has(ns)) continue;
    const pids = await pidsIn(ns);
    for (const pid of pids) signalGroup(pid, 'SIGKILL');
    report.processes += pids.length;
    const until = Date.now() + 2_000;
    while ((await pidsIn(ns)).length && Date.now() < until) await sleep(50);
    await deleteNamespace(ns);
    report.namespaces.push(ns);
  }
}

/** Removes everything a record names. The record file itself goes last. */
export async function teardownRecord(record: LabRecord, file?: string): Promise<CleanupReport> {
  const report = empty();
  report.runIds.push(record.runId);
  report.processes += await stopRecorded([...record.processes].reverse());
  await removeNamespaces(record.namespaces, report);
  for (const s of record.sockets) {
    removeSocket(s);
    report.sockets.push(s);
  }
  if (record.dir) {
    rmSync(record.dir, { recursive: true, force: true });
    report.dirs.push(record.dir);
  }
  if (file) {
    rmSync(file.replace(/\.json$/, '.log'), { force: true }); // output of a detached `lab up`
    rmSync(file, { force: true });
  }
  // The owner marker goes last: until then a stale cleanup knows whose objects these are.
  const marker = listOwnerMarkers().get(record.runId);
  if (!marker || marker.owner.pid === record.owner.pid || !isAlive(marker.owner)) removeOwnerMarker(record.runId);
  return report;
}

/** Run ids whose owner process is alive (state record in `dir`, or machine-wide owner marker): never touched by a stale cleanup. */
export function liveRunIds(dir = stateDir()): Set<string> {
  const live = new Set(
    listRecords(dir)
      .filter((r) => isAlive(r.record.owner))
      .map((r) => r.record.runId),
  );
  for (const [id, m] of listOwnerMarkers()) if (isAlive(m.owner)) live.add(id);
  return live;
}

/** Removes what carries a dead run's name when its record is gone: namespaces, sockets, temp dirs. */
async function teardownByName(runId: string, report: CleanupReport): Promise<void> {
  const n = labNames(runId);
  report.runIds.push(runId);
  await removeNamespaces(Object.values(n.namespace), report);
  for (const iface of Object.values(n.wg)) {
    if (!existsSync(socketPath(iface))) continue;
    removeSocket(socketPath(iface));
    report.sockets.push(socketPath(iface));
  }
  for (const name of safeList(tmpdir()).filter((x) => x.startsWith(`qkdh-${runId}-`))) {
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
    report.dirs.push(join(tmpdir(), name));
  }
  removeOwnerMarker(runId);
}

/**
 * Cleans what crashed runs left, and only that: a run is dead when its owner process (pid + start time,
 * from its record in `dir` or its machine-wide owner marker, whichever state directory it used) is gone.
 * Objects are listed BEFORE their owners are read: a lab writes its owner marker before it creates
 * anything, so a lab started meanwhile is either not listed or found alive. Objects carrying a lab name
 * whose run has neither a record here nor a marker (a lab of an older version, or not ours) are left
 * alone and listed under `unowned`.
 */
export async function cleanupStale(dir = stateDir()): Promise<CleanupReport> {
  const report = empty();
  const merge = (r: CleanupReport) => {
    report.runIds.push(...r.runIds.filter((id) => !report.runIds.includes(id)));
    report.processes += r.processes;
    report.namespaces.push(...r.namespaces);
    report.sockets.push(...r.sockets);
    report.dirs.push(...r.dirs);
  };
  // 1. What exists now.
  const namespaces = (await listNamespaces()).filter((ns) => ns.startsWith(NAMESPACE_PREFIX) && runIdOf(ns));
  const sockets = safeList(WG_SOCKET_DIR).filter((name) => runIdOf(name));
  const tmps = safeList(tmpdir()).filter((name) => /^qkdh-[a-z0-9]{6}-/.test(name));
  // 2. Who owns it, read afterwards.
  const markers = listOwnerMarkers();
  const records = listRecords(dir);
  const verdict = (id: string): 'live' | 'dead' | 'unowned' => {
    const m = markers.get(id);
    const rs = records.filter((r) => r.record.runId === id);
    if ((m && isAlive(m.owner)) || rs.some((r) => isAlive(r.record.owner))) return 'live';
    return m || rs.length ? 'dead' : 'unowned';
  };
  // 3. Dead runs recorded here, then dead runs recorded in other state directories (via their marker).
  for (const { file, record } of records) {
    if (verdict(record.runId) === 'dead') merge(await teardownRecord(record, file));
  }
  for (const [id, m] of markers) {
    if (report.runIds.includes(id) || verdict(id) !== 'dead') continue;
    const record = readRecord(m.stateFile);
    const r = empty();
    if (record?.runId === id && !isAlive(record.owner)) merge(await teardownRecord(record, m.stateFile));
    else {
      await teardownByName(id, r);
      merge(r);
    }
  }
  // 4. What was listed in step 1 and is still there: by the verdict on its run.
  const unowned = new Set<string>();
  const dead = (name: string): boolean => {
    const id = runIdOf(name) ?? /^qkdh-([a-z0-9]{6})-/.exec(name)?.[1];
    if (!id) return false;
    const v = verdict(id);
    if (v === 'unowned' && runIdOf(name)) unowned.add(name); // temp dirs of that shape may be anyone's
    return v === 'dead';
  };
  const orphanNs = namespaces.filter(dead);
  await removeNamespaces(orphanNs, report);
  for (const name of sockets.filter(dead)) {
    if (!existsSync(join(WG_SOCKET_DIR, name))) continue;
    removeSocket(join(WG_SOCKET_DIR, name));
    report.sockets.push(join(WG_SOCKET_DIR, name));
  }
  for (const name of tmps.filter(dead)) {
    if (!existsSync(join(tmpdir(), name))) continue;
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
    report.dirs.push(join(tmpdir(), name));
  }
  const live = liveRunIds(dir);
  for (const name of safeList(dir)) {
    const m = /^([a-z0-9]{6})\.log$/.exec(name);
    if (m && !live.has(m[1]!) && !safeList(dir).includes(`${m[1]}.json`)) rmSync(join(dir, name), { force: true });
  }
  for (const id of orphanNs.map(runIdOf)) if (id && !report.runIds.includes(id)) report.runIds.push(id);
  if (unowned.size) report.unowned = [...unowned];
  return report;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
