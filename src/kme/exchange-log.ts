// Which status codes a target actually produced, per endpoint: every exchange of a conformance run noted
// as one JSON line (method, endpoint, status or the transport failure; never a body, never a key) in a
// file the run's processes share, and tallied against the codes ETSI GS QKD 014 clause 5 defines.
// Unconfigured (plain vitest runs, the kill matrix, the client's own tests) this module does nothing.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';

let file: string | undefined;

/** From now on, every exchange of this process is appended to `path` (undefined: stop). */
export function configureExchangeLog(path: string | undefined): void {
  file = path;
}

/** One exchange: `status` is the answer head's code, or absent when none came (`failure`: the transport kind). */
export interface ExchangeNote {
  method: string;
  /** status, enc_keys, dec_keys or other (src/kme/run-budget.ts endpointOf). */
  endpoint: string;
  status?: number;
  failure?: string;
}

export function noteExchange(n: ExchangeNote): void {
  if (file) appendFileSync(file, JSON.stringify(n) + '\n');
}

/** The answer codes clause 5 defines for each of its methods (5.1: 200, 400, 401, 503). */
export const DEFINED_CODES: readonly number[] = [200, 400, 401, 503];

export interface EndpointCoverage {
  /** e.g. 'POST enc_keys'. */
  endpoint: string;
  /** How often each answer came: status codes, and 'no answer (KIND)' for transport failures. */
  seen: Record<string, number>;
  /** Whether clause 5 defines this method on this endpoint (DELETE enc_keys is a probe of the harness). */
  defined: boolean;
  /** Defined codes this endpoint never produced in the run. */
  notSeen: number[];
  /** Codes it produced that the standard does not define. */
  undefinedSeen: number[];
}

const ORDER = ['GET status', 'POST enc_keys', 'GET enc_keys', 'POST dec_keys', 'GET dec_keys'];

/** Tallies the log at `path` (missing file: no exchanges). Lines that do not parse are skipped. */
export function exchangeCoverage(path: string): EndpointCoverage[] {
  const by = new Map<string, Record<string, number>>();
  const lines = existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
  for (const l of lines) {
    let n: ExchangeNote;
    try {
      n = JSON.parse(l) as ExchangeNote;
    } catch {
      continue;
    }
    const key = `${n.method} ${n.endpoint}`;
    const seen = by.get(key) ?? {};
    const what = n.status !== undefined ? String(n.status) : `no answer (${n.failure ?? 'unknown'})`;
    seen[what] = (seen[what] ?? 0) + 1;
    by.set(key, seen);
  }
  const rank = (e: string): number => (ORDER.includes(e) ? ORDER.indexOf(e) : ORDER.length);
  return [...by.entries()]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([endpoint, seen]) => {
      const codes = Object.keys(seen).filter((k) => /^\d+$/.test(k)).map(Number);
      if (!ORDER.includes(endpoint)) return { endpoint, defined: false, seen, notSeen: [], undefinedSeen: [] };
      return { endpoint, defined: true, seen, notSeen: DEFINED_CODES.filter((c) => !codes.includes(c)), undefinedSeen: codes.filter((c) => !DEFINED_CODES.includes(c)).sort((a, b) => a - b) };
    });
}

/** The coverage as table lines for the terminal. */
export function coverageLines(c: EndpointCoverage[]): string[] {
  if (!c.length) return ['status codes by endpoint: no exchange recorded'];
  const width = Math.max(...c.map((e) => e.endpoint.length));
  return [
    `status codes by endpoint (defined by clause 5: ${DEFINED_CODES.join(', ')}):`,
    ...c.map((e) => {
      const seen = Object.entries(e.seen).map(([k, n]) => `${k}×${n}`).join(' ');
      const notes = e.defined ? [e.notSeen.length ? `never ${e.notSeen.join(', ')}` : '', e.undefinedSeen.length ? `not defined: ${e.undefinedSeen.join(', ')}` : ''].filter(Boolean).join('; ') : 'not a method of the standard';
      return `  ${e.endpoint.padEnd(width)}  ${seen}${notes ? `  (${notes})` : ''}`;
    }),
  ];
}
