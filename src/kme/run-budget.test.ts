// The run budget against a plain-HTTP KME stand-in whose enc_keys sends a head and then stalls: the
// first request waits its deadline, later ones to that endpoint fail at once (in this and in another
// process, through the shared file), other endpoints and other client settings are still asked, and a
// spent budget refuses everything. Outcomes are asserted by error class, not by wall-clock time.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KmeTransportError } from './errors.ts';
import { SaeIdentity } from './identity.ts';
import { configureRunBudget, endpointOf, refusalMark, refusalSince, RunBudgetError, stalledEarlier } from './run-budget.ts';
import { exchange } from './transport.ts';

let server: Server;
let base: string;
const identities: SaeIdentity[] = [];
const identity = (o: { minVersion?: 'TLSv1.2' | 'TLSv1.3' } = {}): SaeIdentity => {
  const i = new SaeIdentity({ saeId: 'SAE_A', timeoutMs: 300, ...o });
  identities.push(i);
  return i;
};

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url?.endsWith('/status')) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"keys": ['); // and never more
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterEach(() => configureRunBudget(undefined));

afterAll(async () => {
  await Promise.all(identities.map((i) => i.close()));
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const fails = async (p: Promise<unknown>): Promise<KmeTransportError> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KmeTransportError);
  return err as KmeTransportError;
};

const enc = { method: 'POST', path: '/api/v1/keys/SAE_B/enc_keys', body: {} };
const status = { method: 'GET', path: '/api/v1/keys/SAE_B/status' };

describe('run budget', () => {
  it('after one stall past the deadline, that KME × endpoint × client fails at once, here and in another process', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'qkd-budget-')), 'stalls.jsonl');
    configureRunBudget({ startedAt: Date.now(), budgetMs: 120_000, file });
    const sae = identity();
    const first = await fails(exchange(sae, base, enc));
    expect(first).not.toBeInstanceOf(RunBudgetError);
    expect(first.kind).toBe('deadline');
    const mark = refusalMark();
    const again = await fails(exchange(sae, base, enc));
    expect(again).toBeInstanceOf(RunBudgetError);
    expect(again.kind).toBe('deadline');
    expect(again.message).toMatch(/POST \/api\/v1\/keys\/SAE_B\/enc_keys at 127\.0\.0\.1:\d+: not sent: enc_keys at 127\.0\.0\.1:\d+ stalled earlier in this run \(no complete answer within 300 ms/);
    expect(refusalSince(mark)).toBe(again.message);
    expect(refusalSince(refusalMark())).toBeUndefined();
    expect(stalledEarlier(sae, new URL(base + enc.path))).toMatch(/^POST \/api\/v1\/keys\/SAE_B\/enc_keys at 127\.0\.0\.1:\d+: no complete answer within 300 ms/);
    expect(stalledEarlier(sae, new URL(base + status.path))).toBeUndefined();
    // Status at the same KME is still asked and answered.
    expect((await exchange(sae, base, status)).status).toBe(200);
    // A client with other TLS settings (a negative test's) is not refused for the real SAE's stall.
    expect(await fails(exchange(identity({ minVersion: 'TLSv1.3' }), base, enc))).not.toBeInstanceOf(RunBudgetError);
    // Another process of the run (fresh memory, same file) refuses at once too.
    configureRunBudget({ startedAt: Date.now(), budgetMs: 120_000, file });
    expect(await fails(exchange(identity(), base, enc))).toBeInstanceOf(RunBudgetError);
    expect(readFileSync(file, 'utf8').trim().split('\n').length).toBeGreaterThanOrEqual(1);
  });

  it('a spent budget refuses every request at once, saying so', async () => {
    configureRunBudget({ startedAt: Date.now() - 61_000, budgetMs: 60_000 });
    const err = await fails(exchange(identity(), base, status));
    expect(err).toBeInstanceOf(RunBudgetError);
    expect(err.message).toMatch(/not sent: the run budget of 60 s \(run_budget_s in the target profile\) is spent/);
  });

  it('the last request is cut short at the end of the budget, recorded as such and not as a stall', async () => {
    configureRunBudget({ startedAt: Date.now(), budgetMs: 200 });
    const sae = new SaeIdentity({ saeId: 'SAE_A', timeoutMs: 60_000 });
    identities.push(sae);
    const mark = refusalMark();
    const err = await fails(exchange(sae, base, enc));
    expect(err.kind).toBe('deadline');
    expect(refusalSince(mark)).toMatch(/cut short when the run budget of 0 s ran out/);
  });

  it('does nothing when no run configured it', async () => {
    const sae = identity();
    await fails(exchange(sae, base, enc));
    expect(await fails(exchange(sae, base, enc))).not.toBeInstanceOf(RunBudgetError);
  });

  it('names endpoints by the last path segment', () => {
    expect(endpointOf(new URL('https://k:1/api/v1/keys/S%2FB/enc_keys?number=2'))).toBe('enc_keys');
    expect(endpointOf(new URL('https://k:1/api/v1/keys/SAE_A/dec_keys'))).toBe('dec_keys');
    expect(endpointOf(new URL('https://k:1/api/v1/keys/SAE_B/status'))).toBe('status');
    expect(endpointOf(new URL('https://k:1/api/v1/keys/SAE_B/other'))).toBe('other');
  });
});
