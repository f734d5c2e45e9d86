// The table printed after a run shows every figure of every message: long messages wrap onto
// continuation lines under the MESSAGE column instead of being cut.
import { describe, expect, it } from 'vitest';
import { kpiResults } from './verdicts.ts';
import { formatKpiTable, wrapMessage, type KpiSummary } from './report.ts';
import { figures } from '../../suites/kpi/fixture.ts';

function summary(): KpiSummary {
  const f = figures();
  return { kind: 'kpi', target: 'mock', source: 'embedded', started: '', finished: '', options: { duration_s: 3, concurrency: 10, rate_per_s: 20, samples: 200, phases: [], allow_exhaustion: true }, results: kpiResults(f), figures: f, charts: [] };
}

describe('KPI table', () => {
  it('wraps long messages onto continuation lines within the width: no figure is cut, nothing ends in "…"', () => {
    const s = summary();
    for (const width of [80, 120]) {
      const table = formatKpiTable(s, width);
      expect(table).not.toContain('…');
      const lines = table.split('\n');
      for (const l of lines.slice(0, -1)) expect(l.length, l).toBeLessThanOrEqual(width);
      // Each message is all there once the continuation lines are joined back.
      const flat = lines.map((l) => l.trim()).join(' ');
      for (const r of s.results) for (const word of r.message.split(' ')) expect(flat).toContain(word);
      const kpi7 = s.results.find((r) => r.id === 'kpi/7')!.message;
      expect(kpi7).toMatch(/flow p95 at 10 clients 30 ms/);
      expect(flat).toContain('flow p95 at 10 clients 30 ms');
    }
    // At 80 columns at least one message needs a continuation line, indented under MESSAGE.
    const narrow = formatKpiTable(s, 80).split('\n');
    const col = narrow[0]!.indexOf('MESSAGE');
    expect(narrow.some((l) => l.startsWith(' '.repeat(col)) && l[col] !== ' ')).toBe(true);
  });

  it('breaks after "; " or ", " where it can, else at a space, else hard', () => {
    expect(wrapMessage('aaaa bbbb; cccc dddd', 12)).toEqual(['aaaa bbbb;', 'cccc dddd']);
    expect(wrapMessage('aaaa bbbb cccc', 10)).toEqual(['aaaa bbbb', 'cccc']);
    expect(wrapMessage('x'.repeat(25), 10)).toEqual(['x'.repeat(10), 'x'.repeat(10), 'x'.repeat(5)]);
    expect(wrapMessage('short', 10)).toEqual(['short']);
  });
});
