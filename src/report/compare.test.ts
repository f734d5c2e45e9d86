// The vendor matrix from reports directories of different kinds (conformance, e2e, a main job's steps).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildMatrix, loadColumns, matrixHtml, matrixText } from './compare.ts';

const root = mkdtempSync(join(tmpdir(), 'qkd-compare-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function dir(name: string, files: Record<string, unknown>): string {
  const d = join(root, name);
  for (const [f, body] of Object.entries(files)) {
    mkdirSync(join(d, f, '..'), { recursive: true });
    writeFileSync(join(d, f), JSON.stringify(body));
  }
  return d;
}
const conf = (target: string, outcomes: Record<string, string>) => ({ target, results: Object.entries(outcomes).map(([id, outcome]) => ({ id, outcome, unexpected: outcome === 'fail', message: `${id} said ${outcome}` })) });

describe('vendor matrix', () => {
  it('one row per requirement in catalogue order, rows that differ (or are missing in a column) marked', () => {
    const a = dir('a', { 'summary.json': conf('vendor-a', { 'qkd014/5.2/10': 'pass', 'qkd014/5.2/9': 'pass', 'qkd014/5.4/3': 'pass' }) });
    const b = dir('b', { 'summary.json': conf('vendor-b', { 'qkd014/5.2/10': 'pass', 'qkd014/5.2/9': 'warn' }) });
    const m = buildMatrix(loadColumns([a, b]));
    expect(m.columns.map((c) => [c.name, c.counts.pass])).toEqual([['vendor-a', 3], ['vendor-b', 1]]);
    expect(m.rows.map((r) => [r.id, r.outcomes, r.differs])).toEqual([
      ['qkd014/5.2/9', ['pass', 'warn'], true],
      ['qkd014/5.2/10', ['pass', 'pass'], false],
      ['qkd014/5.4/3', ['pass', undefined], true],
    ]);
    const text = matrixText(m);
    expect(text).toMatch(/qkd014\/5\.2\/9\s+pass\s+warn/);
    expect(text).toMatch(/qkd014\/5\.4\/3\s+pass\s+—/);
    expect(text).not.toMatch(/qkd014\/5\.2\/10/); // the same everywhere: only in the full table
    expect(text).toContain('3 requirements, 2 with different outcomes across 2 implementations');
  });

  it('reads a main job (its steps), an e2e run, and names a target used twice after its directory', () => {
    const job = dir('job', {
      'summary.json': { run: 'run', target: 'embedded', steps: [{ name: 'conformance', status: 'ran' }, { name: 'psk', status: 'ran' }, { name: 'e2e', status: 'skipped' }] },
      'conformance/summary.json': conf('embedded', { 'qkd014/4/1': 'pass' }),
      'psk/vitest.json': { testResults: [{ name: '/x/suites/psk/vectors.test.ts', assertionResults: [{ title: 'psk/1 matches the vectors', fullName: '', status: 'passed' }] }] },
    });
    const e2e = dir('e2e', { 'summary.json': { target: 'embedded', suites: [{ suite: 'PSK agreement', outcome: 'pass', tests: [{ name: 'wg/1 same PSK', requirement: 'wg/1', outcome: 'fail', message: 'PSKs differ' }] }] } });
    const cols = loadColumns([job, e2e]);
    expect(cols.map((c) => c.name)).toEqual(['embedded (job)', 'embedded (e2e)']);
    expect(Object.fromEntries(cols[0]!.results)).toEqual({ 'qkd014/4/1': { outcome: 'pass', message: 'qkd014/4/1 said pass' }, 'psk/1': { outcome: 'pass' } });
    expect(cols[1]!.results.get('wg/1')).toEqual({ outcome: 'fail', message: 'PSKs differ' });
  });

  it('refuses a directory without a readable summary, naming it', () => {
    const empty = dir('empty', {});
    mkdirSync(empty, { recursive: true });
    expect(() => loadColumns([empty])).toThrow(`${empty}: no summary.json`);
    const other = dir('other', { 'summary.json': { hello: 1 } });
    expect(() => loadColumns([other])).toThrow(/neither a run, a conformance nor an e2e summary/);
  });

  it('escapes what targets send into the page (names and messages)', () => {
    const a = dir('x', { 'summary.json': { target: '<script>alert(1)</script>', results: [{ id: 'qkd014/6/1', outcome: 'fail', unexpected: true, message: '"><img src=x onerror=alert(2)>' }] } });
    const b = dir('y', { 'summary.json': conf('ok', { 'qkd014/6/1': 'pass' }) });
    const html = matrixHtml(buildMatrix(loadColumns([a, b])));
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img');
    expect(html).toContain('<tr class="differs"><td>qkd014/6/1</td>');
  });
});
