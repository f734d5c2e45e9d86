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
  /**
   * TCP payload bytes of this agent's session sockets, all sessions together (framing and JSON
   * included, TCP/IP headers not): what crossed the link between the agents, for comparing with the
   * tunnel's transfer counters. As of the last status write.
   */
  bytes: { sent: number; received: number };
  /** Primary: milliseconds from sending a put to its acknowledgement. */
  latencyMs: { n: number; last: number | null; p50: number | null; p95: number | null };
  lastError: string | null;
  faults: string[];
}

/** A session socket whose bytes are counted (connection.ts FramedConnection). */
export interface Link {
  bytes(): { sent: number; received: number };
}

export type EventLog = (ev: string, fields?: Record<string, unknown>) => void;

const LATENCY_WINDOW = 1000;

export class StatusBoard {
  readonly status: AgentStatus;
  private readonly latencies: number[] = [];
  /** Open session sockets, and the bytes of those already closed. */
  private readonly links = new Set<Link>();
  private closedBytes = { sent: 0, received: 0 };

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
      bytes: { sent: 0, received: 0 },
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

  /** Counts `link`'s bytes in `bytes` from now on (each later write reads them). */
  attach(link: Link): void {
    this.links.add(link);
  }

  /** The session is over: its final bytes stay in `bytes`. Idempotent. */
  detach(link: Link): void {
    if (!this.links.delete(link)) return;
    const b = link.bytes();
    this.closedBytes = { sent: this.closedBytes.sent + b.sent, received: this.closedBytes.received + b.received };
    this.write();
  }

  private write(): void {
    const open = [...this.links].map((l) => l.bytes());
    this.status.bytes = { sent: this.closedBytes.sent + open.reduce((n, b) => n + b.sent, 0), received: this.closedBytes.received + open.reduce((n, b) => n + b.received, 0) };
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
