// Tearing a lab down from its record alone (no live handles needed): what `lab down` does for a lab
// whose owner is gone, and what `lab down --stale` does for every crashed run, plus a scan by name
// prefix for what a run created but had not recorded yet.
import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { deleteNamespace, listNamespaces, pidsIn } from './namespace.ts';
import { NAMESPACE_PREFIX, runIdOf } from './names.ts';
import { signalGroup } from './process.ts';
import { isAlive, listRecords, stateDir, type LabRecord, type RecordedProcess } from './state.ts';
import { WG_SOCKET_DIR, removeSocket } from './wireguard.ts';

export interface CleanupReport {
  runIds: string[];
  processes: number;
  namespaces: string[];
  sockets: string[];
  dirs: string[];
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
  return report;
}

/** Run ids whose owner process is alive: never touched by a stale cleanup. */
export function liveRunIds(dir = stateDir()): Set<string> {
  return new Set(
    listRecords(dir)
      .filter((r) => isAlive(r.record.owner))
      .map((r) => r.record.runId),
  );
}

/**
 * Cleans what crashed runs left: every record whose owner is dead, then anything carrying a lab name
 * (namespace `qkdh-<id>-…`, socket `qh<id>…`, temp dir `qkdh-<id>-…`) of a run that is not alive.
 */
export async function cleanupStale(dir = stateDir()): Promise<CleanupReport> {
  const report = empty();
  const merge = (r: CleanupReport) => {
    report.runIds.push(...r.runIds);
    report.processes += r.processes;
    report.namespaces.push(...r.namespaces);
    report.sockets.push(...r.sockets);
    report.dirs.push(...r.dirs);
  };
  for (const { file, record } of listRecords(dir)) {
    if (!isAlive(record.owner)) merge(await teardownRecord(record, file));
  }
  const live = liveRunIds(dir);
  const orphanNs = (await listNamespaces()).filter((ns) => ns.startsWith(NAMESPACE_PREFIX) && runIdOf(ns) && !live.has(runIdOf(ns)!));
  await removeNamespaces(orphanNs, report);
  for (const name of safeList(WG_SOCKET_DIR)) {
    const id = runIdOf(name);
    if (id && !live.has(id)) {
      removeSocket(join(WG_SOCKET_DIR, name));
      report.sockets.push(join(WG_SOCKET_DIR, name));
    }
  }
  for (const name of safeList(dir)) {
    const m = /^([a-z0-9]{6})\.log$/.exec(name);
    if (m && !live.has(m[1]!) && !safeList(dir).includes(`${m[1]}.json`)) rmSync(join(dir, name), { force: true });
  }
  for (const name of safeList(tmpdir())) {
    const m = /^qkdh-([a-z0-9]{6})-/.exec(name);
    if (m && !live.has(m[1]!)) {
      rmSync(join(tmpdir(), name), { recursive: true, force: true });
      report.dirs.push(join(tmpdir(), name));
    }
  }
  for (const id of [...orphanNs.map(runIdOf)]) if (id && !report.runIds.includes(id)) report.runIds.push(id);
  return report;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
