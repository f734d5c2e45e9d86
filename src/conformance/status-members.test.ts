// The minimal cases of issue 9 ("one bad field must not blind the whole run"), against a stand-in KME that
// answers only Status and one 256-bit key for GET enc_keys: one invalid Status member is qkd014/5.2/1's
// finding (and leaves 5.2/3 open, naming the member); JSON nulls for optional members are qkd014/6/1's.
// Either way qkd014/5.3/3 passes.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendJson, serveStandIns, standInOutcomes, STAND_IN_STATUS } from './testing/stand-in.ts';

const STATUS = STAND_IN_STATUS;

let shape: 'bad-member' | 'nulls' = 'bad-member';
let standIns: Awaited<ReturnType<typeof serveStandIns>>;

beforeAll(async () => {
  standIns = await serveStandIns([(req, res) => {
    const json = (status: number, body: unknown): void => sendJson(res, status, body);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method === 'GET' && path === '/api/v1/keys/SAE_B/status') return json(200, shape === 'bad-member' ? { ...STATUS, target_KME_ID: 0 } : { ...STATUS, status_extension: null });
    if (req.method === 'GET' && path === '/api/v1/keys/SAE_B/enc_keys') {
      const key = { key_ID: randomUUID(), key: randomBytes(32).toString('base64') };
      return json(200, shape === 'bad-member' ? { keys: [key] } : { keys: [{ ...key, key_ID_extension: null, key_extension: null }], key_container_extension: null });
    }
    json(400, { message: 'not in this stand-in' });
  }]);
});

afterAll(() => standIns.close());

const outcomes = (ids: string[], profile: 'strict' | 'lenient') => standInOutcomes(standIns.urls, ids, profile);

describe('one bad Status member, or JSON nulls, do not blind the run', () => {
  it('target_KME_ID: 0 fails qkd014/5.2/1 once, leaves 5.2/3 open naming the member, and 5.3/3 passes', async () => {
    shape = 'bad-member';
    const o = await outcomes(['qkd014/5.2/1', 'qkd014/5.2/2', 'qkd014/5.2/3', 'qkd014/5.2/4', 'qkd014/5.3/3'], 'strict');
    expect(o.get('qkd014/5.2/1')).toMatchObject({ outcome: 'fail', message: expect.stringMatching(/target_KME_ID/) });
    expect(o.get('qkd014/5.2/3')).toMatchObject({ outcome: 'error', message: expect.stringMatching(/source_KME_ID "KME_A" equals the profile's kme_id of KME A; target_KME_ID not checked: GET status answered it invalid \(number/) });
    expect(o.get('qkd014/5.2/2')?.outcome).toBe('pass');
    expect(o.get('qkd014/5.2/4')?.outcome).toBe('pass');
    expect(o.get('qkd014/5.3/3')).toMatchObject({ outcome: 'pass' });
  });

  it('null optional members leave Status and key checks judged: 5.2/1 and 5.3/3 pass (lenient)', async () => {
    shape = 'nulls';
    const o = await outcomes(['qkd014/5.2/1', 'qkd014/5.2/3', 'qkd014/5.3/3'], 'lenient');
    expect([...o.values()].map((x) => x.outcome)).toEqual(['pass', 'pass', 'pass']);
  });
});
