// The refusal rule beyond clause 4 (issue 9): a request that ought to be refused but gets a 200 head,
// whose body then breaks off, was served — a `fail` of the authorisation requirement, not an `error`.
// Stand-in KMEs over plain HTTP: A serves Status and enc_keys for SAE_B, and answers the master's own
// dec_keys and every request naming another slave with a 200 head and a cut-off body; B serves the slave.
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJson, sendJson as json, serveStandIns, standInOutcomes, STAND_IN_STATUS } from './testing/stand-in.ts';
import { MESSAGES } from './expect.ts';

const STATUS = STAND_IN_STATUS;
const keys = new Map<string, string>(); // key_ID → base64, reserved for SAE_B
let standIns: Awaited<ReturnType<typeof serveStandIns>>;

/** A 200 head, the start of a key container, then the connection is destroyed. */
function servedThenCut(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': '4096' });
  res.write('{"keys":[{"key_ID":"');
  setTimeout(() => res.socket?.destroy(), 20);
}

const kmeA = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (path.endsWith('/dec_keys') || !path.startsWith('/api/v1/keys/SAE_B/')) return servedThenCut(res);
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

describe('a 200 head whose body breaks off is service, not an error', () => {
  it('the master redeeming its own key (5.4/10) and an unknown slave (5.3/19) are findings naming what followed the head', async () => {
    const o = await outcomes(['qkd014/5.4/10', 'qkd014/5.3/19']);
    expect(o.get('qkd014/5.4/10')).toMatchObject({ outcome: 'fail', message: expect.stringMatching(/^2 deviations: \(1\) POST dec_keys by the master SAE .*handed its own key \(200, then the connection was closed before the body was complete.*\) instead of 401/) });
    expect(o.get('qkd014/5.3/19')).toMatchObject({ outcome: 'warn', message: expect.stringMatching(/^3 deviations: \(1\) POST enc_keys naming the unknown slave .*: served \(200, then the connection was closed/) });
  });
});
