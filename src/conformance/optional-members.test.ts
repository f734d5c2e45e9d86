// Optional members a KME gets wrong are one data-format finding (qkd014/6/1), not a cascade (issue 9):
// `"details": null` in every Error body (what serialisers emit for an absent list), and key entries whose
// optional extension members are not objects. A stand-in KME over plain HTTP that serves one 256-bit key
// per request and refuses everything else with 400.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendJson, serveStandIns, standInOutcomes, STAND_IN_STATUS } from './testing/stand-in.ts';
import { MESSAGES } from './expect.ts';

const STATUS = STAND_IN_STATUS;

let shape: 'null-details' | 'mistyped-extensions' = 'null-details';
let standIns: Awaited<ReturnType<typeof serveStandIns>>;

beforeAll(async () => {
  standIns = await serveStandIns([(req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const json = (status: number, body: unknown): void => sendJson(res, status, body);
      const refuse = (message: string) => json(400, shape === 'null-details' ? { message, details: null } : { message });
      const u = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'GET' && u.pathname === '/api/v1/keys/SAE_B/status') return json(200, STATUS);
      if (u.pathname.endsWith('/dec_keys')) return refuse(MESSAGES.notFound);
      if (u.pathname !== '/api/v1/keys/SAE_B/enc_keys' || !['GET', 'POST'].includes(req.method ?? '')) return refuse('bad request');
      let ask: Record<string, unknown> = Object.fromEntries(u.searchParams);
      if (req.method === 'POST') {
        try {
          ask = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
        } catch {
          return refuse('bad request format');
        }
      }
      if (!ask || typeof ask !== 'object' || Object.keys(ask).some((k) => !['number', 'size'].includes(k)) || ![undefined, 1, '1'].includes(ask.number as never) || ![undefined, 256, '256'].includes(ask.size as never)) return refuse('bad request');
      const key = { key_ID: randomUUID(), key: randomBytes(32).toString('base64') };
      json(200, shape === 'mistyped-extensions' ? { keys: [{ ...key, key_ID_extension: 7, key_extension: 'none' }] } : { keys: [key] });
    });
  }]);
});

afterAll(() => standIns.close());

const outcomes = (ids: string[], profile: 'strict' | 'lenient') => standInOutcomes(standIns.urls, ids, profile);

describe('optional members judged once, under qkd014/6/1', () => {
  it('"details": null in Error bodies is one null-optional finding; the refusals themselves pass', async () => {
    shape = 'null-details';
    const strict = await outcomes(['qkd014/6/1', 'qkd014/6.5/1', 'qkd014/5.3/5', 'qkd014/5.4/4'], 'strict');
    expect(strict.get('qkd014/6/1')).toMatchObject({ outcome: 'fail', message: expect.stringMatching(/dec_keys \(400\): details is null/) });
    expect(['qkd014/6.5/1', 'qkd014/5.3/5', 'qkd014/5.4/4'].map((id) => [id, strict.get(id)?.outcome])).toEqual([
      ['qkd014/6.5/1', 'pass'],
      ['qkd014/5.3/5', 'pass'],
      ['qkd014/5.4/4', 'pass'],
    ]);
    expect((await outcomes(['qkd014/6/1'], 'lenient')).get('qkd014/6/1')).toMatchObject({ outcome: 'warn', message: expect.stringMatching(/tolerated deviation "null-optional"/) });
  });

  it('extension members that are not objects fail qkd014/6/1 (never tolerated), and the keys are still judged', async () => {
    shape = 'mistyped-extensions';
    const strict = await outcomes(['qkd014/6/1', 'qkd014/5.3/1', 'qkd014/5.3/3'], 'strict');
    expect(strict.get('qkd014/6/1')).toMatchObject({ outcome: 'fail', message: expect.stringMatching(/keys\[[*0]\]\.key_ID_extension is a number.*keys\[[*0]\]\.key_extension is a string/) });
    expect([strict.get('qkd014/5.3/1')?.outcome, strict.get('qkd014/5.3/3')?.outcome]).toEqual(['pass', 'pass']);
    expect((await outcomes(['qkd014/6/1'], 'lenient')).get('qkd014/6/1')?.outcome).toBe('fail');
  });
});
