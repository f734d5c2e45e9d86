// ETSI GS QKD 014 clause 5.2 (Get status) with the Status format of clause 6.1.
import { check } from '../../src/conformance/check.ts';
import { defineClause } from '../../src/conformance/clause.ts';
import { Failure } from '../../src/conformance/context.ts';
import { expectKeys } from '../../src/conformance/expect.ts';

await defineClause('5.2 Get status', import.meta.url, [
  check('qkd014/5.2/1', async (t) => {
    const r = await t.master.status(t.slaveId);
    if (r.status !== 200) throw new Failure(`GET status answered ${r.status}`);
    if (!r.data) throw new Failure(`the Status body does not match clause 6.1: ${r.schemaError}`);
  }),

  check('qkd014/5.2/2', async (t) => {
    const st = await t.status();
    if (st.master_SAE_ID === t.slaveId && st.slave_SAE_ID === t.masterId) {
      throw new Failure(`master_SAE_ID and slave_SAE_ID are swapped (master_SAE_ID "${st.master_SAE_ID}", slave_SAE_ID "${st.slave_SAE_ID}")`, 'sae-ids');
    }
    if (st.master_SAE_ID !== t.masterId) throw new Failure(`master_SAE_ID is "${st.master_SAE_ID}", expected the caller "${t.masterId}"`);
    if (st.slave_SAE_ID !== t.slaveId) throw new Failure(`slave_SAE_ID is "${st.slave_SAE_ID}", expected the path SAE "${t.slaveId}"`);
    // The slave's own view names itself as the caller.
    const back = await t.slave.status(t.masterId);
    if (back.status === 200 && back.data && back.data.master_SAE_ID !== t.slaveId) {
      throw new Failure(`at the slave's KME, master_SAE_ID is "${back.data.master_SAE_ID}", expected the caller "${t.slaveId}"`);
    }
  }),

  check('qkd014/5.2/3', async (t) => {
    const st = await t.status();
    const mine = t.target.roles.master.client.identity.kmeId;
    const theirs = t.target.roles.slave.client.identity.kmeId;
    if (mine && st.source_KME_ID !== mine) throw new Failure(`source_KME_ID is "${st.source_KME_ID}", expected the answering KME "${mine}"`);
    if (theirs && st.target_KME_ID !== theirs) throw new Failure(`target_KME_ID is "${st.target_KME_ID}", expected the slave's KME "${theirs}"`);
    if (st.source_KME_ID === st.target_KME_ID && t.target.roles.master.kmeName !== t.target.roles.slave.kmeName) {
      throw new Failure(`source_KME_ID and target_KME_ID are both "${st.source_KME_ID}" although master and slave use different KMEs`);
    }
    if (!mine || !theirs) return { pass: 'consistent; the profile gives no kme_id to compare with' };
  }),

  check('qkd014/5.2/4', async (t) => {
    const s = await t.status();
    const problems = [
      s.min_key_size <= s.key_size && s.key_size <= s.max_key_size ? '' : `key_size ${s.key_size} outside [${s.min_key_size}, ${s.max_key_size}]`,
      s.stored_key_count <= s.max_key_count ? '' : `stored_key_count ${s.stored_key_count} > max_key_count ${s.max_key_count}`,
      s.max_key_per_request >= 1 ? '' : `max_key_per_request ${s.max_key_per_request} < 1`,
      s.min_key_size >= 1 ? '' : `min_key_size ${s.min_key_size} < 1`,
      s.max_SAE_ID_count >= 0 ? '' : `max_SAE_ID_count ${s.max_SAE_ID_count} < 0`,
      s.stored_key_count >= 0 ? '' : `stored_key_count ${s.stored_key_count} < 0`,
    ].filter(Boolean);
    if (problems.length) throw new Failure(`inconsistent Status: ${problems.join('; ')}`);
  }),

  check('qkd014/5.2/5', async (t) => {
    const before = await t.status();
    const n = Math.max(1, Math.min(before.max_key_per_request, 4, before.stored_key_count));
    expectKeys(await t.master.encKeys(t.slaveId, { number: n }), n, before.key_size, `POST enc_keys number=${n}`);
    const after = await t.status();
    // Keys may be generated meanwhile; the count must still show the delivery.
    if (after.stored_key_count >= before.stored_key_count) {
      throw new Failure(`stored_key_count did not go down after ${n} key(s) were delivered (${before.stored_key_count} → ${after.stored_key_count})`);
    }
  }),
]);
