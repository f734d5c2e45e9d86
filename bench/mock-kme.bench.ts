// Keys delivered per second by the mock KME pair over mutual TLS with keep-alive — master enc_keys at A,
// then slave dec_keys at B, per key — against a plain Node HTTPS server (same TLS settings, same client,
// same request pattern) answering a fixed key container. Prints both rates and their ratio (target ≥ 0.5).
//
//   npx tsx bench/mock-kme.bench.ts [seconds per round, default 4] [concurrency, default 16]
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { startMockPair } from '../mocks/kme/index.ts';

const seconds = Number(process.argv[2] ?? 4);
const concurrency = Number(process.argv[3] ?? 16);

const pair = await startMockPair({ config: { key_rate_per_hour: 0, prefill: 10_000_000, max_key_count: 10_000_000 }, log: false });
const ca = readFileSync(pair.ca);
const agentFor = (sae: string) =>
  new Agent({ connections: concurrency, keepAliveTimeout: 30_000, connect: { ca, cert: readFileSync(pair.saes[sae]!.cert), key: readFileSync(pair.saes[sae]!.key), minVersion: 'TLSv1.2' } });
const master = agentFor('SAE_A');
const slave = agentFor('SAE_B');

// The baseline: a plain HTTPS server with the KME's TLS settings answering one fixed key container.
const FIXED = JSON.stringify({ keys: [{ key_ID: 'bc490419-7d60-487f-adc1-4ddcc177c139', key: 'wHHVxRwDJs3/bXd38GHP3oe4svTuRpZS0yCC7x4Ly+s=' }] });
const kmeA = pair.pki.kmes['kme-a']!;
const plain = createServer({ cert: readFileSync(kmeA.cert), key: readFileSync(kmeA.key), ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2', keepAliveTimeout: 30_000 }, (req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(FIXED) });
    res.end(FIXED);
  });
});
await new Promise<void>((ok) => plain.listen(0, '127.0.0.1', ok));
const plainUrl = `https://127.0.0.1:${(plain.address() as AddressInfo).port}`;

async function get(url: string, agent: Agent): Promise<{ keys: Array<{ key_ID: string }> }> {
  const r = await request(url, { dispatcher: agent });
  const body = (await r.body.json()) as { keys: Array<{ key_ID: string }> };
  if (r.statusCode !== 200) throw new Error(`HTTP ${r.statusCode} from ${url}`);
  return body;
}

/** Master enc_keys at `a`, slave dec_keys at `b`, from `concurrency` workers for `ms`; returns keys per second. */
async function round(a: string, b: string, ms: number): Promise<number> {
  let keys = 0;
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const e = await get(`${a}/api/v1/keys/SAE_B/enc_keys?number=1&size=256`, master);
        await get(`${b}/api/v1/keys/SAE_A/dec_keys?key_ID=${e.keys[0]!.key_ID}`, slave);
        keys++;
      }
    }),
  );
  return keys / (ms / 1000);
}

const mockRun = () => round(pair.kmes.A.url, pair.kmes.B.url, seconds * 1000);
const plainRun = () => round(plainUrl, plainUrl, seconds * 1000);

await round(plainUrl, plainUrl, 1000); // warm-up: TLS sessions, JIT
await round(pair.kmes.A.url, pair.kmes.B.url, 1000);
const rates = { mock: [] as number[], plain: [] as number[] };
for (let i = 0; i < 2; i++) {
  rates.plain.push(await plainRun());
  rates.mock.push(await mockRun());
}
const best = (xs: number[]) => Math.max(...xs);
const ratio = best(rates.mock) / best(rates.plain);
console.log(`mock KME pair   : ${best(rates.mock).toFixed(0)} keys/s (enc_keys at A + dec_keys at B over mTLS, keep-alive, concurrency ${concurrency})`);
console.log(`plain HTTPS     : ${best(rates.plain).toFixed(0)} keys/s (same requests, fixed JSON answer)`);
console.log(`ratio           : ${ratio.toFixed(2)} (target ≥ 0.5) ${ratio >= 0.5 ? 'OK' : 'BELOW TARGET'}`);

await Promise.all([master.close(), slave.close()]);
plain.closeAllConnections();
plain.close();
await pair.stop();
process.exitCode = ratio >= 0.5 ? 0 : 1;
