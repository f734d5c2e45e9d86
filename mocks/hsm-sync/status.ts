// What an agent tells the world: events as JSON lines on stderr (fingerprints, KCVs, sizes — never a
// wrapped blob, a PIN or key material), and its state as one JSON document rewritten atomically on each
// change (`--status FILE`), for the lab's `lab status` and for tests.
import { renameSync, writeFileSync } from 'node:fs';
import type { Unreplicable } from './key-state.ts';
import type { WireName } from './protocol.ts';

export interface SessionInfo {
  /** This end: the address the primary connected from, or the one the replica accepted on. */
  local: string;
  remote: string;
  since: number;
}

export interface AgentStatus {
  role: 'primary' | 'replica';
  site: string;
  pid: number;
  state: 'starting' | 'connecting' | 'ceremony' | 'syncing' | 'idle' | 'disconnected' | 'listening' | 'stopped';
  token: { label: string | null; objects: number | null };
  /** The cloning domain's KEK, by its check value. */
  kek: { kcv: string | null; since: number | null };
  /** The PKCS#11 worker: starts so far, and the last failure (deadline, crash). */
  hsm: { generation: number; lastError: string | null };
  /** Primary: its journal and the replica's acknowledgement. */
  journal: { id: string; seq: number; acked: number; pending: number } | null;
  /** The open session, and the last one (the route a test or the lab checks). */
  session: SessionInfo | null;
  lastSession: SessionInfo | null;
  counters: Record<'scans' | 'sessions' | 'ceremonies' | 'ceremoniesAborted' | 'sent' | 'imported' | 'replaced' | 'present' | 'rejected' | 'deleted' | 'absent' | 'superseded' | 'droppedDeletes' | 'corrupted', number>;
  /** Keys the replica rejected (not retried until they change on the primary: "needs sync"). */
  rejected: Array<{ name: WireName; detail: string }>;
  /** Primary: token objects it does not replicate, and why. */
  unreplicable: Unreplicable[];
  /** Primary: milliseconds from sending a put to its acknowledgement. */
  latencyMs: { n: number; last: number | null; p50: number | null; p95: number | null };
  lastError: string | null;
  faults: string[];
}

export type EventLog = (ev: string, fields?: Record<string, unknown>) => void;

const LATENCY_WINDOW = 1000;

export class StatusBoard {
  readonly status: AgentStatus;
  private readonly latencies: number[] = [];

  constructor(
    init: Pick<AgentStatus, 'role' | 'site' | 'faults'>,
    private readonly file?: string,
  ) {
    this.status = {
      ...init,
      pid: process.pid,
      state: 'starting',
      token: { label: null, objects: null },
      kek: { kcv: null, since: null },
      hsm: { generation: 0, lastError: null },
      journal: null,
      session: null,
      lastSession: null,
      counters: { scans: 0, sessions: 0, ceremonies: 0, ceremoniesAborted: 0, sent: 0, imported: 0, replaced: 0, present: 0, rejected: 0, deleted: 0, absent: 0, superseded: 0, droppedDeletes: 0, corrupted: 0 },
      rejected: [],
      unreplicable: [],
      latencyMs: { n: 0, last: null, p50: null, p95: null },
      lastError: null,
    };
    this.write();
  }

  /** Changes the status and rewrites the file. */
  update(f: (s: AgentStatus) => void): void {
    f(this.status);
    this.write();
  }

  count(c: keyof AgentStatus['counters'], n = 1): void {
    this.update((s) => (s.counters[c] += n));
  }

  latency(ms: number): void {
    this.latencies.push(ms);
    if (this.latencies.length > LATENCY_WINDOW) this.latencies.shift();
    const sorted = [...this.latencies].sort((x, y) => x - y);
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
    this.update((s) => (s.latencyMs = { n: s.latencyMs.n + 1, last: ms, p50: q(0.5), p95: q(0.95) }));
  }

  private write(): void {
    if (!this.file) return;
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.status, null, 1)}\n`, { mode: 0o644 });
    renameSync(tmp, this.file);
  }
}

/** JSON-lines events on stderr (the house style of the lab's mocks: stdout carries the status line). */
export function stderrLog(site: string, role: string): EventLog {
  return (ev, fields = {}) => process.stderr.write(`${JSON.stringify({ t: Date.now(), site, role, ev, ...fields })}\n`);
}
