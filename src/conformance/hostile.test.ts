// The suite against hostile or broken KMEs: whatever a target sends — a body that never ends, a huge
// body, invalid JSON, a redirect elsewhere, a dropped connection — every requirement ends as an outcome
// (never a crash, never a pass it did not earn) within its deadline.
import { createServer, type Server } from 'node:https';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, type TestPki } from '../pki/test-pki.ts';
import { loadTargetProfile } from '../target/load.ts';
import { targetFromProfile } from './context.ts';
import { runInProcess } from './inprocess.ts';
import { writeMiB } from '../testing/stream.ts';

type Behaviour = (req: IncomingMessage, res: ServerResponse) => void;

const BEHAVIOURS: Record<string, Behaviour> = {
  'never-ending body': (_q, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"keys":[');
    const t = setInterval(() => res.write('{"key_ID":"x","key":"AAAA"},'), 5);
    res.on('close', () => clearInterval(t));
  },
  'huge body': (_q, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    writeMiB(res, 40);
  },
  'invalid JSON': (_q, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"keys": [ {"key_ID": "1", "key": "AAAA" ');
  },
  'redirect elsewhere': (_q, res) => {
    res.writeHead(302, { location: 'https://example.invalid/api/v1/keys/SAE_B/enc_keys' });
    res.end();
  },
  'connection dropped': (req) => req.socket.destroy(),
  'wrong types everywhere': (_q, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: 'none', source_KME_ID: 7, key_size: 'big', message: null }));
  },
};

let pki: TestPki;
const servers: Server[] = [];

beforeAll(async () => {
  pki = await createTestPki(mkdtempSync(join(tmpdir(), 'qkd-hostile-')));
});
afterAll(() => {
  for (const s of servers) s.closeAllConnections(), s.close();
});

async function hostileProfile(behaviour: Behaviour): Promise<string> {
  const server = createServer({ cert: readFileSync(pki.kmes['kme-a']!.cert), key: readFileSync(pki.kmes['kme-a']!.key), ca: readFileSync(pki.ca), requestCert: true }, behaviour);
  servers.push(server);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `https://localhost:${(server.address() as AddressInfo).port}`;
  const file = join(pki.dir, `hostile-${servers.length}.yaml`);
  const sae = (id: string, k: string): string => `{ id: ${id}, kme: ${k}, cert: ${pki.saes[id]!.cert}, key: ${pki.saes[id]!.key} }`;
  writeFileSync(
    file,
    `name: hostile\nkmes:\n  A: { url: "${url}", ca: ${pki.ca} }\n  B: { url: "${url}", ca: ${pki.ca} }\nsaes:\n  master: ${sae('SAE_A', 'A')}\n  slave: ${sae('SAE_B', 'B')}\n  outsider: ${sae('SAE_C', 'B')}\ntimeout_ms: 500\nmax_response_bytes: 1048576\nallow_exhaustion: true\n`,
  );
  return file;
}

describe('hostile targets', () => {
  for (const [name, behaviour] of Object.entries(BEHAVIOURS)) {
    it(`${name}: every requirement ends as an outcome, none passes that depends on a valid answer`, async () => {
      const target = targetFromProfile(loadTargetProfile(await hostileProfile(behaviour)), { strict: true });
      const started = Date.now();
      try {
        const findings = await runInProcess(target);
        expect(findings.size).toBeGreaterThan(40);
        for (const [id, f] of findings) expect(['pass', 'fail', 'warn', 'info', 'skip', 'error'], id).toContain(f.kind);
        // A target that never answers properly cannot deliver keys: the key requirements cannot pass.
        for (const id of ['qkd014/5.3/1', 'qkd014/5.4/1', 'qkd014/5.2/1', 'qkd014/5/1']) expect(findings.get(id)?.kind, id).not.toBe('pass');
      } finally {
        await target.close();
      }
      expect(Date.now() - started).toBeLessThan(110_000);
    }, 120_000);
  }
});
