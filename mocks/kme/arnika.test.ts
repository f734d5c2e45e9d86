// Real SAEs work unchanged: a client that, like the Arnika key-control daemon, uses only
// GET {KMS_URL}/enc_keys?number=1&size=256 and GET {KMS_URL}/dec_keys?key_ID=… with
// KMS_URL = https://host:port/api/v1/keys/<PEER_SAE_ID> and a client certificate.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockPair, type MockPair } from './index.ts';

let pair: MockPair;
beforeAll(async () => {
  pair = await startMockPair({ log: false });
});
afterAll(async () => {
  await pair.stop();
});

/** What an Arnika site is configured with: KMS_URL (naming the peer SAE) and CERTIFICATE/PRIVATE_KEY/CA_CERTIFICATE. */
function arnikaSite(sae: string, kme: 'A' | 'B', peerSae: string) {
  const files = pair.saes[sae]!;
  const agent = new Agent({ connect: { ca: readFileSync(pair.ca), cert: readFileSync(files.cert), key: readFileSync(files.key), minVersion: 'TLSv1.2' } });
  const kmsUrl = `${pair.kmes[kme].url}/api/v1/keys/${peerSae}`;
  const get = async (url: string) => {
    const r = await request(url, { dispatcher: agent });
    return { status: r.statusCode, body: (await r.body.json()) as { keys: Array<{ key_ID: string; key: string }> } };
  };
  return {
    /** Master turn: enc_keys, keys[0]. */
    master: async () => (await get(`${kmsUrl}/enc_keys?number=1&size=256`)).body.keys[0]!,
    /** Backup turn: dec_keys with the key_ID the peer sent. */
    backup: async (keyId: string) => get(`${kmsUrl}/dec_keys?key_ID=${encodeURIComponent(keyId)}`),
    close: () => agent.close(),
  };
}

describe('mock KME with an Arnika-like key-control client', () => {
  it('the master gets a key at A, the backup the same key at B; roles swap on the next interval', async () => {
    const alice = arnikaSite('SAE_A', 'A', 'SAE_B');
    const bob = arnikaSite('SAE_B', 'B', 'SAE_A');
    try {
      for (let interval = 0; interval < 4; interval++) {
        const [masterSite, backupSite] = interval % 2 === 0 ? [alice, bob] : [bob, alice];
        const key = await masterSite.master();
        expect(Buffer.from(key.key, 'base64')).toHaveLength(32);
        const got = await backupSite.backup(key.key_ID);
        expect(got.status).toBe(200);
        expect(got.body.keys[0]).toEqual(key);
        // Arnika retries on failure; a replay must not succeed.
        expect((await backupSite.backup(key.key_ID)).status).toBe(400);
      }
    } finally {
      await Promise.all([alice.close(), bob.close()]);
    }
  });
});
