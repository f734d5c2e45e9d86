// Get key with key IDs (clause 5.4, Key IDs clause 6.4): the slave retrieves, at its own KME, keys a
// master obtained naming it. The path names the master (ambiguity 1). 401 when the caller was not named
// as slave of a requested key — the master itself included, at either KME (M4); the exact "not found"
// message when a key is unknown, was made for another master, or was already delivered to this caller
// here. All or nothing: a request with any bad key_ID consumes nothing (ambiguity 9).
import { notFound, unauthorized } from '../errors.ts';
import type { KmeState } from '../kme-state.ts';
import { maskBits } from '../qkd-link.ts';
import type { StoredKey } from '../reservations.ts';
import type { Answer, DeliveredKey } from '../respond.ts';
import { decKeysBody, decKeysQuery, type KeyMethodInput } from './parse.ts';

/** Who takes a key: a named slave, the master (deviation master-can-redeem) or anyone (deviation dec-keys-unauthorised). */
type Taker = 'slave' | 'master' | 'outsider';

export function decKeys(k: KmeState, caller: string, master: string, input: KeyMethodInput): Answer {
  const dev = k.deviations;
  const ids = input.method === 'GET' ? decKeysQuery(input.query) : decKeysBody(input.body);
  const found: Array<{ key: StoredKey; by: Taker }> = [];
  let missing = false;
  let notNamed = false;
  for (const id of ids) {
    const held = k.store.get(id); // kept here for the slaves attached to this KME
    const made = k.issued.get(id); // made here at enc_keys: this is the master's KME
    const s = held ?? made;
    if (!s || (s.masterSae !== master && !dev.has('dec-keys-ignores-master'))) missing = true;
    else if (s.slaves.includes(caller)) {
      if (held?.pending.has(caller)) found.push({ key: held, by: 'slave' });
      else missing = true; // delivered to it here already
    } else if (caller === s.masterSae && dev.has('master-can-redeem')) {
      if (made?.pending.has(caller)) found.push({ key: made, by: 'master' });
      else missing = true;
    } else if (dev.has('dec-keys-unauthorised')) found.push({ key: s, by: 'outsider' });
    else notNamed = true;
  }
  if (notNamed) throw unauthorized(`${caller} was not named as a slave SAE when these keys were requested`);
  if (missing) throw notFound();

  const keys: DeliveredKey[] = found.map(({ key: s }) => {
    const key = k.keyBytes(s);
    if (dev.has('wrong-dec-key-bytes')) {
      for (let i = 0; i < key.length; i++) key[i] = key[i]! ^ 0xa5;
      maskBits(key, s.size);
    }
    return { key_ID: s.key_ID, key };
  });
  if (!dev.has('keys-not-removed')) {
    for (const { key: s, by } of found) {
      if (by === 'slave') k.store.delivered(s.key_ID, caller);
      else {
        // deviations master-can-redeem, dec-keys-unauthorised: the key is gone at this KME
        k.store.remove(s.key_ID);
        k.issued.remove(s.key_ID);
      }
    }
  }
  return { status: 200, keys };
}
