// Get key with key IDs (clause 5.4, Key IDs clause 6.4): the slave retrieves, at its own KME, keys a
// master obtained naming it. The path names the master (ambiguity 1). 401 when the caller was not named
// as slave of a requested key; the exact "not found" message when a key is unknown, was made for another
// master, or was already delivered to this caller here. All or nothing: a request with any bad key_ID
// consumes nothing (ambiguity 9).
import { notFound, unauthorized } from '../errors.ts';
import type { KmeState } from '../kme-state.ts';
import { maskBits } from '../qkd-link.ts';
import type { StoredKey } from '../reservations.ts';
import type { Answer, DeliveredKey } from '../respond.ts';
import { decKeysBody, decKeysQuery } from './parse.ts';

export interface DecKeysInput {
  method: 'GET' | 'POST';
  query: URLSearchParams;
  body: Buffer;
}

export function decKeys(k: KmeState, caller: string, master: string, input: DecKeysInput): Answer {
  const dev = k.deviations;
  const ids = input.method === 'GET' ? decKeysQuery(input.query) : decKeysBody(input.body);
  const found: StoredKey[] = [];
  let missing = false;
  let notNamed = false;
  for (const id of ids) {
    const s = k.store.get(id);
    if (!s || s.masterSae !== master) missing = true;
    else if (!s.slaves.includes(caller)) {
      if (dev.has('dec-keys-unauthorised')) found.push(s);
      else notNamed = true;
    } else if (!s.pending.has(caller)) missing = true;
    else found.push(s);
  }
  if (notNamed) throw unauthorized(`${caller} was not named as a slave SAE when these keys were requested`);
  if (missing) throw notFound();

  const keys: DeliveredKey[] = found.map((s) => {
    const key = k.keyBytes(s);
    if (dev.has('wrong-dec-key-bytes')) {
      for (let i = 0; i < key.length; i++) key[i] = key[i]! ^ 0xa5;
      maskBits(key, s.size);
    }
    return { key_ID: s.key_ID, key };
  });
  if (!dev.has('keys-not-removed')) {
    for (const s of found) {
      if (s.pending.has(caller)) k.store.delivered(s.key_ID, caller);
      else k.store.remove(s.key_ID); // deviation dec-keys-unauthorised: an outsider took it
    }
  }
  return { status: 200, keys };
}
