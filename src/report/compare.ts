// The vendor matrix (`qkd-harness report --compare DIR…`): one row per requirement, one column per
// implementation (a reports directory of `run`, `conformance` or `e2e`), rows whose outcomes differ marked.
// Read from each directory's own results; messages are already free of key material.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { escapeUTF8 } from 'entities';
import { compareIds } from '../conformance/summary.ts';
import { OUTCOMES, outcomeCounts, type Outcome } from '../conformance/verdict.ts';
import { readConformanceResults, readE2eResults, readPskResults, type StepResult } from '../run/steps.ts';

/** One implementation: its name (the run's target, made unique) and its outcome per requirement ID. */
export interface Column {
  name: string;
  dir: string;
  results: Map<string, Pick<StepResult, 'outcome' | 'message'>>;
}

export interface MatrixRow {
  id: string;
  /** One per column; undefined where that implementation has no result for the requirement. */
  outcomes: Array<Outcome | undefined>;
  messages: Array<string | undefined>;
  /** Not the same outcome in every column (a missing result counts as different). */
  differs: boolean;
}

export interface Matrix {
  columns: Array<{ name: string; dir: string; counts: Record<Outcome, number> }>;
  rows: MatrixRow[];
}

interface AnySummary {
  run?: string;
  target?: string;
  results?: unknown[];
  suites?: unknown[];
  steps?: Array<{ name: string; status: string }>;
}

/**
 * Reads one reports directory: a main job's (`run`: its steps' directories), a conformance or an e2e run's.
 * @throws Error naming the directory when it holds no results this command can read.
 */
export function readColumn(dir: string): { target: string; results: StepResult[] } {
  const file = join(dir, 'summary.json');
  if (!existsSync(file)) throw new Error(`${dir}: no summary.json (give the --reports directory of a run, conformance or e2e)`);
  let s: AnySummary;
  try {
    s = JSON.parse(readFileSync(file, 'utf8')) as AnySummary;
  } catch (err) {
    throw new Error(`${file}: not JSON (${(err as Error).message})`);
  }
  const target = typeof s.target === 'string' && s.target ? s.target : basename(resolve(dir));
  if (s.run === 'run') {
    const readers = { conformance: readConformanceResults, psk: readPskResults, e2e: readE2eResults } as const;
    const results = (s.steps ?? []).filter((x) => x.status === 'ran' && x.name in readers).flatMap((x) => readers[x.name as keyof typeof readers](join(dir, x.name)));
    return { target, results };
  }
  if (Array.isArray(s.results)) return { target, results: readConformanceResults(dir) };
  if (Array.isArray(s.suites)) return { target, results: readE2eResults(dir) };
  throw new Error(`${file}: neither a run, a conformance nor an e2e summary`);
}

/** Columns named after their targets; a name used twice gets its directory's name appended. */
export function loadColumns(dirs: string[]): Column[] {
  const read = dirs.map((dir) => ({ dir, ...readColumn(dir) }));
  const count = new Map<string, number>();
  for (const r of read) count.set(r.target, (count.get(r.target) ?? 0) + 1);
  const used = new Set<string>();
  return read.map((r) => {
    let name = (count.get(r.target) ?? 0) > 1 ? `${r.target} (${basename(resolve(r.dir))})` : r.target;
    for (let i = 2; used.has(name); i++) name = `${r.target} (${i})`;
    used.add(name);
    return { name, dir: r.dir, results: new Map(r.results.map((x) => [x.id, { outcome: x.outcome, ...(x.message ? { message: x.message } : {}) }])) };
  });
}

export function buildMatrix(columns: Column[]): Matrix {
  const ids = [...new Set(columns.flatMap((c) => [...c.results.keys()]))].sort(compareIds);
  const rows = ids.map((id) => {
    const outcomes = columns.map((c) => c.results.get(id)?.outcome);
    return { id, outcomes, messages: columns.map((c) => c.results.get(id)?.message), differs: new Set(outcomes).size > 1 };
  });
  return { columns: columns.map((c) => ({ name: c.name, dir: c.dir, counts: outcomeCounts([...c.results.values()].map((r) => r.outcome)) })), rows };
}

/** The differing rows as a text table for the terminal (all rows with `all`). */
export function matrixText(m: Matrix, all = false): string {
  const rows = all ? m.rows : m.rows.filter((r) => r.differs);
  const head = ['requirement', ...m.columns.map((c) => c.name)];
  const body = rows.map((r) => [r.id, ...r.outcomes.map((o) => o ?? '—')]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const differing = m.rows.filter((r) => r.differs).length;
  return [line(head), ...body.map(line), '', `${m.rows.length} requirements, ${differing} with different outcomes across ${m.columns.length} implementations`].join('\n') + '\n';
}

/** A self-contained HTML page: the matrix with differing rows highlighted, messages as tooltips. */
export function matrixHtml(m: Matrix, title = 'qkd-harness vendor matrix'): string {
  const e = escapeUTF8;
  const head = m.columns.map((c) => `<th>${e(c.name)}<br><small>${OUTCOMES.filter((o) => c.counts[o]).map((o) => `${c.counts[o]} ${o}`).join(' · ')}</small></th>`).join('');
  const body = m.rows
    .map((r) => `<tr class="${r.differs ? 'differs' : ''}"><td>${e(r.id)}</td>${r.outcomes.map((o, i) => `<td class="${o ?? 'none'}" title="${e(r.messages[i] ?? '')}">${o ?? '—'}</td>`).join('')}</tr>`)
    .join('\n');
  const differing = m.rows.filter((r) => r.differs).length;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${e(title)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:center}
td:first-child{text-align:left;font-family:monospace}tr.differs td:first-child{font-weight:bold;background:#fff3bf}
.pass{background:#d3f9d8}.fail{background:#ffc9c9}.error{background:#ffd8a8}.warn{background:#fff3bf}.info{background:#d0ebff}.skip,.none{background:#f1f3f5}
</style></head><body>
<h1>${e(title)}</h1>
<p>${m.rows.length} requirements; <b>${differing}</b> with different outcomes (highlighted). Hover a cell for its reason.</p>
<p><label><input type="checkbox" onchange="document.querySelectorAll('tr:not(.differs)').forEach(t=>{if(t.parentElement.tagName==='TBODY')t.hidden=this.checked})"> only the differences</label></p>
<table><thead><tr><th>requirement</th>${head}</tr></thead>
<tbody>
${body}
</tbody></table>
</body></html>
`;
}
