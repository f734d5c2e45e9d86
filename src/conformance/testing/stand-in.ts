// Stand-in KMEs for tests of the verdict rules: plain-HTTP servers that answer exactly the shape a test
// needs (one bad member, a null, a 200 head that breaks off…), and the outcomes of chosen checks run
// against them in process. Real HTTP, no TLS: clause 4 is not what these tests judge.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { parseTargetProfile } from '../../target/load.ts';
import { requirement } from '../catalogue.ts';
import { evaluate } from '../check.ts';
import { targetFromProfile } from '../context.ts';
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

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

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
