// One unusable Status member blinds only the checks that truly need it (issue 9): with key_size sent as a
// string, qkd014/5.3/1 (one key *of the default key_size*) cannot be judged and says why, while the
// clause 5.4 checks, which compare what master and slave receive, are still judged. Stand-in KMEs over
// plain HTTP: A serves Status and enc_keys for SAE_B, B serves dec_keys to the slave.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStandIns, standInOutcomes, standInPair, STAND_IN_STATUS } from './testing/stand-in.ts';

let standIns: Awaited<ReturnType<typeof serveStandIns>>;

beforeAll(async () => {
  standIns = await serveStandIns(standInPair({ ...STAND_IN_STATUS, key_size: '256' }));
});

afterAll(() => standIns.close());

const outcomes = (ids: string[]) => standInOutcomes(standIns.urls, ids);

describe('an invalid key_size in Status', () => {
  it('leaves 5.3/1 open naming the member, and 5.4/1, 5.4/2 and 5.4/3 judged', async () => {
    const o = await outcomes(['qkd014/5.3/1', 'qkd014/5.4/1', 'qkd014/5.4/2', 'qkd014/5.4/3']);
    expect(o.get('qkd014/5.3/1')).toMatchObject({ outcome: 'error', message: expect.stringMatching(/needs Status member key_size/) });
    expect(['qkd014/5.4/1', 'qkd014/5.4/2', 'qkd014/5.4/3'].map((id) => o.get(id)?.outcome)).toEqual(['pass', 'pass', 'pass']);
  });
});
