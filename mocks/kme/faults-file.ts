// A lab-only fault control file that a running mock (the KME, the PQC emulator) re-reads cheaply: a
// stat per look, the JSON parsed again only when inode, size or mtime changed. Its shape:
//
//   { "id": "a1b2c3", "<fault>": { "from": <epoch ms>, "until": <epoch ms> }, … }
//
// Each fault is in effect while from ≤ now < until, so a window ends by itself even if whoever wrote it
// is gone. A missing, unreadable or malformed file means no fault at all (logged once per state of the
// file, never thrown). Whenever the process takes in a new version it writes `<file>.applied` (atomic,
// 0600) with the version's id — how the writer (src/lab/env-faults.ts) knows the fault is in effect.
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { z } from 'zod';

export interface FaultWindowMs {
  from: number;
  until: number;
}

/** What `<file>.applied` holds: the id taken in (null when the file was missing or malformed) and why not. */
export interface FaultsAck {
  id: string | null;
  at: number;
  error?: string;
}

const window = z.strictObject({ from: z.number(), until: z.number() });

export const ackPath = (file: string): string => `${file}.applied`;

export class FaultsFile<N extends string> {
  private seen: string | undefined;
  private windows: Partial<Record<N, FaultWindowMs>> = {};
  private timer: NodeJS.Timeout | undefined;
  private readonly schema: z.ZodType<{ id?: string } & Partial<Record<N, FaultWindowMs>>>;

  /**
   * @param path the control file (it need not exist yet)
   * @param names the fault names the file may hold; any other key makes the file malformed
   * @param log one line per new state of the file (applied, missing, malformed)
   */
  constructor(
    readonly path: string,
    readonly names: readonly N[],
    private readonly log: (line: string) => void,
  ) {
    const shape: Record<string, z.ZodType> = { id: z.string().max(64).optional() };
    for (const n of names) shape[n] = window.optional();
    this.schema = z.strictObject(shape) as unknown as typeof this.schema;
  }

  /** Also re-reads every `pollMs` (unref'd timer), so a new version is acknowledged without waiting for traffic. */
  watch(pollMs = 250): this {
    this.timer ??= setInterval(() => this.refresh(), pollMs);
    this.timer.unref();
    this.refresh();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The window of `name` that holds `now`, or undefined. */
  window(name: N, now = Date.now()): FaultWindowMs | undefined {
    this.refresh();
    const w = this.windows[name];
    return w && w.from <= now && now < w.until ? w : undefined;
  }

  active(name: N, now = Date.now()): boolean {
    return this.window(name, now) !== undefined;
  }

  /** Takes in the file when it changed since the last look. Never throws. */
  refresh(): void {
    let stamp: string;
    try {
      const st = statSync(this.path);
      stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch (err) {
      stamp = `missing:${(err as NodeJS.ErrnoException).code ?? 'error'}`;
    }
    if (stamp === this.seen) return;
    this.seen = stamp;
    if (stamp.startsWith('missing:')) return this.take({}, undefined, stamp === 'missing:ENOENT' ? undefined : `cannot be read (${stamp.slice(8)})`);
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch (err) {
      return this.take({}, undefined, `not JSON (${(err as Error).message.split('\n')[0]!.slice(0, 120)})`);
    }
    const parsed = this.schema.safeParse(doc);
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      return this.take({}, undefined, `malformed at ${i.path.join('.') || '(top level)'}: ${i.message}`);
    }
    const { id, ...windows } = parsed.data;
    this.take(windows as unknown as Partial<Record<N, FaultWindowMs>>, id ?? null);
  }

  private take(windows: Partial<Record<N, FaultWindowMs>>, id: string | null | undefined, error?: string): void {
    this.windows = windows;
    if (error) this.log(`faults file ${this.path} ${error}: no fault`);
    else if (id === undefined) this.log(`faults file ${this.path} absent: no fault`);
    else {
      const list = Object.entries(windows as Record<string, FaultWindowMs>).map(([n, w]) => `${n} ${new Date(w.from).toISOString()}..${new Date(w.until).toISOString()}`);
      this.log(`faults file ${this.path} applied (id ${id ?? '-'}): ${list.length ? list.join(', ') : 'no fault'}`);
    }
    const ack: FaultsAck = { id: id ?? null, at: Date.now(), ...(error ? { error } : {}) };
    try {
      writeAtomic(ackPath(this.path), JSON.stringify(ack));
    } catch {
      /* the directory went away (lab teardown): nothing to acknowledge to */
    }
  }
}

/** Writes `text` to `file` through a temporary file and a rename, mode 0600: readers see the old or the new file, never a part. */
export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}
