// A conformance run's overall time budget (profile `run_budget_s`) and its record of stalled endpoints,
// so a run against a KME that stalls (bodies that never end, lying Content-Length, headers that trickle)
// ends in bounded time with its table, instead of waiting the full deadline on every request.
//
// Once a request to one KME origin × endpoint (status, enc_keys, dec_keys or other) × client TLS settings
// has run past its deadline, every later request there fails at once; once the budget is spent, every
// request does. Both fail as KmeTransportError kind 'deadline' (class RunBudgetError) saying why.
// The client TLS settings are part of the key so that a negative-test client (no certificate, TLS 1.1)
// whose handshake hangs does not blind the run for the real SAEs.
//
// Vitest runs suite files in separate worker processes: the stall record is shared through a JSON-lines
// file (one line per stall, appended; each process re-reads it when its size changes), and every
// process measures the budget from the same start time (epoch ms). Unconfigured (plain vitest runs,
// the kill matrix, the client's own tests) this module does nothing.
import { appendFileSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { KmeTransportError } from './errors.ts';
import type { SaeIdentity } from './identity.ts';

export interface RunBudgetConfig {
  /** When the run started (epoch ms, Date.now()). */
  startedAt: number;
  /** The whole run's budget in ms. */
  budgetMs: number;
  /** JSON-lines file shared by the run's processes; absent: this process only. */
  file?: string;
}

/** A request not sent (or cut short) because of the run budget or an earlier stall. */
export class RunBudgetError extends KmeTransportError {
  override name = 'RunBudgetError';
  constructor(message: string) {
    super('deadline', message);
  }
}

interface Stall {
  key: string;
  /** Epoch ms when the stall was recorded. */
  at: number;
  deadlineMs: number;
  where: string;
}

let config: RunBudgetConfig | undefined;
const stalls = new Map<string, Stall>();
let fileSize = 0;
/** Requests of this process refused or cut short so far, and the reasons of the most recent ones. */
let refusalCount = 0;
const recent: Array<{ n: number; message: string }> = [];

/** Turns the budget on (or off with undefined) for this process; forgets what an earlier run recorded. */
export function configureRunBudget(c: RunBudgetConfig | undefined): void {
  config = c;
  stalls.clear();
  fileSize = 0;
}

const ENDPOINTS = new Set(['status', 'enc_keys', 'dec_keys']);

/** status / enc_keys / dec_keys by the last path segment; anything else is one "other" endpoint. */
export function endpointOf(url: URL): string {
  const last = url.pathname.split('/').filter(Boolean).at(-1) ?? '';
  return ENDPOINTS.has(last) ? last : 'other';
}

const tags = new WeakMap<SaeIdentity, string>();

/** The client TLS settings of an identity, as a short tag (never key material: a hash prefix). */
function tagOf(identity: SaeIdentity): string {
  let tag = tags.get(identity);
  if (!tag) {
    const o = identity.options;
    const h = createHash('sha256').update(JSON.stringify([String(o.cert ?? ''), o.minVersion ?? '', o.maxVersion ?? '', o.ciphers ?? ''])).digest('hex');
    tag = h.slice(0, 8);
    tags.set(identity, tag);
  }
  return tag;
}

const keyOf = (identity: SaeIdentity, url: URL): string => `${url.origin} ${endpointOf(url)} ${tagOf(identity)}`;

/** Picks up stalls other processes recorded since the last look. */
function refresh(): void {
  if (!config?.file) return;
  let size: number;
  try {
    size = statSync(config.file).size;
  } catch {
    return; // no stall recorded yet
  }
  if (size === fileSize) return;
  fileSize = size;
  for (const line of readFileSync(config.file, 'utf8').split('\n')) {
    try {
      const s = JSON.parse(line) as Stall;
      if (typeof s.key === 'string' && !stalls.has(s.key)) stalls.set(s.key, s);
    } catch {
      // a line being written right now, or an empty one
    }
  }
}

function recordRefusal(message: string): void {
  recent.push({ n: refusalCount++, message });
  if (recent.length > 100) recent.shift();
}

function refuse(message: string): never {
  recordRefusal(message);
  throw new RunBudgetError(message);
}

const clock = (epochMs: number): string => new Date(epochMs).toISOString().slice(11, 23);

/**
 * Called before a request: throws RunBudgetError when the budget is spent or this KME × endpoint ×
 * client stalled earlier; otherwise returns the request's deadline (ms), shortened to what is left of
 * the budget. Without a configured budget, returns `deadlineMs` unchanged.
 */
export function admitRequest(identity: SaeIdentity, url: URL, where: string, deadlineMs: number): number {
  if (!config) return deadlineMs;
  const left = config.startedAt + config.budgetMs - Date.now();
  if (left <= 0) refuse(`${where}: not sent: the run budget of ${Math.round(config.budgetMs / 1000)} s (run_budget_s in the target profile) is spent`);
  refresh();
  const stall = stalls.get(keyOf(identity, url));
  if (stall) refuse(`${where}: not sent: ${endpointOf(url)} at ${url.host} stalled earlier in this run (no complete answer within ${stall.deadlineMs} ms, at ${clock(stall.at)} UTC); the run does not wait for it again`);
  return Math.min(deadlineMs, left);
}

/**
 * The stall this run recorded for `identity` at `url`'s KME × endpoint, in words, or undefined: lets the
 * timeliness requirement (qkd014/5/2) judge a stall another check met without waiting for it again.
 */
export function stalledEarlier(identity: SaeIdentity, url: URL): string | undefined {
  if (!config) return undefined;
  refresh();
  const stall = stalls.get(keyOf(identity, url));
  return stall && `${stall.where}: no complete answer within ${stall.deadlineMs} ms (at ${clock(stall.at)} UTC)`;
}

/**
 * Called when a request ran past its deadline: records the stall for every process of the run, unless
 * the deadline was the end of the budget (then later requests are refused for that reason anyway).
 */
export function noteStall(identity: SaeIdentity, url: URL, where: string, deadlineMs: number): void {
  if (!config) return;
  if (Date.now() >= config.startedAt + config.budgetMs - 1) {
    recordRefusal(`${where}: cut short when the run budget of ${Math.round(config.budgetMs / 1000)} s ran out`);
    return;
  }
  const stall: Stall = { key: keyOf(identity, url), at: Date.now(), deadlineMs, where };
  stalls.set(stall.key, stall);
  if (config.file) {
    try {
      appendFileSync(config.file, JSON.stringify(stall) + '\n');
    } catch {
      // the record stays in this process; other processes then wait for the deadline once themselves
    }
  }
}

/** How many requests this process refused or cut short so far (a mark for refusalSince). */
export function refusalMark(): number {
  return refusalCount;
}

/** The first refusal since `mark`, or undefined: a check that met one cannot be judged. */
export function refusalSince(mark: number): string | undefined {
  if (refusalCount <= mark) return undefined;
  return (recent.find((r) => r.n >= mark) ?? recent.at(-1))?.message;
}
