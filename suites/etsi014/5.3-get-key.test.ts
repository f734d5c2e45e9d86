// ETSI GS QKD 014 clause 5.3 (Get key) with the Key request format of clause 6.2.
import { randomUUID } from 'node:crypto';
import { check } from '../../src/conformance/check.ts';
import { defineClause } from '../../src/conformance/clause.ts';
import { Failure, Skip } from '../../src/conformance/context.ts';
import { KmeClient } from '../../src/kme/client.ts';
import { MESSAGES, answerHead, errorMessage, expect400, expectKeys, expectSameKeys, thenOf } from '../../src/conformance/expect.ts';


await defineClause('5.3 Get key', import.meta.url, [
  check('qkd014/5.3/1', async (t) => {
    const st = await t.status();
    expectKeys(await t.master.encKeys(t.slaveId, {}), 1, st.key_size, 'POST enc_keys {}');
  }),

  check('qkd014/5.3/2', async (t) => {
    const st = await t.status();
    const number = Math.min(3, st.max_key_per_request);
    // A size other than the default, inside the limits and a multiple of 8.
    const size = [512, 1024, 128, 64].find((s) => s !== st.key_size && s >= st.min_key_size && s <= st.max_key_size) ?? st.key_size;
    expectKeys(await t.master.encKeys(t.slaveId, { number, size }), number, size, `POST enc_keys number=${number} size=${size}`);
  }),

  check('qkd014/5.3/3', async (t) => {
    const st = await t.status();
    expectKeys(await t.master.encKeysGet(t.slaveId), 1, st.key_size, 'GET enc_keys');
  }),

  check('qkd014/5.3/4', async (t) => {
    const st = await t.status();
    const number = Math.min(2, st.max_key_per_request);
    const size = [512, 128, 1024, 64].find((s) => s !== st.key_size && s >= st.min_key_size && s <= st.max_key_size);
    if (!size) throw new Skip('the KME offers a single key size');
    const r = await t.master.encKeysGet(t.slaveId, { number, size });
    try {
      expectKeys(r, number, size, `GET enc_keys?number=${number}&size=${size}`);
    } catch (err) {
      if (err instanceof Failure && r.status === 200 && r.data) throw new Failure(`${err.message} — the query parameters were not honoured`, 'get-query');
      throw err;
    }
  }),

  check('qkd014/5.3/5', async (t) => {
    const st = await t.status();
    expect400(await t.master.encKeys(t.slaveId, { number: st.max_key_per_request + 1 }), `POST enc_keys number=${st.max_key_per_request + 1} (max_key_per_request ${st.max_key_per_request})`);
  }),

  check('qkd014/5.3/6', async (t) => {
    const st = await t.status();
    await t.soft(async () => expect400(await t.master.encKeys(t.slaveId, { size: st.max_key_size + 8 }), `POST enc_keys size=${st.max_key_size + 8} (max_key_size ${st.max_key_size})`));
    if (st.min_key_size > 8) await t.soft(async () => expect400(await t.master.encKeys(t.slaveId, { size: st.min_key_size - 8 }), `POST enc_keys size=${st.min_key_size - 8} (min_key_size ${st.min_key_size})`));
  }),

  check('qkd014/5.3/7', async (t) => {
    const st = await t.status();
    const size = Math.max(st.min_key_size, Math.min(st.max_key_size, 252)) | 0;
    const odd = size % 8 === 0 ? size - 4 : size;
    if (odd < st.min_key_size) throw new Skip(`no size that is not a multiple of 8 lies within [${st.min_key_size}, ${st.max_key_size}]`);
    const r = await t.master.encKeys(t.slaveId, { size: odd });
    if (r.status === 200) {
      expectKeys(r, 1, odd, `POST enc_keys size=${odd}`);
      return { pass: `served ${odd}-bit keys as ${Math.ceil(odd / 8)} bytes` };
    }
    expect400(r, `POST enc_keys size=${odd}`, MESSAGES.sizeMultiple);
    return { pass: 'refused with the standard message' };
  }),

  check('qkd014/5.3/8', async (t) => {
    const st = await t.status();
    const ids = Array.from({ length: st.max_SAE_ID_count + 1 }, (_, i) => (i === 0 ? (t.role('outsider')?.saeId ?? `${t.slaveId}_X`) : `${t.slaveId}_EXTRA_${i}`));
    expect400(await t.master.encKeys(t.slaveId, { additional_slave_SAE_IDs: ids }), `POST enc_keys with ${ids.length} additional_slave_SAE_IDs (max_SAE_ID_count ${st.max_SAE_ID_count})`);
  }),

  check('qkd014/5.3/9', async (t) => {
    const r = await t.master.encKeys(t.slaveId, { extension_mandatory: [{ qkdharness_unsupported_ext: 'x' }] });
    expect400(r, 'POST enc_keys with an unsupported extension_mandatory', MESSAGES.extensionUnsupported);
  }),

  check('qkd014/5.3/10', async (t) => {
    const st = await t.status();
    const r = await t.master.encKeys(t.slaveId, { extension_optional: [{ qkdharness_unknown_ext: 'x' }] });
    if (r.status === 200) {
      expectKeys(r, 1, st.key_size, 'POST enc_keys with an unknown extension_optional');
      return { pass: 'ignored (200)' };
    }
    expect400(r, 'POST enc_keys with an unknown extension_optional', MESSAGES.extensionOptional);
    return { pass: 'refused with the standard message' };
  }),

  check('qkd014/5.3/11', async (t) => {
    const path = KmeClient.path(t.slaveId, 'enc_keys');
    for (const body of ['{"number": 1', 'not json', '[1, 2', '\u0000']) {
      await t.soft(async () => expect400(await t.master.raw({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body }), `POST enc_keys with malformed JSON ${JSON.stringify(body)}`));
    }
  }),

  check('qkd014/5.3/12', async (t) => {
    const path = KmeClient.path(t.slaveId, 'enc_keys');
    for (const body of [{ number: '1' }, { size: 256.5 }, { additional_slave_SAE_IDs: 'SAE' }, { extension_mandatory: {} }, [] as unknown as object]) {
      await t.soft(async () => expect400(await t.master.raw({ method: 'POST', path, body }), `POST enc_keys ${JSON.stringify(body)}`));
    }
  }),

  check('qkd014/5.3/13', async (t) => {
    for (const number of [0, -1]) await t.soft(async () => expect400(await t.master.encKeys(t.slaveId, { number }), `POST enc_keys number=${number}`));
  }),

  check('qkd014/5.3/14', async (t) => {
    const path = KmeClient.path(t.slaveId, 'enc_keys');
    for (const query of [{ number: 'abc' }, { size: 'x' }, { number: '0' }] as Array<Record<string, string>>) {
      await t.soft(async () => expect400(await t.master.raw({ method: 'GET', path, query }), `GET enc_keys?${new URLSearchParams(query).toString()}`));
    }
  }),

  check('qkd014/5.3/15', async (t) => {
    const st = await t.status();
    const n = Math.max(1, Math.min(4, st.max_key_per_request));
    const seen = new Set<string>();
    // The calls deliver the key_IDs judged here; their own answers are judged by 5.3/1-3.
    for (let i = 0; i < 4; i++) {
      const c = await t.prerequisite(`POST enc_keys number=${n} (#${i + 1})`, async () => expectKeys(await t.master.encKeys(t.slaveId, { number: n }), n, st.key_size, `POST enc_keys number=${n} (#${i + 1})`));
      const g = await t.prerequisite(`GET enc_keys (#${i + 1})`, async () => expectKeys(await t.master.encKeysGet(t.slaveId), 1, st.key_size, `GET enc_keys (#${i + 1})`));
      for (const k of [...c.keys, ...g.keys]) {
        if (seen.has(k.key_ID)) throw new Failure(`key_ID ${k.key_ID} was delivered twice`);
        seen.add(k.key_ID);
      }
    }
    return { pass: `${seen.size} distinct key_IDs over 8 requests` };
  }),

  check('qkd014/5.3/17', async (t) => {
    const r = await t.master.raw({ method: 'POST', path: KmeClient.path(t.slaveId, 'enc_keys'), headers: { 'content-type': 'application/json' }, body: '' });
    return { info: r.status === 200 ? 'a zero-length body is treated as {} (200)' : `a zero-length body is refused (${r.status}${errorMessage(r) ? `: ${errorMessage(r)}` : ''})` };
  }),

  check('qkd014/5.3/18', async (t) => {
    const st = await t.status();
    const extra = t.role('outsider');
    if (st.max_SAE_ID_count < 1) throw new Skip('max_SAE_ID_count is 0: the KME offers no multicast');
    if (!extra) throw new Skip('the target profile has no third SAE to name as additional slave');
    const got = await t.prerequisite('POST enc_keys with one additional slave', async () => expectKeys(await t.master.encKeys(t.slaveId, { number: 1, additional_slave_SAE_IDs: [extra.saeId] }), 1, st.key_size, 'POST enc_keys with one additional slave'));
    const ids = got.keys.map((k) => k.key_ID);
    // The additional slave asks first: it was named, so it must get the key. Whether the path slave can
    // still get it at the same KME afterwards is undefined (ambiguity 8), so only its bytes are checked.
    const o = await t.client('outsider').decKeys(t.masterId, ids);
    expectSameKeys(got, expectKeys(o, 1, st.key_size, 'dec_keys by the additional slave'), 'additional slave');
    const s = await t.slave.decKeys(t.masterId, ids);
    if (s.status === 200 && s.data) expectSameKeys(got, s.data, 'slave');
    return { pass: `the additional slave got the key; the path slave then got ${s.status} (ambiguity 8)` };
  }),

  // An SAE ID no KME serves: serving keys for it hands them to nobody, or to whoever later claims the ID.
  check('qkd014/5.3/19', async (t) => {
    const unknown = `QKDH_NO_SUCH_SLAVE_${randomUUID().slice(0, 8)}`;
    // A body that fails after a 200 head was still served (answerHead).
    const refused = (a: { status: number }, what: string): void => {
      if (a.status === 400 || a.status === 401) return;
      if (a.status === 200) throw new Failure(`${what}: served (200${thenOf(a)}) for a slave SAE the KME does not serve, instead of 400 or 401`);
      throw new Failure(`${what}: expected 400 or 401, got ${a.status}${thenOf(a)}`, a.status > 400 && a.status < 500 ? 'status-code' : undefined);
    };
    await t.soft(async () => refused(await answerHead(t.master.encKeys(unknown, { number: 1 })), `POST enc_keys naming the unknown slave ${unknown}`));
    await t.soft(async () => refused(await answerHead(t.master.encKeysGet(unknown)), `GET enc_keys naming the unknown slave ${unknown}`));
    await t.soft(async () => refused(await answerHead(t.master.status(unknown)), `GET status naming the unknown slave ${unknown}`));
  }),
]);
