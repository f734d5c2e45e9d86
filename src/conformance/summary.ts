// summary.json and the table printed at the end of a run. Messages and evidence are already free of
// key material (checks print fingerprints; evidence bodies are redacted).
import { coverageLines, type EndpointCoverage } from '../kme/exchange-log.ts';
import type { Level } from './catalogue.ts';
import type { Evidence } from './evidence.ts';
import { OUTCOMES, outcomeCounts, type Outcome, type ProfileName } from './verdict.ts';

export interface ResultRow {
  id: string;
  level: Level;
  /** Hardening advice of the harness, not a "shall" of the standard (at most a warning). */
  implied?: boolean;
  outcome: Outcome;
  message: string;
  expected?: Outcome;
  unexpected: boolean;
  stale: boolean;
  evidence?: Evidence[];
  durationMs?: number;
}

export interface Summary {
  target: string;
  profile: ProfileName;
  seed: number;
  started: string;
  finished: string;
  results: ResultRow[];
  /** What the run exercised: outcomes per clause, and the status codes each endpoint produced. */
  coverage?: Coverage;
}

export interface Coverage {
  clauses: Array<{ clause: string; counts: Record<Outcome, number> }>;
  endpoints: EndpointCoverage[];
}

/** Outcomes counted per clause (qkd014/5.2/3 → qkd014/5.2), in the standard's order. */
export function clauseCoverage(rows: Array<{ id: string; outcome: Outcome }>): Coverage['clauses'] {
  const by = new Map<string, Outcome[]>();
  for (const r of rows) {
    const clause = r.id.split('/').slice(0, 2).join('/');
    const outcomes = by.get(clause) ?? [];
    outcomes.push(r.outcome);
    by.set(clause, outcomes);
  }
  return [...by.entries()].sort(([a], [b]) => compareIds(`${a}/0`, `${b}/0`)).map(([clause, outcomes]) => ({ clause, counts: outcomeCounts(outcomes) }));
}

/** The coverage as lines for the terminal: outcomes per clause, then status codes per endpoint. */
export function coverageText(c: Coverage): string {
  const width = Math.max(...c.clauses.map((x) => x.clause.length), 6);
  const head = `${'clause'.padEnd(width)}  ${OUTCOMES.map((o) => o.padStart(5)).join(' ')}`;
  const rows = c.clauses.map((x) => `${x.clause.padEnd(width)}  ${OUTCOMES.map((o) => String(x.counts[o] || '·').padStart(5)).join(' ')}`);
  return ['coverage:', head, ...rows, ...coverageLines(c.endpoints)].join('\n');
}

/** Orders IDs like the standard: qkd014/5/1 < qkd014/5.2/1 < qkd014/5.10/1 < qkd014/6/1. */
export function compareIds(a: string, b: string): number {
  const key = (id: string): number[] => id.split('/').slice(1).flatMap((seg, i) => (i === 0 ? [...seg.split('.').map(Number), -1].slice(0, 3) : [Number(seg)]));
  const [pa, pb] = [a.split('/')[0]!, b.split('/')[0]!];
  if (pa !== pb) return pa.localeCompare(pb);
  const [ka, kb] = [key(a), key(b)];
  for (let i = 0; i < Math.max(ka.length, kb.length); i++) {
    const d = (ka[i] ?? -1) - (kb[i] ?? -1);
    if (d) return d;
  }
  return 0;
}

export function sortRows(rows: ResultRow[]): ResultRow[] {
  return [...rows].sort((a, b) => compareIds(a.id, b.id));
}

export function counts(rows: ResultRow[]): Record<Outcome, number> {
  const c: Record<Outcome, number> = { pass: 0, fail: 0, warn: 0, info: 0, skip: 0, error: 0 };
  for (const r of rows) c[r.outcome]++;
  return c;
}

export function formatTable(s: Summary, width = 100): string {
  const rows = sortRows(s.results);
  const idW = Math.max(2, ...rows.map((r) => r.id.length));
  const level = (r: ResultRow): string => (r.implied ? `${r.level}*` : r.level);
  const lines = [`${'ID'.padEnd(idW)}  LEVEL    OUTCOME  MESSAGE`];
  for (const r of rows) {
    const flag = r.unexpected ? ' ✗' : r.stale ? ' (stale expectation)' : '';
    const msg = `${r.message}${r.expected && r.expected !== r.outcome ? ` [expected ${r.expected}]` : ''}`;
    const room = Math.max(20, width - idW - 20);
    lines.push(`${r.id.padEnd(idW)}  ${level(r).padEnd(7)}  ${(r.outcome + flag).padEnd(7)}  ${msg.length > room ? `${msg.slice(0, room - 1)}…` : msg}`);
  }
  const c = counts(rows);
  const unexpected = rows.filter((r) => r.unexpected).length;
  if (rows.some((r) => r.implied)) lines.push('', '* implied: the harness\'s hardening advice, not a "shall" of the standard; reported at most as warn');
  lines.push('', `${s.target} (${s.profile}, seed ${s.seed}): ${rows.length} requirement${rows.length === 1 ? '' : 's'} — ${c.pass} pass, ${c.fail} fail, ${c.warn} warn, ${c.info} info, ${c.skip} skip, ${c.error} error; ${unexpected} unexpected`);
  return lines.join('\n');
}
