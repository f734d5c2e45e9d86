// What a KPI run writes: summary.json (figures and kpi/<n> outcomes), charts/*.svg and allure-results
// (one result per requirement, its figures and chart attached), beside the conformance reports' layout.
// Nothing here sees key material: the figures are counts, times and key_ID-free statuses.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FileSystemWriter, ReporterRuntime } from 'allure-js-commons/sdk/reporter';
import { Status } from 'allure-js-commons';
import { epicOf, requirementLabels } from '../report/allure-requirement.ts';
import type { Outcome } from '../conformance/verdict.ts';
import { kpiCharts } from './charts.ts';
import type { KpiFigures, Phase } from './scenarios.ts';
import type { KpiResult } from './verdicts.ts';

export interface KpiSummary {
  kind: 'kpi';
  target: string;
  /** The profile file (or "embedded mock KME pair"). */
  source: string;
  started: string;
  finished: string;
  options: { duration_s: number; concurrency: number; rate_per_s: number; samples: number; phases: Phase[]; soak_s?: number; allow_exhaustion: boolean };
  results: KpiResult[];
  figures: KpiFigures;
  /** Chart files written (relative to the report directory). */
  charts: string[];
}

// 'info' is a figure without a threshold: no claim either way, so neither passed nor failed in Allure.
const ALLURE_STATUS: Record<Outcome, Status> = { pass: Status.PASSED, fail: Status.FAILED, warn: Status.PASSED, info: Status.SKIPPED, skip: Status.SKIPPED, error: Status.BROKEN };

const CHARTS_OF: Record<Phase, string[]> = {
  latency: ['latency.svg', 'latency-histogram.svg'],
  capacity: ['rate.svg', 'latency.svg'],
  supply: ['rate.svg', 'latency.svg'],
  concurrency: ['latency.svg'],
  hol: ['latency.svg'],
  exhaustion: ['exhaustion.svg'],
  soak: ['soak.svg'],
};

/** The phase's section of the figures without long series (those are in summary.json and the charts). */
function sectionFigures(f: KpiFigures, phase: Phase): unknown {
  return JSON.parse(JSON.stringify(f[phase] ?? null, (k, v) => (k === 'timeline' || k === 'level' ? `(${(v as unknown[]).length} points: see summary.json)` : v)));
}

/** Writes summary.json, charts/ and allure-results/ (cleared first: an earlier run's results would read as retries). */
export async function writeKpiReports(dir: string, s: Omit<KpiSummary, 'charts'>): Promise<KpiSummary> {
  const out = resolve(dir);
  mkdirSync(join(out, 'charts'), { recursive: true });
  const charts = await kpiCharts(s.figures);
  for (const [name, svg] of Object.entries(charts)) writeFileSync(join(out, 'charts', name), svg);
  const summary: KpiSummary = { ...s, charts: Object.keys(charts).map((n) => `charts/${n}`) };
  writeFileSync(join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');

  const results = join(out, 'allure-results');
  rmSync(results, { recursive: true, force: true });
  mkdirSync(results, { recursive: true });
  const runtime = new ReporterRuntime({ writer: new FileSystemWriter({ resultsDir: results }) });
  const start = Date.parse(s.started);
  const stop = Date.parse(s.finished);
  for (const r of s.results) {
    const uuid = runtime.startTest({
      name: `${r.id} ${r.summary}`,
      fullName: `qkd-harness kpi: ${r.id}`,
      status: ALLURE_STATUS[r.outcome],
      statusDetails: { message: `${r.outcome}: ${r.message}` },
      labels: [
        { name: 'parentSuite', value: epicOf(r.id) },
        { name: 'suite', value: r.phase },
        ...requirementLabels(r.id, r.phase),
        { name: 'outcome', value: r.outcome },
        { name: 'vendor', value: s.target },
        { name: 'tag', value: 'kpi' },
        ...(r.outcome === 'warn' ? [{ name: 'tag', value: 'warning' }] : []),
      ],
      parameters: [
        { name: 'target', value: s.source, excluded: true },
        { name: 'duration_s', value: String(s.options.duration_s), excluded: true },
        { name: 'concurrency', value: String(s.options.concurrency) },
      ],
      start,
    });
    runtime.writeAttachment(uuid, null, 'figures.json', Buffer.from(JSON.stringify({ outcome: r.outcome, message: r.message, figures: r.figures, thresholds: r.thresholds }, null, 2)), { contentType: 'application/json' });
    runtime.writeAttachment(uuid, null, `${r.phase}.json`, Buffer.from(JSON.stringify(sectionFigures(s.figures, r.phase), null, 2)), { contentType: 'application/json' });
    for (const c of CHARTS_OF[r.phase]) if (charts[c]) runtime.writeAttachment(uuid, null, c, Buffer.from(charts[c]), { contentType: 'image/svg+xml' });
    runtime.stopTest(uuid, { stop: Math.max(start, stop) });
    runtime.writeTest(uuid);
  }
  return summary;
}

/**
 * Splits `text` into lines of at most `room` characters, breaking after "; " or ", " where it can,
 * else at a space, else hard: the table shows every figure (never cut with "…").
 */
export function wrapMessage(text: string, room: number): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > room) {
    const head = rest.slice(0, room + 1);
    // The best break in the second half of the line: after "; ", else after ", ", else at a space.
    const at = (sep: string) => {
      const i = head.lastIndexOf(sep);
      return i >= room / 2 ? i + sep.length - 1 : -1;
    };
    let cut = [at('; '), at(', '), head.lastIndexOf(' ')].find((i) => i > 0) ?? -1;
    if (cut <= 0) cut = room;
    out.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  out.push(rest);
  return out;
}

/** The table printed at the end of a run; long messages go on indented continuation lines. */
export function formatKpiTable(s: KpiSummary, width = 120): string {
  const idW = Math.max(2, ...s.results.map((r) => r.id.length));
  const lines = [`${'ID'.padEnd(idW)}  OUTCOME  MESSAGE`];
  const indent = idW + 11;
  const room = Math.max(30, width - indent);
  for (const r of s.results) {
    const [first, ...more] = wrapMessage(r.message, room);
    lines.push(`${r.id.padEnd(idW)}  ${r.outcome.padEnd(7)}  ${first}`);
    for (const m of more) lines.push(`${' '.repeat(indent)}${m}`);
  }
  const c = (o: Outcome) => s.results.filter((r) => r.outcome === o).length;
  lines.push('', `${s.target}: ${s.results.length} KPI requirements — ${c('pass')} pass, ${c('fail')} fail, ${c('info')} measured without threshold, ${c('skip')} not measured, ${c('error')} error`);
  return lines.join('\n');
}
