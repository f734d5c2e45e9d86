// The status-code coverage of a run: tallied per method and endpoint against clause 5's codes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configureExchangeLog, coverageLines, exchangeCoverage, noteExchange } from './exchange-log.ts';

const dir = mkdtempSync(join(tmpdir(), 'qkd-exchanges-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('exchange coverage', () => {
  it('counts codes and transport failures per endpoint; names defined codes never seen and codes the standard does not define', () => {
    const file = join(dir, 'a.jsonl');
    configureExchangeLog(file);
    for (const n of [
      { method: 'POST', endpoint: 'enc_keys', status: 200 },
      { method: 'POST', endpoint: 'enc_keys', status: 200 },
      { method: 'POST', endpoint: 'dec_keys', status: 404 },
      { method: 'GET', endpoint: 'status', failure: 'deadline' },
      { method: 'DELETE', endpoint: 'enc_keys', status: 405 },
    ]) noteExchange(n);
    configureExchangeLog(undefined);
    noteExchange({ method: 'GET', endpoint: 'status', status: 200 }); // unconfigured: not recorded
    writeFileSync(file, 'not json\n', { flag: 'a' });
    const c = exchangeCoverage(file);
    expect(c.map((e) => e.endpoint)).toEqual(['GET status', 'POST enc_keys', 'POST dec_keys', 'DELETE enc_keys']);
    expect(c[0]).toEqual({ endpoint: 'GET status', defined: true, seen: { 'no answer (deadline)': 1 }, notSeen: [200, 400, 401, 503], undefinedSeen: [] });
    expect(c[1]).toMatchObject({ seen: { '200': 2 }, notSeen: [400, 401, 503] });
    expect(c[2]).toMatchObject({ undefinedSeen: [404] });
    expect(c[3]).toMatchObject({ defined: false, notSeen: [], undefinedSeen: [] });
    const text = coverageLines(c).join('\n');
    expect(text).toMatch(/POST dec_keys\s+404×1\s+\(never 200, 400, 401, 503; not defined: 404\)/);
    expect(text).toMatch(/DELETE enc_keys\s+405×1\s+\(not a method of the standard\)/);
    expect(exchangeCoverage(join(dir, 'missing.jsonl'))).toEqual([]);
  });
});
