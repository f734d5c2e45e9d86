// ETSI GS QKD 014 clause 5.4 (Get key with key IDs) with the Key IDs format of clause 6.4.
import { randomUUID } from 'node:crypto';
import { check } from '../../src/conformance/check.ts';
import { defineClause } from '../../src/conformance/clause.ts';
import { Failure, Skip, type CheckContext } from '../../src/conformance/context.ts';
import { MESSAGES, errorBodyProblem, expect400, expectKeys, expectSameKeys } from '../../src/conformance/expect.ts';
import type { KeyContainer } from '../../src/kme/client.ts';

/** Keys the master obtained for the slave (a fresh enc_keys call). */
async function masterKeys(t: CheckContext, number: number): Promise<{ container: KeyContainer; size: number }> {
  const st = await t.status();
  const n = Math.min(number, st.max_key_per_request);
  return { container: expectKeys(await t.master.encKeys(t.slaveId, { number: n }), n, st.key_size, `POST enc_keys number=${n} (master)`), size: st.key_size };
}

await defineClause('5.4 Get key with key IDs', import.meta.url, [
  check('qkd014/5.4/1', async (t) => {
    const { container, size } = await masterKeys(t, 3);
    const ids = container.keys.map((k) => k.key_ID);
    const got = expectKeys(await t.slave.decKeys(t.masterId, ids), ids.length, size, `POST dec_keys with ${ids.length} key_IDs (slave)`);
    expectSameKeys(container, got, 'POST dec_keys');
  }),

  check('qkd014/5.4/2', async (t) => {
    const { container, size } = await masterKeys(t, 1);
    const id = container.keys[0]!.key_ID;
    expectSameKeys(container, expectKeys(await t.slave.decKeysGet(t.masterId, id), 1, size, 'GET dec_keys?key_ID (slave)'), 'GET dec_keys');
  }),

  check('qkd014/5.4/3', async (t) => {
    const { container, size } = await masterKeys(t, 1);
    const id = container.keys[0]!.key_ID;
    expectKeys(await t.slave.decKeys(t.masterId, [id]), 1, size, 'first POST dec_keys (slave)');
    const again = await t.slave.decKeys(t.masterId, [id]);
    if (again.status === 200) throw new Failure(`key_ID ${id} was delivered a second time by the slave's KME (keys are not removed after delivery)`);
    expect400(again, 'second POST dec_keys for the same key_ID', MESSAGES.notFound);
    const viaGet = await t.slave.decKeysGet(t.masterId, id);
    if (viaGet.status === 200) throw new Failure(`key_ID ${id} was delivered a second time through GET dec_keys`);
  }),

  check('qkd014/5.4/4', async (t) => {
    const id = randomUUID();
    expect400(await t.slave.decKeys(t.masterId, [id]), `POST dec_keys with an unknown key_ID ${id}`, MESSAGES.notFound);
    expect400(await t.slave.decKeysGet(t.masterId, id), `GET dec_keys?key_ID=${id} (unknown)`, MESSAGES.notFound);
  }),

  check('qkd014/5.4/5', async (t) => {
    const outsider = t.role('outsider');
    if (!outsider) throw new Skip('the target profile has no outsider SAE');
    const { container, size } = await masterKeys(t, 1);
    const ids = container.keys.map((k) => k.key_ID);
    const r = await t.client('outsider').decKeys(t.masterId, ids);
    if (r.status !== 401) throw new Failure(`${outsider.saeId}, not named as slave, got ${r.status} from POST dec_keys instead of 401${r.status === 200 ? ' — and the key' : ''}`);
    const g = await t.client('outsider').decKeysGet(t.masterId, ids[0]!);
    if (g.status !== 401) throw new Failure(`${outsider.saeId}, not named as slave, got ${g.status} from GET dec_keys instead of 401`);
    // The refusal must not have used up the slave's key.
    expectSameKeys(container, expectKeys(await t.slave.decKeys(t.masterId, ids), 1, size, 'POST dec_keys by the real slave afterwards'), 'slave after the refusal');
  }),

  check('qkd014/5.4/6', async (t) => {
    const outsider = t.role('outsider');
    if (!outsider) throw new Skip('the target profile has no outsider SAE');
    const { container } = await masterKeys(t, 1);
    const r = await t.client('outsider').decKeys(t.masterId, [container.keys[0]!.key_ID]);
    if (r.status !== 401) throw new Skip(`no 401 to inspect (got ${r.status}; see qkd014/5.4/5)`);
    if (r.raw.body.length === 0) return { pass: '401 without a body' };
    const problem = errorBodyProblem(r.raw);
    if (problem) throw new Failure(`the 401 body is not JSON/Error: ${problem}`, 'error-body');
  }),

  check('qkd014/5.4/7', async (t) => {
    const { container, size } = await masterKeys(t, 1);
    const id = container.keys[0]!.key_ID;
    const mixed = await t.slave.decKeys(t.masterId, [id, randomUUID()]);
    const after = await t.slave.decKeys(t.masterId, [id]);
    if (after.status === 200) expectSameKeys(container, expectKeys(after, 1, size, 'dec_keys after a mixed request'), 'after a mixed request');
    return { info: `a mixed valid/unknown request answered ${mixed.status}; the valid key was ${after.status === 200 ? 'still available' : 'consumed'} afterwards` };
  }),
]);
