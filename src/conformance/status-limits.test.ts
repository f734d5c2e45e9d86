// One unusable Status member blinds only the checks that truly need it (issue 9): with key_size sent as a
// string, qkd014/5.3/1 (one key *of the default key_size*) cannot be judged and says why, while the
// clause 5.4 checks, which compare what master and slave receive, are still judged. Stand-in KMEs over
// plain HTTP: A serves Status and enc_keys for SAE_B, B serves dec_keys to the slave.
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJson, sendJson as json, serveStandIns, standInOutcomes, STAND_IN_STATUS } from './testing/stand-in.ts';
import { MESSAGES } from './expect.ts';

const STATUS = { ...STAND_IN_STATUS, key_size: '256' };
const keys = new Map<string, string>(); // key_ID → base64, reserved for SAE_B
let standIns: Awaited<ReturnType<typeof serveStandIns>>;

const kmeA = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (!path.startsWith('/api/v1/keys/SAE_B/')) return json(res, 400, { message: 'not in this stand-in' });
  if (path.endsWith('/status')) return json(res, 200, STATUS);
  await readJson(req);
  const key = { key_ID: randomUUID(), key: randomBytes(32).toString('base64') };
  keys.set(key.key_ID, key.key);
  json(res, 200, { keys: [key] });
};

const kmeB = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
  const u = new URL(req.url ?? '/', 'http://x');
  if (u.pathname !== '/api/v1/keys/SAE_A/dec_keys') return json(res, 400, { message: 'not in this stand-in' });
  const ids = req.method === 'GET' ? [u.searchParams.get('key_ID') ?? ''] : ((await readJson(req)) as { key_IDs: Array<{ key_ID: string }> }).key_IDs.map((k) => k.key_ID);
  if (!ids.every((id) => keys.has(id))) return json(res, 400, { message: MESSAGES.notFound });
  json(res, 200, { keys: ids.map((id) => ({ key_ID: id, key: keys.get(id) })) });
  ids.forEach((id) => keys.delete(id));
};

beforeAll(async () => {
  standIns = await serveStandIns([kmeA, kmeB]);
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
