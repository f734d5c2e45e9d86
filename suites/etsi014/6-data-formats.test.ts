// ETSI GS QKD 014 clause 6: the Key container (6.3) and Error (6.5) data formats.
import { check } from '../../src/conformance/check.ts';
import { defineClause } from '../../src/conformance/clause.ts';
import { Failure, Skip } from '../../src/conformance/context.ts';
import { UUID_RE, errorBodyProblem, expectKeys, rawOf } from '../../src/conformance/expect.ts';
import { base64Problem } from '../../src/psk/base64.ts';
import { KmeClient } from '../../src/kme/client.ts';

await defineClause('6 Data formats', import.meta.url, [
  check('qkd014/6.3/1', async (t) => {
    const st = await t.status();
    const c = expectKeys(await t.master.encKeys(t.slaveId, { number: Math.min(4, st.max_key_per_request) }), Math.min(4, st.max_key_per_request), st.key_size, 'POST enc_keys');
    const odd: string[] = [];
    for (const k of c.keys) {
      if (!UUID_RE.test(k.key_ID)) throw new Failure(`key_ID "${k.key_ID.slice(0, 60)}" is not in UUID format (8-4-4-4-12 hex)`);
      const version = k.key_ID[14];
      if (!'12345678'.includes(version ?? '')) odd.push(`${k.key_ID} (version ${version})`);
    }
    if (odd.length) return { warn: `key_IDs with an unusual UUID version: ${odd.join(', ')}` };
  }),

  check('qkd014/6.3/2', async (t) => {
    const r = await t.master.raw({ method: 'POST', path: KmeClient.path(t.slaveId, 'enc_keys'), body: { number: 1 } });
    const body = r.json() as { keys?: Array<{ key?: unknown; key_ID?: unknown }> } | undefined;
    if (r.status !== 200 || !Array.isArray(body?.keys)) throw new Failure(`POST enc_keys answered ${r.status} without a keys array`);
    for (const k of body.keys) {
      if (typeof k.key !== 'string') throw new Failure(`key of ${String(k.key_ID)} is not a string`);
      const problem = base64Problem(k.key);
      if (problem) throw new Failure(`key of ${String(k.key_ID)} is not standard padded Base64: ${problem}`);
    }
  }),

  check('qkd014/6.3/3', async (t) => {
    const r = await t.master.raw({ method: 'POST', path: KmeClient.path(t.slaveId, 'enc_keys'), body: {} });
    const body = r.json() as Record<string, unknown> | undefined;
    if (r.status !== 200 || !body) throw new Failure(`POST enc_keys answered ${r.status}${body ? '' : ' without JSON'}`);
    if (!Array.isArray(body.keys)) throw new Failure(`the key container has no "keys" array (members: ${Object.keys(body).join(', ')})`, 'Keys' in body ? 'keys-member' : undefined);
  }),

  check('qkd014/6.5/1', async (t) => {
    const st = await t.status();
    const answers = [
      await t.master.encKeys(t.slaveId, { number: st.max_key_per_request + 1 }),
      await t.slave.decKeys(t.masterId, ['00000000-0000-4000-8000-000000000000']),
      await t.master.raw({ method: 'POST', path: KmeClient.path(t.slaveId, 'enc_keys'), headers: { 'content-type': 'application/json' }, body: '{' }),
    ];
    // Status codes are judged by their own requirements; here every refusal's body must be an Error.
    const refusals = answers.map(rawOf).filter((raw) => raw.status >= 400 && raw.status !== 401);
    if (refusals.length === 0) throw new Skip('none of three bad requests was refused; no Error body to inspect');
    for (const raw of refusals) {
      const problem = errorBodyProblem(raw);
      if (problem) throw new Failure(`${raw.method} ${new URL(raw.url).pathname}: the ${raw.status} body is not an Error: ${problem}`, 'error-body');
    }
  }),
]);
