// Stand-in KMEs for tests of the verdict rules: plain-HTTP servers that answer exactly the shape a test
// needs (one bad member, a null, a 200 head that breaks off…), and the outcomes of chosen checks run
// against them in process. Real HTTP, no TLS: clause 4 is not what these tests judge.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { parseTargetProfile } from '../../target/load.ts';
import { requirement } from '../catalogue.ts';
import { evaluate } from '../check.ts';
import { targetFromProfile } from '../context.ts';
import { MESSAGES } from '../expect.ts';
import { allChecks } from '../inprocess.ts';
import { decide, type Outcome, type ProfileName } from '../verdict.ts';

/** A valid Status of a single-size KME (256-bit keys, one per request, no multicast). */
export const STAND_IN_STATUS = { source_KME_ID: 'KME_A', target_KME_ID: 'KME_B', master_SAE_ID: 'SAE_A', slave_SAE_ID: 'SAE_B', key_size: 256, stored_key_count: 1000, max_key_count: 100_000, max_key_per_request: 1, max_key_size: 256, min_key_size: 256, max_SAE_ID_count: 0 };

export const sendJson = (res: ServerResponse, status: number, body: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

/** The request body parsed as JSON ({} when empty). */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/**
 * A master's KME (A) and the slave's (B) sharing `keys` (key_ID → base64): A answers Status with `status`
 * and every enc_keys for SAE_B with one fresh 256-bit key; B hands each key once to dec_keys (POST or GET)
 * naming SAE_A. Requests A does not serve go to `otherwise` (default: 400).
 */
export function standInPair(status: unknown, otherwise: Handler = (_q, res) => sendJson(res, 400, { message: 'not in this stand-in' })): [Handler, Handler] {
  const keys = new Map<string, string>();
  const master: Handler = async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path.endsWith('/dec_keys') || !path.startsWith('/api/v1/keys/SAE_B/')) return otherwise(req, res);
    if (path.endsWith('/status')) return sendJson(res, 200, status);
    await readJson(req);
    const key = { key_ID: randomUUID(), key: randomBytes(32).toString('base64') };
    keys.set(key.key_ID, key.key);
    sendJson(res, 200, { keys: [key] });
  };
  const slave: Handler = async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname !== '/api/v1/keys/SAE_A/dec_keys') return sendJson(res, 400, { message: 'not in this stand-in' });
    const ids = req.method === 'GET' ? [u.searchParams.get('key_ID') ?? ''] : ((await readJson(req)) as { key_IDs: Array<{ key_ID: string }> }).key_IDs.map((k) => k.key_ID);
    if (!ids.every((id) => keys.has(id))) return sendJson(res, 400, { message: MESSAGES.notFound });
    sendJson(res, 200, { keys: ids.map((id) => ({ key_ID: id, key: keys.get(id) })) });
    ids.forEach((id) => keys.delete(id));
  };
  return [master, slave];
}

/** One plain-HTTP server per handler on 127.0.0.1: their URLs, and a close that ends every connection. */
export async function serveStandIns(handlers: Handler[]): Promise<{ urls: string[]; close(): Promise<void> }> {
  const servers: Server[] = [];
  for (const handler of handlers) {
    const server = createServer((req, res) => void handler(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
  }
  return {
    urls: servers.map((s) => `http://127.0.0.1:${(s.address() as { port: number }).port}`),
    async close() {
      for (const s of servers) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    },
  };
}

/** Outcomes of the checks named by `ids` against KME A at `urls[0]` (master SAE_A) and B at `urls[1]` (slave SAE_B). */
export async function standInOutcomes(urls: readonly string[], ids: string[], profile: ProfileName = 'strict'): Promise<Map<string, { outcome: Outcome; message: string }>> {
  const [a, b = a] = urls;
  const yaml = `name: stand-in\nkmes:\n  A: { url: '${a}', kme_id: KME_A }\n  B: { url: '${b}', kme_id: KME_B }\nsaes:\n  master: { id: SAE_A, kme: A }\n  slave: { id: SAE_B, kme: B }\nprofile: ${profile}\ntimeout_ms: 5000\n`;
  const target = targetFromProfile(parseTargetProfile(yaml, '/stand-in.yaml'));
  try {
    const out = new Map<string, { outcome: Outcome; message: string }>();
    for (const c of (await allChecks()).filter((c) => ids.includes(c.id))) out.set(c.id, decide(requirement(c.id), profile, (await evaluate(c, target)).finding));
    return out;
  } finally {
    await target.close();
  }
}
