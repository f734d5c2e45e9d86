// The minimal cases of issue 9 ("one bad field must not blind the whole run"), against a stand-in KME that
// answers only Status and one 256-bit key for GET enc_keys: one invalid Status member is qkd014/5.2/1's
// finding (and leaves 5.2/3 open, naming the member); JSON nulls for optional members are qkd014/6/1's.
// Either way qkd014/5.3/3 passes.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTargetProfile } from '../target/load.ts';
import { requirement } from './catalogue.ts';
import { evaluate } from './check.ts';
import { targetFromProfile } from './context.ts';
import { allChecks } from './inprocess.ts';
import { decide, type Outcome } from './verdict.ts';

const STATUS = { source_KME_ID: 'KME_A', target_KME_ID: 'KME_B', master_SAE_ID: 'SAE_A', slave_SAE_ID: 'SAE_B', key_size: 256, stored_key_count: 1000, max_key_count: 100_000, max_key_per_request: 1, max_key_size: 256, min_key_size: 256, max_SAE_ID_count: 0 };

let shape: 'bad-member' | 'nulls' = 'bad-member';
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const json = (status: number, body: unknown) => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method === 'GET' && path === '/api/v1/keys/SAE_B/status') return json(200, shape === 'bad-member' ? { ...STATUS, target_KME_ID: 0 } : { ...STATUS, status_extension: null });
    if (req.method === 'GET' && path === '/api/v1/keys/SAE_B/enc_keys') {
      const key = { key_ID: randomUUID(), key: randomBytes(32).toString('base64') };
      return json(200, shape === 'bad-member' ? { keys: [key] } : { keys: [{ ...key, key_ID_extension: null, key_extension: null }], key_container_extension: null });
    }
    json(400, { message: 'not in this stand-in' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** Outcomes of the named checks against the stand-in, in `profile`. */
async function outcomes(ids: string[], profile: 'strict' | 'lenient'): Promise<Map<string, { outcome: Outcome; message: string }>> {
  const yaml = `name: stand-in\nkmes:\n  A: { url: '${url}', kme_id: KME_A }\n  B: { url: '${url}', kme_id: KME_B }\nsaes:\n  master: { id: SAE_A, kme: A }\n  slave: { id: SAE_B, kme: B }\nprofile: ${profile}\ntimeout_ms: 5000\n`;
  const target = targetFromProfile(parseTargetProfile(yaml, '/stand-in.yaml'));
  try {
    const out = new Map<string, { outcome: Outcome; message: string }>();
    for (const c of (await allChecks()).filter((c) => ids.includes(c.id))) out.set(c.id, decide(requirement(c.id), profile, (await evaluate(c, target)).finding));
    return out;
  } finally {
    await target.close();
  }
}

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
