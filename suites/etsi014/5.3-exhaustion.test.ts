// ETSI GS QKD 014 clause 5.3: what a KME answers when its key pool is empty. Its own file, because it
// empties the pool (the embedded mock gives each suite file a fresh pair; real targets must opt in).
import { check } from '../../src/conformance/check.ts';
import { defineClause } from '../../src/conformance/clause.ts';
import { CannotEvaluate, Failure, Skip } from '../../src/conformance/context.ts';
import { errorBodyProblem, errorMessage, truncate } from '../../src/conformance/expect.ts';
import { containerKeys } from '../../src/kme/normalize.ts';

const MAX_REQUESTS = 2_000;

await defineClause('5.3 Get key: exhaustion', import.meta.url, [
  check(
    'qkd014/5.3/16',
    async (t) => {
      if (!t.target.allowExhaustion) throw new Skip('emptying the key pool is destructive; set allow_exhaustion: true in the target profile to run it');
      const st = await t.status();
      const number = st.max_key_per_request;
      const stored = st.stored_key_count;
      const budget = Math.min(MAX_REQUESTS, Math.ceil(stored / number) + 20);
      let delivered = 0;
      for (let i = 0; i < budget; i++) {
        const r = await t.master.encKeys(t.slaveId, { number });
        const soFar = `after ${i} full request(s) of ${number} (${delivered} keys; Status reported ${stored} stored at the start)`;
        if (r.status === 200) {
          // Count what arrived even when the container is otherwise invalid (that is qkd014/6.3's finding).
          const got = r.data?.keys.length ?? containerKeys(r.raw.json()).length;
          const invalid = r.data ? '' : `; the container is not schema-valid either (${r.schemaError ?? 'no body'})`;
          if (!r.data && got === 0) {
            throw new CannotEvaluate(`request ${i + 1} answered 200 with a body that is not a key container (${r.schemaError ?? 'no body'}), so the keys delivered cannot be counted; ${soFar}`);
          }
          if (got !== number) throw new Failure(`enc_keys answered 200 with ${got} of the ${number} keys asked for (a short container) ${soFar}${invalid}`);
          delivered += got;
          continue;
        }
        // Before Status's count can have run out, only a 503 (the standard's "unavailable") is taken as exhaustion;
        // anything else (a 400 for number, a 504…) is no answer to this requirement.
        const keysLeft = delivered + number <= stored;
        if (keysLeft && r.status !== 503) {
          const said = errorMessage(r.raw);
          const early = i === 0 ? `the first request answered ${r.status} before any key ran out (Status reported ${stored} stored)` : `request ${i + 1} answered ${r.status} after only ${delivered} of the ${stored} keys Status reported`;
          throw new CannotEvaluate(`${early}${said ? ` with the message "${truncate(said)}"` : ''}; the pool's exhaustion was never reached`);
        }
        if (r.status !== 503 && r.status !== 400) throw new Failure(`with the pool exhausted ${soFar}, enc_keys answered ${r.status} instead of 503 (or 400)`, r.status >= 400 && r.status < 500 ? 'status-code' : undefined);
        const problem = errorBodyProblem(r.raw);
        if (problem) throw new Failure(`the ${r.status} for an exhausted pool (${soFar}) carries no Error body: ${problem}`, 'error-body');
        return { pass: `pool exhausted ${soFar}; answered ${r.status} with an Error body` };
      }
      throw new Skip(`the pool did not run out within ${budget} requests of ${number} keys (${delivered} delivered; keys are generated faster than fetched)`);
    },
    { timeoutMs: 120_000, destructive: true },
  ),
]);
