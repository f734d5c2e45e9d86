// Get key (clause 5.3, Key request clause 6.2): validates the request against the KME's limits and
// extensions, takes the bits from the shared pool and this KME's lane, has the slave's KME confirm the
// reservation over the KMS↔KMS link, and only then answers — so the slave may call dec_keys at once.
// The delivered keys are gone from this KME's pool (its lane cursor never goes back).
import { isDeepStrictEqual } from 'node:util';
import { KmeError, MESSAGES, overLimit } from '../errors.ts';
import type { KmeState } from '../kme-state.ts';
import { keyMaker } from '../key-material.ts';
import { LinkError } from '../kms-link.ts';
import { peerOf } from '../registry.ts';
import type { ReservationMessage } from '../reservations.ts';
import type { Answer, DeliveredKey } from '../respond.ts';
import { printable } from '../request-log.ts';
import { encKeysBody, encKeysQuery, type KeyMethodInput, type KeyRequest } from './parse.ts';
import { checkSlave } from './slave-check.ts';

const name40 = (n: string): string => printable(n, 100);

function checkExtensions(k: KmeState, r: KeyRequest): void {
  const supported = k.config.extensions.supported;
  if (r.extension_mandatory && !k.deviations.has('extensions-ignored')) {
    const unsupported: Array<Record<string, string>> = [];
    const unmet: Array<Record<string, string>> = [];
    for (const ext of r.extension_mandatory) {
      for (const [name, value] of Object.entries(ext)) {
        if (!Object.hasOwn(supported, name)) unsupported.push({ extension_mandatory_unsupported: `${name40(name)} is not supported` });
        else {
          const allowed = supported[name];
          if (allowed && !allowed.some((a) => isDeepStrictEqual(a, value))) unmet.push({ extension_mandatory_unmet: `${name40(name)}: the requested value cannot be met` });
        }
      }
    }
    if (unsupported.length) throw new KmeError(400, 'extension', MESSAGES.extensionUnsupported, unsupported);
    if (unmet.length) throw new KmeError(400, 'extension', MESSAGES.extensionUnmet, unmet);
  }
  if (r.extension_optional && k.config.extensions.optional_reply) {
    const unhandled = r.extension_optional.flatMap((ext) => Object.keys(ext)).filter((n) => !Object.hasOwn(supported, n));
    if (unhandled.length) throw new KmeError(400, 'extension', MESSAGES.extensionOptional, unhandled.map((n) => ({ extension_optional_unhandled: `${name40(n)} is not handled` })));
  }
}

export async function encKeys(k: KmeState, caller: string, slave: string, input: KeyMethodInput): Promise<Answer> {
  const c = k.config;
  const dev = k.deviations;
  checkSlave(k, caller, slave);
  const r = input.method === 'GET' ? encKeysQuery(input.query, dev.has('get-query-ignored')) : encKeysBody(input.body);

  const number = r.number ?? 1;
  const size = r.size ?? c.key_size;
  if (!Number.isSafeInteger(number) || number < 1 || number > c.max_key_per_request) throw overLimit(`number shall be an integer from 1 to max_key_per_request (${c.max_key_per_request})`);
  if (!Number.isSafeInteger(size) || size < c.min_key_size || size > c.max_key_size) throw overLimit(`size shall be an integer from min_key_size (${c.min_key_size}) to max_key_size (${c.max_key_size}) bits`);
  // Bits delivered per key: size itself; the rounding deviation cuts to whole bytes.
  let bits = size;
  if (size % 8 !== 0) {
    if (dev.has('odd-sizes-rounded-down')) bits = size - (size % 8);
    else if (c.odd_sizes === 'reject') throw overLimit(MESSAGES.sizeMultiple);
  }
  if (dev.has('only-256-bits') && (number !== 1 || size !== 256)) throw overLimit('only number=1 and size=256 are supported');

  const additional = r.additional_slave_SAE_IDs ?? [];
  if (additional.length > c.max_SAE_ID_count) throw overLimit(`additional_slave_SAE_IDs names ${additional.length} SAEs; max_SAE_ID_count is ${c.max_SAE_ID_count}`);
  const slaves = [slave];
  for (const id of additional) {
    checkSlave(k, caller, id, 'additional_slave_SAE_IDs entry');
    if (slaves.includes(id)) throw overLimit(`additional_slave_SAE_IDs names ${printable(id, 64)} twice (or repeats the slave of the path)`);
    slaves.push(id);
  }
  checkExtensions(k, r);

  // Take the bits: from the pool (counted in the requested size) and from this KME's lane.
  const removes = !dev.has('keys-not-removed');
  const poolBits = number * size;
  const pool = k.poolFor(slaves); // the link's pool, or this KME's own for a local pair (M12)
  if (removes ? !pool.tryTake(poolBits) : pool.level() < poolBits) {
    throw new KmeError(503, 'exhausted', `not enough key material: ${number} key(s) of ${size} bits requested, ${pool.keys(size)} available; keys are being replenished`);
  }
  const bytesPerKey = Math.ceil(bits / 8);
  const start = k.cursor;
  if (removes) k.cursor += number * bytesPerKey;
  // deviation non-uuid-key-ids-large: only what a default single-key request would not show
  const plainIds = dev.has('non-uuid-key-ids') || (dev.has('non-uuid-key-ids-large') && (number > 1 || size !== c.key_size));
  const reserved = Array.from({ length: number }, (_, i) => {
    const offset = start + i * bytesPerKey;
    let id = k.lane.keyId(dev.has('repeated-key-ids') ? i : offset);
    if (plainIds) id = id.replace(/-/g, '');
    return { key_ID: id, offset, size: bits };
  });

  const msg: ReservationMessage = {
    master_kme: k.kmeId,
    epoch: k.lane.epoch,
    master_SAE_ID: caller,
    slave_SAE_IDs: slaves,
    keys: reserved,
    pool_bits: removes ? poolBits : 0,
  };
  const local = slaves.filter((s) => k.registry.isAttached(s, k.name));
  const remote = slaves.some((s) => k.registry.isAttached(s, peerOf(k.name)));
  if (remote) {
    try {
      await k.link.reserve(msg);
    } catch (err) {
      if (removes) pool.give(poolBits); // the lane bits stay burnt: the peer may have stored them
      const why = err instanceof LinkError ? err.message : 'the KMS link failed';
      throw new KmeError(503, 'link-down', `the keys cannot be reserved at the slave's KME ${k.peerKmeId}: ${why}`);
    }
  }
  if (local.length) k.store.add(msg, local);
  k.issued.add(msg, [caller]); // so dec_keys can tell the master (401) from an unknown key_ID

  const make = keyMaker(dev);
  const keys: DeliveredKey[] = reserved.map((rk) => ({ key_ID: rk.key_ID, key: make(k.lane, rk) }));
  return { status: 200, keys };
}
