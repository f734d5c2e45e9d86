// `qkd-harness conformance` end to end, as a user runs it: against `qkd-harness mock`, with exit codes,
// summary.json, JUnit, Allure results, expectations, and clear one-line refusals.
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { Summary } from '../conformance/summary.ts';
import { runCli, startMockCli as startMock, stopCliChildren } from '../testing/cli.ts';

/** A whole conformance run took up to 230 s under `npm run test:load` (2 cores): a hang guard, not a measurement. */
const RUN_TIMEOUT_MS = 600_000;

/** A run clears its own --reports directory first: never let one default to this test run's reports/. */
const run = (args: string[]) => runCli(args[0] === 'conformance' && !args.includes('--reports') ? [...args, '--reports', mkdtempSync(join(tmpdir(), 'qkd-cli-reports-'))] : args);

interface AllureResult {
  status: string;
  labels: Array<{ name: string; value: string }>;
}
const allureResults = (reports: string): AllureResult[] =>
  readdirSync(join(reports, 'allure-results'))
    .filter((f) => f.endsWith('-result.json'))
    .map((f) => JSON.parse(readFileSync(join(reports, 'allure-results', f), 'utf8')) as AllureResult);
const label = (r: AllureResult, name: string): string | undefined => r.labels.find((l) => l.name === name)?.value;

afterAll(stopCliChildren);

