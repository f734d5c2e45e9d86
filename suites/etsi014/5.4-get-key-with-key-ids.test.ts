// ETSI GS QKD 014 clause 5.4 (Get key with key IDs) with the Key IDs format of clause 6.4.
import { randomUUID } from 'node:crypto';
import { check } from '../../src/conformance/check.ts';
import { defineClause } from '../../src/conformance/clause.ts';
import { CannotEvaluate, Failure, Skip, type CheckContext } from '../../src/conformance/context.ts';
import { MESSAGES, answerHead, errorBodyProblem, expect400, expectKeys, expectSameKeys, thenOf, type HeadOnly } from '../../src/conformance/expect.ts';
import type { CallResult, KeyContainer } from '../../src/kme/client.ts';

/**
 * Keys the master obtained for the slave (a fresh enc_keys call): a prerequisite of every dec_keys check,
 * so a refused or wrong enc_keys makes the check an error naming it, never a verdict on clause 5.4.
 */
async function masterKeys(t: CheckContext, number: number, via: 'POST' | 'GET' = 'POST'): Promise<{ container: KeyContainer; size: number }> {
  const st = await t.status();
  // Clause 5.4 compares what the two SAEs get: an unusable Status limit (qkd014/5.2/1's finding) only
  // means asking for one key of the size the master then receives.
  const n = via === 'GET' ? 1 : Math.max(1, Math.min(number, readable(() => st.max_key_per_request) ?? 1));
  const what = via === 'GET' ? 'GET enc_keys (master)' : `POST enc_keys number=${n} (master)`;
  let size = readable(() => st.key_size);
  const container = await t.prerequisite(what, async () => {
    const r = via === 'GET' ? await t.master.encKeysGet(t.slaveId) : await t.master.encKeys(t.slaveId, { number: n });
    const first = r.data?.keys[0];
    size ??= first ? Buffer.from(first.key, 'base64').length * 8 : 0;
    return expectKeys(r, n, size, what);
  });
  return { container, size: size! };
}

/** A Status member, or undefined when the KME sent it missing or invalid (statusView's CannotEvaluate). */
function readable<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (err) {
    if (err instanceof CannotEvaluate) return undefined;
    throw err;
  }
}

/**
 * A dec_keys request that must be refused (400 "not found" or 401) and serve nothing: 200 is a key
 * handed to the wrong party (also when the body then failed: answerHead); another 4xx is the status-code
 * deviation; anything else is not a refusal.
 */
function expectRefused(r: CallResult<KeyContainer> | HeadOnly, what: string): void {
  if (r.status === 400 || r.status === 401) return;
  if (r.status === 200) throw new Failure(`${what}: served (200${'data' in r && r.data ? ` with ${r.data.keys.length} key(s)` : ''}${thenOf(r)}) instead of 400 "not found" or 401`);
  throw new Failure(`${what}: expected 400 or 401, got ${r.status}${thenOf(r)}`, r.status > 400 && r.status < 500 ? 'status-code' : undefined);
}

/**
 * The slave still gets the keys after attempts by others: nothing was consumed. Only presence is judged
 * here (key_IDs and sizes); whether the bytes match the master's is qkd014/5.4/1's finding.
 */
