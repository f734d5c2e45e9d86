// Shared by the mock KME tests: a pair per test file and typed/raw clients per SAE identity.
import { KmeClient } from '../../src/kme/client.ts';
import { SaeIdentity } from '../../src/kme/identity.ts';
import type { RawResponse } from '../../src/kme/transport.ts';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startMockPair, type MockPair } from './pair.ts';
import type { MockConfigInput } from './config.ts';
import type { KmeName } from './registry.ts';

/** A pool that does not refill, so counts are exact. */
export const STILL_POOL = { key_rate_per_hour: 0, prefill: 5000, max_key_count: 10000 } as const;

export interface Clients {
  close(): Promise<void>;
  /** The typed client of SAE `sae` at KME `kme` (default: the KME it is attached to). */
  of(sae: string, kme?: KmeName): KmeClient;
  /** A client with the given certificate files (e.g. a KME certificate or a bad one). */
  withFiles(saeId: string, kme: KmeName, cert?: string, key?: string): KmeClient;
}

export function clients(pair: MockPair, timeoutMs = 5000): Clients {
  const made: KmeClient[] = [];
  const make = (saeId: string, kme: KmeName, cert?: string, key?: string): KmeClient => {
    const c = new KmeClient(SaeIdentity.fromFiles({ saeId, ca: pair.ca, cert, key, kmeId: pair.kmes[kme].kmeId, timeoutMs }), pair.kmes[kme].url);
    made.push(c);
    return c;
  };
  const cache = new Map<string, KmeClient>();
  return {
    of(sae, kme) {
      const at = kme ?? pair.saes[sae]?.kme ?? 'A';
      const k = `${sae}@${at}`;
      if (!cache.has(k)) cache.set(k, make(sae, at, pair.saes[sae]!.cert, pair.saes[sae]!.key));
      return cache.get(k)!;
    },
    withFiles: make,
    async close() {
      await Promise.all(made.map((c) => c.identity.close()));
    },
  };
}

export function json(r: RawResponse): Record<string, unknown> {
  return r.json() as Record<string, unknown>;
}

export const keyBytes = (b64: string): Buffer => Buffer.from(b64, 'base64');

/**
 * A pair per test file for the deviation tests: started before the file, every deviation switched off
 * after each test, stopped after the file. `pair()` and `of(sae)` are valid inside tests only.
 */
export function deviationPair(config: MockConfigInput): Pick<Clients, 'of' | 'withFiles'> & { pair(): MockPair } {
  let pair: MockPair;
  let c: Clients;
  beforeAll(async () => {
    pair = await startMockPair({ config, log: false });
    c = clients(pair);
  });
  afterEach(() => pair.setDeviations([]));
  afterAll(async () => {
    await c.close();
    await pair.stop();
  });
  return { pair: () => pair, of: (sae, kme) => c.of(sae, kme), withFiles: (...a) => c.withFiles(...a) };
}
