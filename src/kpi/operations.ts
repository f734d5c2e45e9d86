// The ETSI GS QKD 014 operations a KPI phase repeats, on the load engine: Status, enc_keys (master at
// its KME) and the full master → slave flow (enc_keys at A, dec_keys at B for the same key_IDs). Key
// bodies are parsed for their count and key_IDs only; the key values are dropped at once and never
// reach a result, message or file.
import { isOk, type Endpoint, type LoadEngine, type Reply } from './engine.ts';
import type { OpResult } from './load.ts';
import type { Status } from '../../generated/etsi014-v1/sdk/types.gen.js';

/** The two SAEs a KPI run uses: master at KME A, slave at KME B. */
export interface Roles {
  master: Endpoint;
  slave: Endpoint;
}

/** The Status members KPI phases need (clause 6.1), as the generated client types them. */
export type StatusFigures = Pick<Status, 'key_size' | 'stored_key_count' | 'max_key_count' | 'max_key_per_request' | 'max_key_size' | 'min_key_size'>;

const enc = encodeURIComponent;

function failed(r: Reply, what: string): OpResult {
  if (r.failure) return { ok: false, status: r.status, ms: r.ms, failure: r.failure.kind, detail: r.failure.detail };
  return { ok: false, status: r.status, ms: r.ms, failure: `HTTP ${r.status}`, detail: `${what} answered HTTP ${r.status}` };
}

const STATUS_MEMBERS = ['key_size', 'stored_key_count', 'max_key_count', 'max_key_per_request', 'max_key_size', 'min_key_size'] as const;

/** The Status figures in a body, or why it is not a Status (clause 6.1): a 200 with anything else is no answer. */
function parseStatus(body: Buffer | undefined): StatusFigures | string {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(body?.toString('utf8') ?? '') as Record<string, unknown>;
  } catch {
    return 'is not JSON';
  }
  const out: Record<string, number> = {};
  for (const m of STATUS_MEMBERS) {
    const v = j?.[m];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return `${m} is not a non-negative integer`;
    out[m] = v;
  }
  return out as unknown as StatusFigures;
}

/** GET Status of the slave, as the master; counted as served only when the body is a Status. */
export async function status(engine: LoadEngine, roles: Roles, cold = false): Promise<OpResult> {
  const r = await engine.send(roles.master, { method: 'GET', path: `/api/v1/keys/${enc(roles.slave.saeId)}/status` }, { cold, keepBody: true });
  if (!isOk(r)) return failed(r, 'Status');
  const st = parseStatus(r.body);
  return typeof st === 'string' ? { ok: false, status: r.status, ms: r.ms, failure: 'bad-answer', detail: `Status answered ${r.status} but its body ${st}` } : { ok: true, status: r.status, ms: r.ms };
}

/** Reads Status figures once (for sizes and the pool level); throws a one-sentence Error when it cannot. */
export async function readStatus(engine: LoadEngine, roles: Roles): Promise<StatusFigures> {
  const r = await engine.send(roles.master, { method: 'GET', path: `/api/v1/keys/${enc(roles.slave.saeId)}/status` }, { keepBody: true });
  if (r.failure) throw new Error(`Status at ${roles.master.url} failed: ${r.failure.detail}`);
  if (r.status !== 200) throw new Error(`Status at ${roles.master.url} answered HTTP ${r.status}`);
  const st = parseStatus(r.body);
  if (typeof st === 'string') throw new Error(`Status at ${roles.master.url}: the body ${st}`);
  return st;
}

/** Count and key_IDs of a key container; undefined when it is not one (no key values are kept). */
function container(body: Buffer | undefined): { ids: string[] } | undefined {
  if (!body) return undefined;
  try {
    const keys = (JSON.parse(body.toString('utf8')) as { keys?: unknown })?.keys;
    if (!Array.isArray(keys)) return undefined;
    const ids: string[] = [];
    for (const k of keys) {
      const id = (k as { key_ID?: unknown })?.key_ID;
      if (typeof id !== 'string') return undefined;
      ids.push(id);
    }
    return { ids };
  } catch {
    return undefined;
  }
}

/** enc_keys for `number` keys of `size` bits (size omitted: the KME's default, counted as `defaultSize`). */
export async function encKeys(engine: LoadEngine, roles: Roles, o: { number: number; size?: number; defaultSize: number; cold?: boolean }): Promise<OpResult & { ids?: string[] }> {
  const q = `number=${o.number}${o.size ? `&size=${o.size}` : ''}`;
  const r = await engine.send(roles.master, { method: 'GET', path: `/api/v1/keys/${enc(roles.slave.saeId)}/enc_keys?${q}` }, { cold: o.cold ?? false, keepBody: true });
  if (!isOk(r)) return failed(r, 'enc_keys');
  const c = container(r.body);
  if (!c) return { ok: false, status: r.status, ms: r.ms, failure: 'bad-answer', detail: `enc_keys answered ${r.status} without a key container` };
  if (c.ids.length !== o.number) return { ok: false, status: r.status, ms: r.ms, failure: 'bad-answer', detail: `enc_keys answered ${c.ids.length} keys for number=${o.number}` };
  return { ok: true, status: r.status, ms: r.ms, keys: c.ids.length, bits: c.ids.length * (o.size ?? o.defaultSize), ids: c.ids };
}

/** The full flow: enc_keys for one key at the master's KME, then dec_keys for its key_ID at the slave's. */
export async function flow(engine: LoadEngine, roles: Roles, o: { defaultSize: number; cold?: boolean }): Promise<OpResult> {
  const started = performance.now();
  const e = await encKeys(engine, roles, { number: 1, defaultSize: o.defaultSize, cold: o.cold ?? false });
  if (!e.ok) return { ...e, detail: `enc_keys: ${e.detail}` };
  const r = await engine.send(roles.slave, { method: 'POST', path: `/api/v1/keys/${enc(roles.master.saeId)}/dec_keys`, json: { key_IDs: e.ids!.map((key_ID) => ({ key_ID })) } }, { cold: o.cold ?? false, keepBody: true });
  const ms = performance.now() - started;
  if (!isOk(r)) return { ...failed(r, 'dec_keys'), ms };
  const c = container(r.body);
  if (!c || c.ids.length !== e.ids!.length || c.ids.some((id, i) => id !== e.ids![i])) return { ok: false, status: r.status, ms, failure: 'bad-answer', detail: 'dec_keys did not return the key_IDs enc_keys delivered' };
  return { ok: true, status: r.status, ms, keys: e.keys!, bits: e.bits! };
}
