// History between runs: each `report` appends the run to <reports>/history.jsonl (the file nightly CI
// caches), and a requirement that fails now after passing and failing in the last five runs is marked
// flaky in the report — while one that fails every time is not.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildReport } from '../cli/report.ts';

const dir = mkdtempSync(join(tmpdir(), 'qkd-history-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One run's allure-results: the same two requirements, with these statuses. */
function results(flip: 'passed' | 'failed'): void {
  const out = join(dir, 'allure-results');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out);
  for (const [id, status] of [['qkd014/5.4/3', flip], ['qkd014/5.4/4', 'failed']] as const) {
    const uuid = `${id.replaceAll('/', '-')}-${Date.now()}`;
    writeFileSync(join(out, `${uuid}-result.json`), JSON.stringify({ uuid, name: `${id} a requirement`, historyId: `history-${id}`, testCaseId: `case-${id}`, status, stage: 'finished', start: Date.now(), stop: Date.now() + 1, labels: [{ name: 'ALLURE_ID', value: id }], parameters: [], steps: [], attachments: [] }));
  }
}

describe('report history', () => {
  it('three runs: history.jsonl grows by one run each; fail → pass → fail is flaky, fail → fail → fail is not', async () => {
    for (const status of ['failed', 'passed', 'failed'] as const) {
      results(status);
      await buildReport(dir);
    }
    expect(readFileSync(join(dir, 'history.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3);
    const summary = JSON.parse(readFileSync(join(dir, 'allure-report', 'summary.json'), 'utf8')) as { flakyTests: string[] };
    const tests = Object.values((JSON.parse(readFileSync(join(dir, 'allure-report', 'test-results.json'), 'utf8')) as { byId: Record<string, { id: string; name: string }> }).byId);
    const flaky = tests.filter((t) => summary.flakyTests.includes(t.id)).map((t) => t.name);
    expect(flaky).toEqual(['qkd014/5.4/3 a requirement']);
  }, 120_000);
});
