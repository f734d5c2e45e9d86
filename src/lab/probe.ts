// The continuous probe across the tunnel: WireGuard only handshakes when there is traffic, and an
// outage is only visible to traffic. Each site runs a UDP echo responder and a prober that sends a
// numbered datagram every `intervalMs` to the peer's overlay address and writes what happened to a
// JSON-lines log: cumulative counters each second and every outage (first lost → next answered send).
import { createSocket, type Socket } from 'node:dgram';
import { appendFileSync, readFileSync } from 'node:fs';

export interface ProbeOptions {
  target: string;
  port: number;
  intervalMs: number;
  /** A datagram unanswered after this long counts as lost. */
  timeoutMs: number;
  log: string;
  /**
   * Instrument fault for the lab's negative control (src/lab/negative-control.ts): every datagram counts
   * as answered the moment it is sent, whatever the network does — a blind probe the control must catch.
   */
  alwaysReplies?: boolean;
}

export type ProbeRecord =
  | { k: 'start'; t: number; target: string; intervalMs: number; timeoutMs: number }
  | { k: 'sum'; t: number; sent: number; ok: number; lost: number; late: number; rttP50: number | null; rx?: number }
  /** An answer arrived (written at once, at arrival) after none for `timeoutMs`, or the first ever: the tunnel carries traffic again. */
  | { k: 'up'; t: number }
  | { k: 'down'; from: number }
  | { k: 'outage'; from: number; to: number; lost: number };

/** Answers every datagram with itself (RFC 862 echo over UDP). */
export function startEcho(port: number, address = '0.0.0.0'): Socket {
  const s = createSocket('udp4');
  s.on('message', (msg, rinfo) => s.send(msg, rinfo.port, rinfo.address));
  s.on('error', () => undefined);
  s.bind(port, address);
  return s;
}

export class Prober {
  private sock = createSocket('udp4');
  private seq = 0;
  private next = 1; // next sequence number whose fate is reported in order
  private pending = new Map<number, { sent: number; done?: 'ok' | 'lost' }>();
  private counts = { sent: 0, ok: 0, lost: 0, late: 0 };
  /** Answers received (any sequence number, counted at arrival) and when the last one came. */
  private rx = 0;
  private lastRx = 0;
  private rtts: number[] = [];
  private outage: { from: number; lost: number } | undefined;
  private timers: NodeJS.Timeout[] = [];

  constructor(readonly o: ProbeOptions) {}

  private write(r: ProbeRecord): void {
    appendFileSync(this.o.log, JSON.stringify(r) + '\n', { mode: 0o600 });
  }

  start(): void {
    this.sock.on('message', (msg) => this.answer(msg));
    this.sock.on('error', () => undefined);
    this.write({ k: 'start', t: Date.now(), target: `${this.o.target}:${this.o.port}`, intervalMs: this.o.intervalMs, timeoutMs: this.o.timeoutMs });
    this.timers.push(setInterval(() => this.send(), this.o.intervalMs));
    this.timers.push(setInterval(() => this.summary(), 1_000));
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.summary();
    this.sock.close();
  }

  private send(): void {
    const seq = ++this.seq;
    const sent = Date.now();
    this.pending.set(seq, { sent });
    this.counts.sent++;
    const msg = Buffer.from(`qkdh-probe ${seq} ${sent}`);
    this.sock.send(msg, this.o.port, this.o.target, () => undefined);
    if (this.o.alwaysReplies) setImmediate(() => this.answer(msg));
    setTimeout(() => this.settle(seq, 'lost'), this.o.timeoutMs);
  }

  private answer(msg: Buffer): void {
    const m = /^qkdh-probe (\d+) (\d+)$/.exec(msg.toString('latin1'));
    if (!m) return;
    const now = Date.now();
    if (!this.rx || now - this.lastRx > this.o.timeoutMs) this.write({ k: 'up', t: now });
    this.rx++;
    this.lastRx = now;
    const seq = Number(m[1]);
    const p = this.pending.get(seq);
    if (!p || p.done) {
      if (seq < this.next || p?.done === 'lost') this.counts.late++;
      return;
    }
    this.rtts.push(Date.now() - p.sent);
    if (this.rtts.length > 200) this.rtts.shift();
    this.settle(seq, 'ok');
  }

  /** Records a datagram's fate, then reports fates strictly in sequence order. */
  private settle(seq: number, fate: 'ok' | 'lost'): void {
    const p = this.pending.get(seq);
    if (!p || p.done) return;
    p.done = fate;
    for (let q = this.pending.get(this.next); q?.done; q = this.pending.get(this.next)) {
      this.pending.delete(this.next++);
      if (q.done === 'ok') {
        this.counts.ok++;
        if (this.outage) {
          this.write({ k: 'outage', from: this.outage.from, to: q.sent, lost: this.outage.lost });
          this.outage = undefined;
        }
      } else {
        this.counts.lost++;
        if (!this.outage) {
          this.outage = { from: q.sent, lost: 0 };
          this.write({ k: 'down', from: q.sent });
        }
        this.outage.lost++;
      }
    }
  }