async function slaveStillGets(t: CheckContext, container: KeyContainer, size: number, after: string): Promise<void> {
  await t.soft(async () => {
    const ids = container.keys.map((k) => k.key_ID);
    const r = await t.slave.decKeys(t.masterId, ids);
    const which = ids.length === 1 ? `key_ID ${ids[0]}` : `${ids.length} key_IDs`;
    if (r.status !== 200) throw new Failure(`the real slave got ${r.status} for ${which} after ${after}: that request used up the key`);
    const got = expectKeys(r, ids.length, size, `POST dec_keys by the real slave after ${after}`);
    const missing = ids.filter((id) => !got.keys.some((k) => k.key_ID === id));
    if (missing.length) throw new Failure(`the real slave's answer after ${after} lacks key_ID(s) ${missing.join(', ')}`);
  });
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
    await t.prerequisite('first POST dec_keys (slave)', async () => expectKeys(await t.slave.decKeys(t.masterId, [id]), 1, size, 'first POST dec_keys (slave)'));
    await t.soft(async () => {
      const again = await t.slave.decKeys(t.masterId, [id]);
      if (again.status === 200) throw new Failure(`key_ID ${id} was delivered a second time by POST dec_keys (keys are not removed after delivery)`);
      expect400(again, 'second POST dec_keys for the same key_ID', MESSAGES.notFound);
    });
    await t.soft(async () => {
      const viaGet = await t.slave.decKeysGet(t.masterId, id);
      if (viaGet.status === 200) throw new Failure(`key_ID ${id} was delivered a second time through GET dec_keys`);
      expect400(viaGet, 'GET dec_keys for the delivered key_ID', MESSAGES.notFound);
    });
  }),

  check('qkd014/5.4/4', async (t) => {
    const id = randomUUID();
    await t.soft(async () => expect400(await t.slave.decKeys(t.masterId, [id]), `POST dec_keys with an unknown key_ID ${id}`, MESSAGES.notFound));
    await t.soft(async () => expect400(await t.slave.decKeysGet(t.masterId, id), `GET dec_keys?key_ID=${id} (unknown)`, MESSAGES.notFound));
  }),

  check('qkd014/5.4/5', async (t) => {
    const outsider = t.role('outsider');
    if (!outsider) throw new Skip('the target profile has no outsider SAE');
    const { container, size } = await masterKeys(t, 1);
    const ids = container.keys.map((k) => k.key_ID);
    await t.soft(async () => {
      const r = await answerHead(t.client('outsider').decKeys(t.masterId, ids));
      if (r.status !== 401) throw new Failure(`${outsider.saeId}, not named as slave, got ${r.status}${thenOf(r)} from POST dec_keys instead of 401${r.status === 200 ? ' — and the key' : ''}`);
    });
    await t.soft(async () => {
      const g = await answerHead(t.client('outsider').decKeysGet(t.masterId, ids[0]!));
      if (g.status !== 401) throw new Failure(`${outsider.saeId}, not named as slave, got ${g.status}${thenOf(g)} from GET dec_keys instead of 401${g.status === 200 ? ' — and the key' : ''}`);
    });
    await slaveStillGets(t, container, size, `the refusals of ${outsider.saeId}`);
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

  // Retention: the master asks several times before the slave collects anything; every call's keys must
  // still be there, collected newest first, oldest by GET, and the rest mixed in one request.
  check('qkd014/5.4/8', async (t) => {
    const calls: Array<{ what: string; container: KeyContainer; size: number }> = [];
    const made = async (what: string, keys: Promise<{ container: KeyContainer; size: number }>): Promise<void> => {
      calls.push({ what: `enc_keys call #${calls.length + 1} (${what})`, ...(await keys) });
    };
    await made('POST, 1 key', masterKeys(t, 1));
    await made('GET, 1 key', masterKeys(t, 1, 'GET'));
    await made('POST, 2 keys', masterKeys(t, 2));
    await made('POST, 1 key', masterKeys(t, 1));
    const ids = calls.flatMap((c) => c.container.keys.map((k) => k.key_ID));
    const again = ids.find((id, i) => ids.indexOf(id) !== i);
    if (again) throw new CannotEvaluate(`prerequisite enc_keys calls failed: key_ID ${again} was handed out by two of them, so they are not ${calls.length} outstanding sets of keys (see qkd014/5.3/15)`);
    const collect = async (which: number[], via: 'POST' | 'GET'): Promise<void> => {
      const chosen = which.map((i) => calls[i]!);
      const container: KeyContainer = { keys: chosen.flatMap((c) => c.container.keys) };
      const ids = container.keys.map((k) => k.key_ID);
      const later = (c: (typeof calls)[number]): number => calls.length - 1 - calls.indexOf(c);
      const of = chosen.map((c) => `${c.what}${later(c) ? `, followed by ${later(c)} more enc_keys call(s)` : ', the last one'}`).join(' and ');
      if (via === 'GET') {
        for (const k of container.keys) {
          await t.soft(async () => {
            const r = await t.slave.decKeysGet(t.masterId, k.key_ID);
            if (r.status !== 200) throw new Failure(`the key of ${of} is no longer retrievable: GET dec_keys for key_ID ${k.key_ID} answered ${r.status}`);
            expectSameKeys({ keys: [k] }, expectKeys(r, 1, chosen[0]!.size, `GET dec_keys for the key of ${of}`), `GET dec_keys for the key of ${of}`);
          });
        }
        return;
      }
      await t.soft(async () => {
        const r = await t.slave.decKeys(t.masterId, ids);
        if (r.status !== 200) throw new Failure(`the keys of ${of} are no longer retrievable: POST dec_keys for ${ids.length} key_ID(s) answered ${r.status}`);
        expectSameKeys(container, expectKeys(r, ids.length, chosen[0]!.size, `POST dec_keys for the keys of ${of}`), `POST dec_keys for the keys of ${of}`);
      });
    };
    await collect([2], 'POST'); // a later call's keys first
    await collect([0], 'GET'); // the oldest by GET
    await collect([1, 3], 'POST'); // two calls' keys in one request
    return { pass: `the keys of ${calls.length} outstanding enc_keys calls were all retrieved out of order` };
  }),

  // The path names the master SAE the keys were obtained by (ambiguity 1): naming another is refused and costs the slave nothing.
  check('qkd014/5.4/9', async (t) => {
    const { container, size } = await masterKeys(t, 1);
    const ids = container.keys.map((k) => k.key_ID);
    const registered = t.role('outsider')?.saeId ?? t.slaveId; // an SAE the KME knows, but not this key's master
    const unknown = `QKDH_NO_SUCH_MASTER_${randomUUID().slice(0, 8)}`;
    await t.soft(async () => expectRefused(await answerHead(t.slave.decKeys(registered, ids)), `POST dec_keys naming ${registered} as master (the key's master is ${t.masterId})`));
    await t.soft(async () => expectRefused(await answerHead(t.slave.decKeysGet(unknown, ids[0]!)), `GET dec_keys naming the unknown master ${unknown}`));
    await slaveStillGets(t, container, size, 'dec_keys naming another master');
  }),

  // The master was not named as slave of its own key: redeeming it at its own KME is a 401 and consumes nothing.
  check('qkd014/5.4/10', async (t) => {
    const { container, size } = await masterKeys(t, 1);
    const id = container.keys[0]!.key_ID;
    const judge = (r: CallResult<KeyContainer> | HeadOnly, what: string): void => {
      if (r.status === 401) return;
      if (r.status === 200) throw new Failure(`${what}: the master SAE ${t.masterId} was handed its own key (200${thenOf(r)}) instead of 401`);
      throw new Failure(`${what}: expected 401, got ${r.status}${thenOf(r)}`);
    };
    await t.soft(async () => judge(await answerHead(t.master.decKeys(t.masterId, [id])), `POST dec_keys by the master SAE for its own key_ID ${id}`));
    await t.soft(async () => judge(await answerHead(t.master.decKeysGet(t.masterId, id)), `GET dec_keys by the master SAE for its own key_ID ${id}`));
    await slaveStillGets(t, container, size, "the master's attempts");
  }),
]);
