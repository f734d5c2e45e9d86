// A KME with an empty key pool answers enc_keys 503 with an Error body, which the standard allows (clause
// 5: "error on server side"). Checks that need delivered keys cannot judge it: `error` naming the 503, never
// a `fail` of the requirement (a false fail after an earlier run emptied the pool) and never a pass.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Handler, sendJson, serveStandIns, standInOutcomes, standInPair, STAND_IN_STATUS } from './testing/stand-in.ts';

let standIns: Awaited<ReturnType<typeof serveStandIns>>;

beforeAll(async () => {
  const [status] = standInPair({ ...STAND_IN_STATUS, stored_key_count: 0 });
  const master: Handler = (req, res) => (req.url?.endsWith('/status') ? status(req, res) : sendJson(res, 503, { message: 'not enough key material: the key pool is empty' }));
  standIns = await serveStandIns([master, master]);
});

afterAll(() => standIns.close());

describe('an empty key pool (enc_keys 503)', () => {
  it('checks that need new keys are errors naming the 503 and the refill, not fails', async () => {
    const ids = ['qkd014/5.3/1', 'qkd014/5.3/2', 'qkd014/5.3/3'];
    const o = await standInOutcomes(standIns.urls, ids);
    for (const id of ids) {
      expect(o.get(id), id).toMatchObject({ outcome: 'error', message: expect.stringMatching(/answered 503, it has no key material to serve \("not enough key material: the key pool is empty"\); let its key pool refill/) });
    }
  });

  it('a 503 from dec_keys for keys the master already holds is a finding (fail), not an empty pool', async () => {
    // enc_keys serves; dec_keys on the slave's KME answers 503.
    const [master, slave] = standInPair(STAND_IN_STATUS);
    const withholding = await serveStandIns([master, (req, res) => (req.url?.includes('/dec_keys') ? sendJson(res, 503, { message: 'busy' }) : slave(req, res))]);
    try {
      const o = await standInOutcomes(withholding.urls, ['qkd014/5.4/1']);
      expect(o.get('qkd014/5.4/1')).toMatchObject({ outcome: 'fail', message: expect.stringMatching(/expected 200, got 503/) });
    } finally {
      await withholding.close();
    }
  });
});
