// `qkd-harness conformance` against a KME whose key endpoints stall (mock --deviation stall-body): the run
// budget and the stall record end the run in bounded time with its table. Without them every request to
// a key endpoint waits the full timeout_ms, one after another (here: 8 s times well over 40 checks).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Summary } from '../conformance/summary.ts';
import { runCli as run, startMockCli as startMock, stopCliChildren } from '../testing/cli.ts';

afterAll(stopCliChildren);

const TIMEOUT_MS = 8_000;
const BUDGET_S = 60;

describe('qkd-harness conformance against stalling key endpoints', () => {
  it('ends within the run budget with its table: key-endpoint checks are errors naming the stall, Status checks are judged', async () => {
    const mock = await startMock(['--deviation', 'stall-body']);
    // The mock's own profile (paths relative to its directory), with a deadline and a budget of our own.
    const text = readFileSync(mock.profile, 'utf8').replace(/^(timeout_ms|run_budget_s):.*\n/gm, '');
    const profile = join(dirname(mock.profile), 'stalling.yaml');
    writeFileSync(profile, `${text}\ntimeout_ms: ${TIMEOUT_MS}\nrun_budget_s: ${BUDGET_S}\n`);
    const reports = mkdtempSync(join(tmpdir(), 'qkd-stall-'));
    const r = await run(['conformance', '--target', profile, '--strict', '--reports', reports]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/\d+ requirements — \d+ pass/); // the table's summary line
    const summary = JSON.parse(readFileSync(join(reports, 'summary.json'), 'utf8')) as Summary;
    // Bounded: the budget plus generous room for starting vitest and its workers on a busy machine. Without
    // the stall record the key-endpoint checks alone would wait far longer than this, one deadline each.
    const seconds = (Date.parse(summary.finished) - Date.parse(summary.started)) / 1000;
    expect(seconds).toBeLessThan(BUDGET_S + 150);
    const byId = new Map(summary.results.map((x) => [x.id, x]));
    for (const id of ['qkd014/5.2/1', 'qkd014/5.2/2', 'qkd014/5.2/3', 'qkd014/5.2/4']) expect(byId.get(id)?.outcome, `${id}: ${byId.get(id)?.message}`).toBe('pass');
    const cut = /stalled earlier in this run|run budget of \d+ s/;
    for (const id of ['qkd014/5.3/1', 'qkd014/5.3/3', 'qkd014/6.3/1']) {
      expect(byId.get(id)).toMatchObject({ outcome: 'error', message: expect.stringMatching(cut) });
    }
    expect(summary.results.filter((x) => x.outcome === 'error' && cut.test(x.message)).length).toBeGreaterThan(20);
    // The timeliness requirement judges the stall itself.
    expect(byId.get('qkd014/5/2')).toMatchObject({ outcome: 'fail', message: expect.stringMatching(/enc_keys.*no complete answer within 8000 ms/) });
  }, 400_000);
});