describe('qkd-harness conformance', () => {
  it('passes every requirement against the faithful mock in strict mode and writes summary, JUnit and Allure results', async () => {
    const mock = await startMock();
    const reports = mkdtempSync(join(tmpdir(), 'qkd-reports-'));
    const r = await run(['conformance', '--target', mock.profile, '--strict', '--reports', reports]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(reports, 'summary.json'), 'utf8')) as Summary;
    expect(summary).toMatchObject({ profile: 'strict', seed: expect.any(Number), started: expect.any(String), finished: expect.any(String) });
    expect(summary.results.length).toBeGreaterThan(40);
    expect(summary.results.filter((x) => x.outcome === 'fail' || x.outcome === 'error')).toEqual([]);
    expect(r.stdout).toMatch(/qkd014\/5\.4\/1\s+MUST\s+pass/);
    // Coverage: outcomes per clause, and the status codes each endpoint produced against those defined.
    expect(summary.coverage!.clauses.find((c) => c.clause === 'qkd014/5.4')!.counts.pass).toBeGreaterThan(5);
    const postEnc = summary.coverage!.endpoints.find((e) => e.endpoint === 'POST enc_keys')!;
    expect(postEnc).toMatchObject({ defined: true, undefinedSeen: [] });
    expect(postEnc.seen['200']).toBeGreaterThan(10);
    expect(postEnc.seen['400']).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/status codes by endpoint \(defined by clause 5: 200, 400, 401, 503\):\n\s+GET status\s+200×\d+/);
    expect(existsSync(join(reports, 'junit.xml'))).toBe(true);
    expect(readdirSync(join(reports, 'allure-results')).some((f) => f.endsWith('-result.json'))).toBe(true);
    const report = await run(['report', '--reports', reports]);
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout.trim()).toBe(join(reports, 'allure-report', 'index.html'));
    expect(readFileSync(report.stdout.trim(), 'utf8')).toMatch(/<html/i);
  }, RUN_TIMEOUT_MS);

  it('exits 1 on a deviation, and 0 when an expectations file expects exactly that', async () => {
    const mock = await startMock(['--deviation', 'keys-not-removed']);
    const reports = mkdtempSync(join(tmpdir(), 'qkd-reports-'));
    const r = await run(['conformance', '--target', mock.profile, '--strict', '--grep', 'qkd014/5.4', '--reports', reports]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const summary = JSON.parse(readFileSync(join(reports, 'summary.json'), 'utf8')) as Summary;
    const failed = summary.results.filter((x) => x.outcome === 'fail');
    expect(failed.map((x) => x.id)).toContain('qkd014/5.4/3');
    const evidence = failed.find((x) => x.id === 'qkd014/5.4/3')!.evidence![0]!;
    expect(evidence.curl).toMatch(/^curl .*--cert '.*' --key '.*' --cacert '.*' .*dec_keys/);
    expect(evidence.responseBody).not.toMatch(/"key":"[A-Za-z0-9+/]{20,}/);
    // Allure files each outcome under its own status, labelled from the catalogue.
    const first = allureResults(reports);
    const statusOf = new Map(first.map((x) => [label(x, 'outcome'), x.status]));
    expect(statusOf.get('fail')).toBe('failed');
    expect(statusOf.get('error')).toBe('broken');
    expect(statusOf.get('pass')).toBe('passed');
    const r543 = first.find((x) => label(x, 'ALLURE_ID') === 'qkd014/5.4/3')!;
    expect({ epic: label(r543, 'epic'), severity: label(r543, 'severity'), parentSuite: label(r543, 'parentSuite') }).toEqual({ epic: 'ETSI GS QKD 014 V1.1.1 (2019-02)', severity: 'critical', parentSuite: 'ETSI GS QKD 014 V1.1.1 (2019-02)' });
    expect(label(r543, 'feature')).toMatch(/5\.4/);
    const exp = join(reports, 'expect.yaml');
    // Every unexpected outcome (a check whose prerequisite the deviation breaks is an error, not a fail).
    const unexpected = summary.results.filter((x) => x.unexpected);
    writeFileSync(exp, `implementation: mock with keys-not-removed\noutcomes:\n${unexpected.map((x) => `  ${x.id}: ${x.outcome}`).join('\n')}\n`);
    const again = await run(['conformance', '--target', mock.profile, '--strict', '--grep', 'qkd014/5.4', '--expectations', exp, '--reports', reports]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    // The second run cleared the first one's results: one result per requirement, none left over.
    expect(allureResults(reports).length).toBe(first.length);
  }, RUN_TIMEOUT_MS);

  it('files warn as passed with a warning tag in Allure (lenient profile)', async () => {
    const mock = await startMock(['--deviation', '404-instead-of-400']);
    const reports = mkdtempSync(join(tmpdir(), 'qkd-reports-'));
    const r = await run(['conformance', '--target', mock.profile, '--grep', 'qkd014/5.4', '--reports', reports]);
    expect(r.code, r.stdout + r.stderr).toBe(0); // a warn needs no expectations file
    // The coverage shows the codes the standard does not define.
    const summary = JSON.parse(readFileSync(join(reports, 'summary.json'), 'utf8')) as Summary;
    expect(summary.coverage!.endpoints.find((e) => e.endpoint === 'POST dec_keys')!.undefinedSeen).toContain(404);
    expect(r.stdout).toMatch(/POST dec_keys .*\(.*not defined: 404/);
    const warned = allureResults(reports).filter((x) => label(x, 'outcome') === 'warn');
    expect(warned.length).toBeGreaterThan(0);
    for (const w of warned) {
      expect(w.status).toBe('passed');
      expect(w.labels.some((l) => l.name === 'tag' && l.value === 'warning')).toBe(true);
    }
  }, RUN_TIMEOUT_MS);

  it('refuses a malformed profile with exit 2 and one line naming file and field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qkd-bad-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'name: x\nkmes: {}\nsaes: {}\n');
    const r = await run(['conformance', '--target', file]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toMatch(/field (kmes|saes)/);
  });

  it('ends with exit 3 and one sentence when the target is unreachable', async () => {
    const mock = await startMock();
    const text = readFileSync(mock.profile, 'utf8').replace(/https:\/\/[^\s,}]+/g, 'https://127.0.0.1:9');
    const file = join(mkdtempSync(join(tmpdir(), 'qkd-unreach-')), 'p.yaml');
    writeFileSync(file, text.replace(/(ca|cert|key): ([^\s,}]+)/g, (_m, k: string, v: string) => `${k}: ${v.startsWith('/') ? v : join(mock.profile, '..', v)}`));
    const r = await run(['conformance', '--target', file]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/cannot reach KME A .*refused the connection/);
  });

  it('runs a plain-HTTP target (no TLS files): clause 4 fails or skips with the reason, never passes; the rest runs', async () => {
    const mock = await startMock(['--deviation', 'plain-http']);
    // The mock's own profile, turned into what a user of a plain-HTTP KMS writes: http:// and no TLS files.
    const p = parse(readFileSync(mock.profile, 'utf8')) as { kmes: Record<string, { url: string; ca?: string }>; saes: Record<string, { cert?: string; key?: string }>; negative?: unknown };
    for (const k of Object.values(p.kmes)) {
      k.url = k.url.replace(/^https:/, 'http:');
      delete k.ca;
    }
    for (const sae of Object.values(p.saes)) {
      delete sae.cert;
      delete sae.key;
    }
    delete p.negative;
    const file = join(mkdtempSync(join(tmpdir(), 'qkd-plain-')), 'plain.yaml');
    writeFileSync(file, stringify(p));
    const reports = mkdtempSync(join(tmpdir(), 'qkd-reports-'));
    const r = await run(['conformance', '--target', file, '--reports', reports]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const byId = new Map((JSON.parse(readFileSync(join(reports, 'summary.json'), 'utf8')) as Summary).results.map((x) => [x.id, x]));
    const outcome = (id: string): string => `${byId.get(id)?.outcome}: ${byId.get(id)?.message}`;
    expect(outcome('qkd014/4/1')).toMatch(/^fail: .*KME A is reached over plain HTTP \(http:\/\/[^)]+\): the API is served without TLS/);
    for (const id of ['qkd014/4/2', 'qkd014/4/3']) expect(outcome(id)).toMatch(/^skip: .*no TLS at all, see qkd014\/4\/1/);
    for (const id of ['qkd014/4/4', 'qkd014/4/5', 'qkd014/4/6']) expect(outcome(id)).toMatch(/^fail: .*speaks plain HTTP .*a client without any certificate was served \(200\)/);
    expect(outcome('qkd014/4/7')).toMatch(/^fail: .*no certificate to verify/);
    expect(byId.get('qkd014/4/4')!.evidence![0]!.curl).not.toMatch(/--cacert|--cert/);
    // Everything else was evaluated over plain HTTP (outsider checks fail: nothing authenticates SAEs).
    for (const id of ['qkd014/4/8', 'qkd014/5.2/1', 'qkd014/5.3/1', 'qkd014/5.4/1', 'qkd014/6.3/1']) expect(outcome(id)).toMatch(/^pass/);
    expect([...byId.values()].filter((x) => x.outcome === 'error').map((x) => `${x.id} ${x.message}`)).toEqual([]);
  }, RUN_TIMEOUT_MS);

  it('reports a KME certificate without the configured kme_id under qkd014/4/7 and runs everything else (exit 1, not 3)', async () => {
    const mock = await startMock();
    const file = join(mock.profile, '..', 'wrong-kme-id.yaml');
    writeFileSync(file, readFileSync(mock.profile, 'utf8').replace('kme_id: KME_A', 'kme_id: KME_X'));
    const reports = mkdtempSync(join(tmpdir(), 'qkd-reports-'));
    const r = await run(['conformance', '--target', file, '--reports', reports]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const results = (JSON.parse(readFileSync(join(reports, 'summary.json'), 'utf8')) as Summary).results;
    const byId = new Map(results.map((x) => [x.id, x]));
    expect(byId.get('qkd014/4/7')).toMatchObject({ outcome: 'fail', message: expect.stringMatching(/KME A: .*does not carry the KME ID KME_X \(it carries CN=KME_A, DNS:localhost, URI:urn:qkd-harness:kme:KME_A/) });
    expect(byId.get('qkd014/4/7')!.message).not.toMatch(/KME B/);
    expect(byId.get('qkd014/5.3/1')?.outcome).toBe('pass');
    // Nothing was left unevaluated; the only other possible finding is the Status naming the real KME ID
    // where the profile names the wrong one.
    expect(results.filter((x) => x.outcome === 'error').map((x) => `${x.id} ${x.message}`)).toEqual([]);
    expect(results.filter((x) => x.outcome === 'fail' && !['qkd014/4/7', 'qkd014/5.2/3'].includes(x.id)).map((x) => `${x.id} ${x.message}`)).toEqual([]);
  }, RUN_TIMEOUT_MS);

  it('does not call a KME that sent a response head unreachable (preflight judges the head, not the body)', async () => {
    // Answers every request with a 200 head and then cuts the body off.
    const server = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
      res.write('{"source_KME_ID":', () => res.socket?.destroy());
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const file = join(mkdtempSync(join(tmpdir(), 'qkd-head-')), 'p.yaml');
    writeFileSync(file, `name: cut-off\nkmes:\n  A: { url: ${url} }\nsaes:\n  master: { id: SAE_A, kme: A }\n  slave: { id: SAE_B, kme: A }\n`);
    const reports = mkdtempSync(join(tmpdir(), 'qkd-reports-'));
    const r = await run(['conformance', '--target', file, '--grep', 'qkd014/4/1', '--reports', reports]);
    server.close();
    expect(r.stderr).not.toMatch(/cannot reach|without an answer/);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/qkd014\/4\/1\s+MUST\s+fail/);
  }, RUN_TIMEOUT_MS);

  it('refuses a bad --grep, a --grep that matches nothing, an unreadable expectations file and one naming an unknown requirement with exit 2', async () => {
    expect((await run(['conformance', '--grep', 'not an id!'])).code).toBe(2);
    const none = await run(['conformance', '--grep', 'qkd014/9.9']);
    expect([none.code, none.stderr]).toEqual([2, expect.stringContaining('matches no requirement')]);
    expect((await run(['conformance', '--expectations', '/nonexistent.yaml'])).code).toBe(2);
    const exp = join(mkdtempSync(join(tmpdir(), 'qkd-exp-')), 'typo.yaml');
    writeFileSync(exp, 'outcomes:\n  qkd014/5.4/99: warn\n');
    const typo = await run(['conformance', '--expectations', exp]);
    expect([typo.code, typo.stderr]).toEqual([2, expect.stringContaining('qkd014/5.4/99 names no catalogued requirement')]);
    writeFileSync(exp, 'outcomes:\n  qkd014/5.4/4: wran\n');
    expect((await run(['conformance', '--expectations', exp])).stderr).toContain('must be one of pass, fail, warn, info, skip, error');
  });
});

describe('shipped expectations', () => {
  it('fixtures/expectations/mock-404-detail.yaml matches a mock with those deviations exactly (exit 0)', async () => {
    const mock = await startMock(['--deviation', '404-instead-of-400', '--deviation', 'detail-errors']);
    const reports = mkdtempSync(join(tmpdir(), 'qkd-reports-'));
    const file = join(import.meta.dirname, '..', '..', 'fixtures', 'expectations', 'mock-404-detail.yaml');
    const r = await run(['conformance', '--target', mock.profile, '--expectations', file, '--reports', reports]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(reports, 'summary.json'), 'utf8')) as Summary;
    expect(summary.results.filter((x) => x.outcome === 'warn').length).toBeGreaterThan(10);
    expect(summary.results.filter((x) => x.stale)).toEqual([]);
  }, RUN_TIMEOUT_MS);
});
