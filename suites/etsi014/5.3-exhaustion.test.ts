// ETSI GS QKD 014 clause 5.3: what a KME answers when its key pool is empty. Its own file, because it
// empties the pool (the embedded mock gives each suite file a fresh pair; real targets must opt in).
import { check } from '../../src/conformance/check.ts';
import { defineClause } from '../../src/conformance/clause.ts';
import { Failure, Skip } from '../../src/conformance/context.ts';
import { errorBodyProblem } from '../../src/conformance/expect.ts';

const MAX_REQUESTS = 2_000;

await defineClause('5.3 Get key: exhaustion', import.meta.url, [
  check(
    'qkd014/5.3/16',
    async (t) => {
      if (!t.target.allowExhaustion) throw new Skip('emptying the key pool is destructive; set allow_exhaustion: true in the target profile to run it');
      const st = await t.status();
      const number = st.max_key_per_request;
      const budget = Math.min(MAX_REQUESTS, Math.ceil(st.stored_key_count / number) + 20);
      for (let i = 0; i < budget; i++) {
        const r = await t.master.encKeys(t.slaveId, { number });
        if (r.status === 200) {
          const got = r.data?.keys.length ?? 0;
          if (got !== number) throw new Failure(`with the pool running out, enc_keys answered 200 with ${got} of ${number} keys (a short container)`);
          continue;
        }
        if (r.status !== 503 && r.status !== 400) throw new Failure(`an exhausted pool was answered with ${r.status} instead of 503 (or 400)`, r.status >= 400 && r.status < 500 ? 'status-code' : undefined);
        const problem = errorBodyProblem(r.raw);
        if (problem) throw new Failure(`the ${r.status} for an exhausted pool carries no Error body: ${problem}`, 'error-body');
        return { pass: `pool exhausted after ${i} full requests; answered ${r.status} with an Error body` };
      }
      throw new Skip(`the pool did not run out within ${budget} requests of ${number} keys (keys are generated faster than fetched)`);
    },
    { timeoutMs: 120_000, destructive: true },
  ),
]);