  private summary(): void {
    const sorted = [...this.rtts].sort((a, b) => a - b);
    this.write({ k: 'sum', t: Date.now(), ...this.counts, rx: this.rx, rttP50: sorted.length ? sorted[Math.floor(sorted.length / 2)]! : null });
  }
}

export interface Outage {
  from: number;
  /** null while the outage goes on. */
  to: number | null;
  lost: number;
}

export interface ProbeReport {
  target?: string;
  sent: number;
  ok: number;
  lost: number;
  late: number;
  /** lost / (ok + lost): datagrams whose fate is known. */
  loss: number;
  rttP50: number | null;
  outages: Outage[];
  /** Time of the last summary line. */
  at: number | null;
}

export function parseProbeLog(text: string): ProbeReport {
  const r: ProbeReport = { sent: 0, ok: 0, lost: 0, late: 0, loss: 0, rttP50: null, outages: [], at: null };
  let open: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let rec: ProbeRecord;
    try {
      rec = JSON.parse(line) as ProbeRecord;
    } catch {
      continue; // a line being written
    }
    if (rec.k === 'start') r.target = rec.target;
    else if (rec.k === 'sum') Object.assign(r, { sent: rec.sent, ok: rec.ok, lost: rec.lost, late: rec.late, rttP50: rec.rttP50, at: rec.t });
    else if (rec.k === 'down') open = rec.from;
    else if (rec.k === 'outage') {
      r.outages.push({ from: rec.from, to: rec.to, lost: rec.lost });
      open = undefined;
    }
  }
  if (open !== undefined) r.outages.push({ from: open, to: null, lost: 0 });
  r.loss = r.ok + r.lost ? r.lost / (r.ok + r.lost) : 0;
  return r;
}

export function readProbeLog(file: string): ProbeReport {
  try {
    return parseProbeLog(readFileSync(file, 'utf8'));
  } catch {
    return parseProbeLog('');
  }
}

/** The probe's counters over a span: from `from` (ms) on, with loss over the datagrams whose fate is known. */
export interface ProbeSpan {
  /** When the tunnel first carried traffic (ms), or null when it has not (see `probeSinceFirstUp`). */
  from: number | null;
  sent: number;
  ok: number;
  lost: number;
  loss: number;
}

/**
 * The probe counted from the first time the tunnel carried traffic at or after `after` (ms): the first
 * `up` record then (an answer after none for the probe's timeout). Labs start with deliberately
 * different PSKs, and the negative control leaves them different again (`after` = its end), so that is
 * the first PSK both sites' key control agreed on. The baseline is the first summary once the probe's
 * timeout has settled the datagrams lost before it, so none of that outage is counted.
 * `from: null` (and zeros) when the tunnel has not carried traffic since `after`.
 */
export function probeSinceFirstUp(text: string, after: number): ProbeSpan {
  const recs: ProbeRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      recs.push(JSON.parse(line) as ProbeRecord);
    } catch {
      /* a line being written */
    }
  }
  const timeoutMs = recs.find((r): r is Extract<ProbeRecord, { k: 'start' }> => r.k === 'start')?.timeoutMs ?? 1_000;
  const sums = recs.filter((r): r is Extract<ProbeRecord, { k: 'sum' }> => r.k === 'sum');
  const up = recs.find((r): r is Extract<ProbeRecord, { k: 'up' }> => r.k === 'up' && r.t >= after);
  const base = up && sums.find((r) => r.t >= up.t + timeoutMs);
  const last = sums.at(-1);
  if (!up || !base || !last) return { from: up ? up.t : null, sent: 0, ok: 0, lost: 0, loss: 0 };
  const d = { sent: last.sent - base.sent, ok: last.ok - base.ok, lost: last.lost - base.lost };
  return { from: up.t, ...d, loss: d.ok + d.lost ? d.lost / (d.ok + d.lost) : 0 };
}

/** Answers the probe received up to its last record (the `rx` counter, or at least one per `up` record) and the times of its `up` records. */
export function probeAnswers(text: string): { rx: number; ups: number[] } {
  let rx = 0;
  const ups: number[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as ProbeRecord;
      if (r.k === 'up') ups.push(r.t);
      else if (r.k === 'sum' && typeof r.rx === 'number') rx = r.rx;
    } catch {
      /* a line being written */
    }
  }
  return { rx: Math.max(rx, ups.length), ups };
}
