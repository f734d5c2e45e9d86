// ETSI GS QKD 014 clause 5: what holds for every method — timely, complete answers and only the
// status codes the standard defines.
import { check } from '../../src/conformance/check.ts';
import { defineClause } from '../../src/conformance/clause.ts';
import { Failure } from '../../src/conformance/context.ts';
import { expect400 } from '../../src/conformance/expect.ts';
import { KmeClient } from '../../src/kme/client.ts';
import { KmeTransportError } from '../../src/kme/errors.ts';
import { stalledEarlier } from '../../src/kme/run-budget.ts';
import { buildUrl, type RawResponse } from '../../src/kme/transport.ts';

const DEFINED = new Set([200, 400, 401, 503]);

await defineClause('5 Methods in general', import.meta.url, [
  check('qkd014/5/2', async (t) => {
    const deadline = t.target.profile.timeout_ms;
    // A stall another check of this run already met is this requirement's finding; the run does not wait for it again.
    const master = t.target.roles.master.client;
    const stalled = (['status', 'enc_keys'] as const).flatMap((m) => stalledEarlier(master.identity, buildUrl(master.baseUrl, KmeClient.path(t.slaveId, m))) ?? []);
    if (stalled.length) throw new Failure(`stalled earlier in this run (not asked again): ${stalled.join('; ')}`);
    try {
      const st = await t.master.status(t.slaveId);
      const keys = await t.master.encKeys(t.slaveId, {});
      for (const r of [st, keys]) {
        if (r.status === 200 && r.raw.json() === undefined) throw new Failure(`${r.raw.method} ${new URL(r.raw.url).pathname}: the 200 body is incomplete or not JSON (${r.raw.body.length} bytes)`);
      }
      return { pass: `answers in ${Math.round(st.raw.elapsedMs)} ms and ${Math.round(keys.raw.elapsedMs)} ms (deadline ${deadline} ms)` };
    } catch (err) {
      if (err instanceof KmeTransportError && err.kind === 'deadline') throw new Failure(`no complete answer within the deadline: ${err.message}`);
      throw err;
    }
  }),

  check('qkd014/5/3', async (t) => {
    const enc = KmeClient.path(t.slaveId, 'enc_keys');
    const dec = KmeClient.path(t.masterId, 'dec_keys');
    const probes: Array<[string, () => Promise<RawResponse>]> = [
      ['a cut-off JSON body', () => t.master.raw({ method: 'POST', path: enc, headers: { 'content-type': 'application/json' }, body: '{"number":' })],
      ['a string number', () => t.master.raw({ method: 'POST', path: enc, body: { number: 'many' } })],
      ['a negative number', () => t.master.raw({ method: 'GET', path: enc, query: { number: '-5' } })],
      ['an unknown key_ID', () => t.slave.raw({ method: 'POST', path: dec, body: { key_IDs: [{ key_ID: '00000000-0000-4000-8000-00000000dead' }] } })],
      ['key_IDs not an array', () => t.slave.raw({ method: 'POST', path: dec, body: { key_IDs: 'x' } })],
      ['no key_ID', () => t.slave.raw({ method: 'GET', path: dec })],
      ['a method the API does not have', () => t.master.raw({ method: 'DELETE', path: enc })],
    ];
    // Every probe runs; each deviation is reported with its own exchange as evidence.
    for (const [label, probe] of probes) {
      await t.soft(async () => {
        const r = await probe();
        const what = `${r.method} ${new URL(r.url).pathname}${new URL(r.url).search} (${label})`;
        if (r.status >= 500 && r.status !== 503) throw new Failure(`${what} answered ${r.status}: a server error for bad input`);
        if (!DEFINED.has(r.status)) throw new Failure(`${what} answered ${r.status}, a status code ETSI 014 does not define`, 'status-code');
        // A GET whose query is ignored is served as if it had none: the get-query deviation, not a new one.
        if (r.status === 200) throw new Failure(`${what} was accepted (200) although it is malformed`, r.method === 'GET' && new URL(r.url).search ? 'get-query' : undefined);
      });
    }
  }),

  check('qkd014/5/4', async (t) => {
    const big = Buffer.alloc(2 * 1024 * 1024, 0x20);
    big.write('{"number":1,"pad":"', 0);
    big.write('"}', big.length - 2);
    let refused: string;
    try {
      const r = await t.master.raw({ method: 'POST', path: KmeClient.path(t.slaveId, 'enc_keys'), headers: { 'content-type': 'application/json' }, body: big });
      expect400(r, 'POST enc_keys with a 2 MiB body');
      refused = '400';
    } catch (err) {
      if (!(err instanceof KmeTransportError) || err.kind === 'deadline') throw err;
      // A failure after the response head is no refusal: the KME answered (a 200 cut off at our own size cap served the request).
      const s = err.responseStatus;
      if (s !== undefined && s !== 400) throw new Failure(`POST enc_keys with a 2 MiB body: expected 400, got ${s} (then ${err.kind})`, s > 400 && s < 500 && s !== 401 ? 'status-code' : undefined);
      refused = s === 400 ? `400, then ${err.kind}` : `connection closed (${err.kind})`; // closing on an oversized body is acceptable
    }
    const after = await t.master.status(t.slaveId);
    if (after.status !== 200) throw new Failure(`after an oversized body the KME answers Status with ${after.status}`);
    return { pass: `refused (${refused}) and still serving` };
  }),
]);
