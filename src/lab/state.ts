// The lab's record of everything it created, written before each thing is created, so that `lab down`
// (and `lab down --stale` after a crash) can remove exactly that. One JSON file per run.
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_STATE_DIR = '/run/qkd-harness/labs';
/**
 * Machine-wide owner markers, one per run (`<runId>.json`: OwnerMarker), whatever state directory the
 * lab records in. Written before the lab creates anything and removed after its teardown, so a stale
 * cleanup run with any state directory can tell a live (or still building) lab from a dead one.
 */
export const OWNERS_DIR = '/run/qkd-harness/owners';

export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.QKDH_LAB_STATE_DIR || DEFAULT_STATE_DIR;
}

/** A process identified by pid and kernel start time, so a recycled pid is never mistaken for it. */
export interface ProcessId {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot); undefined when unknown. */
  start?: number;
}

export interface RecordedProcess extends ProcessId {
  name: string;
  site?: string;
}

export interface LabRecord {
  runId: string;
  owner: ProcessId;
  createdAt: string;
  /** Private working directory (keys, logs, PKI); removed on down. */
  dir?: string;
  namespaces: string[];
  sockets: string[];
  processes: RecordedProcess[];
  /** Who built it: `lab up` (cli) or a program such as a test suite (api); commands without --run-id pick only cli labs. */
  origin?: 'cli' | 'api';
  /** Set once the lab is up: what `lab up` printed. */
  info?: unknown;
  phase: 'building' | 'up' | 'stopping';
}

export function procStart(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: fields after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[19]);
  } catch {
    return undefined;
  }
}

/** True when the recorded process still runs (same pid and, when recorded, same start time). */
export function isAlive(p: ProcessId): boolean {
  const start = procStart(p.pid);
  if (start === undefined) return false;
  try {
    const state = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    if (/\) Z /.test(state)) return false; // a zombie is gone for our purposes
  } catch {
    return false;
  }
  return p.start === undefined || p.start === start;
}

export interface OwnerMarker {
  runId: string;
  owner: ProcessId;
  /** The state file that records the run's objects. */
  stateFile: string;
}

export function ownerMarkerPath(runId: string): string {
  return join(OWNERS_DIR, `${runId}.json`);
}

/** Writes the run's owner marker (atomically); throws when it cannot, before anything is created. */
export function writeOwnerMarker(m: OwnerMarker): void {
  mkdirSync(OWNERS_DIR, { recursive: true, mode: 0o755 });
  const file = ownerMarkerPath(m.runId);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(m) + '\n', { mode: 0o644 });
  renameSync(tmp, file);
}

export function removeOwnerMarker(runId: string): void {
  rmSync(ownerMarkerPath(runId), { force: true });
}

/** Every readable owner marker, by run id. */
export function listOwnerMarkers(): Map<string, OwnerMarker> {
  const out = new Map<string, OwnerMarker>();
  let names: string[];
  try {
    names = readdirSync(OWNERS_DIR);
  } catch {
    return out;
  }
  for (const n of names.filter((x) => /^[a-z0-9]{6}\.json$/.test(x))) {
    try {
      const m = JSON.parse(readFileSync(join(OWNERS_DIR, n), 'utf8')) as OwnerMarker;
      if (m && typeof m.owner?.pid === 'number') out.set(n.slice(0, 6), m);
    } catch {
      /* being written (rename is atomic) or removed meanwhile */
    }
  }
  return out;
}

export class LabState {
  readonly file: string;
  constructor(
    readonly record: LabRecord,
    readonly dir: string = stateDir(),
  ) {
    this.file = join(dir, `${record.runId}.json`);
  }

  /** Writes the owner marker, then the record: both exist before the lab creates anything. */
  static create(runId: string, dir = stateDir()): LabState {
    const s = new LabState({ runId, owner: { pid: process.pid, start: procStart(process.pid) }, createdAt: new Date().toISOString(), namespaces: [], sockets: [], processes: [], phase: 'building' }, dir);
    writeOwnerMarker({ runId, owner: s.record.owner, stateFile: s.file });
    s.save();
    return s;
  }

  save(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.record, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.file);
  }

  update(fn: (r: LabRecord) => void): void {
    fn(this.record);
    this.save();
  }

  remove(): void {
    rmSync(this.file, { force: true });
  }
}

export function readRecord(file: string): LabRecord | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LabRecord;
  } catch {
    return undefined;
  }
}

/** Every lab record in the state directory. */
export function listRecords(dir = stateDir()): Array<{ file: string; record: LabRecord }> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: Array<{ file: string; record: LabRecord }> = [];
  for (const n of names.filter((x) => /^[a-z0-9]{6}\.json$/.test(x))) {
    const record = readRecord(join(dir, n));
    if (record) out.push({ file: join(dir, n), record });
  }
  return out;
}
