// One unusable Status member blinds only the checks that truly need it (issue 9): with key_size sent as a
// string, qkd014/5.3/1 (one key *of the default key_size*) cannot be judged and says why, while the
// clause 5.4 checks, which compare what master and slave receive, are still judged. Stand-in KMEs over
// plain HTTP: A serves Status and enc_keys for SAE_B, B serves dec_keys to the slave.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTargetProfile } from '../target/load.ts';
import { requirement } from './catalogue.ts';
import { evaluate } from './check.ts';
import { targetFromProfile } from './context.ts';
import { MESSAGES } from './expect.ts';
import { allChecks } from './inprocess.ts';
import { decide, type Outcome } from './verdict.ts';

const STATUS = { source_KME_ID: 'KME_A', target_KME_ID: 'KME_B', master_SAE_ID: 'SAE_A', slave_SAE_ID: 'SAE_B', key_size: '256', stored_key_count: 1000, max_key_count: 100_000, max_key_per_request: 1, max_key_size: 256, min_key_size: 256, max_SAE_ID_count: 0 };
const keys = new Map<string, string>(); // key_ID → base64, reserved for SAE_B
const servers: Server[] = [];
const urls: string[] = [];

const json = (res: ServerResponse, status: number, body: unknown) => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
}

const kmeA = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (!path.startsWith('/api/v1/keys/SAE_B/')) return json(res, 400, { message: 'not in this stand-in' });
  if (path.endsWith('/status')) return json(res, 200, STATUS);
  await body(req);
  const key = { key_ID: randomUUID(), key: randomBytes(32).toString('base64') };
  keys.set(key.key_ID, key.key);
  json(res, 200, { keys: [key] });
};

const kmeB = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
  const u = new URL(req.url ?? '/', 'http://x');
  if (u.pathname !== '/api/v1/keys/SAE_A/dec_keys') return json(res, 400, { message: 'not in this stand-in' });
  const ids = req.method === 'GET' ? [u.searchParams.get('key_ID') ?? ''] : ((await body(req)) as { key_IDs: Array<{ key_ID: string }> }).key_IDs.map((k) => k.key_ID);
  if (!ids.every((id) => keys.has(id))) return json(res, 400, { message: MESSAGES.notFound });
  json(res, 200, { keys: ids.map((id) => ({ key_ID: id, key: keys.get(id) })) });
  ids.forEach((id) => keys.delete(id));
};

beforeAll(async () => {
  for (const handler of [kmeA, kmeB]) {
    const server = createServer((req, res) => void handler(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    urls.push(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
  }
});

afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function outcomes(ids: string[]): Promise<Map<string, { outcome: Outcome; message: string }>> {
  const yaml = `name: stand-in\nkmes:\n  A: { url: '${urls[0]}', kme_id: KME_A }\n  B: { url: '${urls[1]}', kme_id: KME_B }\nsaes:\n  master: { id: SAE_A, kme: A }\n  slave: { id: SAE_B, kme: B }\nprofile: strict\ntimeout_ms: 5000\n`;
  const target = targetFromProfile(parseTargetProfile(yaml, '/stand-in.yaml'));
  try {
    const out = new Map<string, { outcome: Outcome; message: string }>();
    for (const c of (await allChecks()).filter((c) => ids.includes(c.id))) out.set(c.id, decide(requirement(c.id), 'strict', (await evaluate(c, target)).finding));
    return out;
  } finally {
    await target.close();
  }
}

describe('an invalid key_size in Status', () => {
  it('leaves 5.3/1 open naming the member, and 5.4/1, 5.4/2 and 5.4/3 judged', async () => {
    const o = await outcomes(['qkd014/5.3/1', 'qkd014/5.4/1', 'qkd014/5.4/2', 'qkd014/5.4/3']);
    expect(o.get('qkd014/5.3/1')).toMatchObject({ outcome: 'error', message: expect.stringMatching(/needs Status member key_size/) });
    expect(['qkd014/5.4/1', 'qkd014/5.4/2', 'qkd014/5.4/3'].map((id) => o.get(id)?.outcome)).toEqual(['pass', 'pass', 'pass']);
  });
});
