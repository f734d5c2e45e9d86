// The bytes a KME hands out for a key. Faithful: the lane's bytes at the key's offset (qkd-link.ts).
// Under a key-data deviation: bytes derived in the weak ways public simulators have been seen to derive
// them — from the public key_ID, by hash-extending a short random prefix, by hashing the previous key, or
// biased. Every derivation is a pure function of (lane, key_ID, offset, size), so the master's KME at
// enc_keys and the slave's KME at dec_keys compute the same bytes without sharing any state.
import { createHash } from 'node:crypto';
import type { DeviationSwitch } from './deviation-switch.ts';
import { maskBits, type Lane } from './qkd-link.ts';

/** Where a key is: its key_ID, byte offset in the master KME's lane, size in bits. */
export interface KeySource {
  key_ID: string;
  offset: number;
  size: number;
}

/** Makes the bytes of one key: a fresh buffer of ceil(size/8) bytes, unused low bits of the last byte zero. */
export type KeyMaker = (lane: Lane, k: KeySource) => Buffer;

/** key-chained restarts its chain from lane bytes every this many keys, so one key costs at most 63 hashes. */
export const CHAIN_BLOCK = 64;

/** biased-keys ORs the key's lane bytes with lane bytes this far on: far beyond any offset a run reaches. */
const BIAS_DISTANCE = 2 ** 47;

const sha256 = (data: Uint8Array): Buffer => createHash('sha256').update(data).digest();

/** `length` bytes of SHA-256(seed) ‖ SHA-256(that block) ‖ …: each block hashes the one before. */
export function sha256Chain(seed: Uint8Array, length: number): Buffer {
  const out = Buffer.alloc(length);
  let block: Uint8Array = seed;
  for (let at = 0; at < length; at += 32) {
    block = sha256(block);
    out.set(block.subarray(0, Math.min(32, length - at)), at);
  }
  return out;
}

const faithful: KeyMaker = (lane, k) => lane.key(k.offset, k.size);

/** SHA-256 chain over the key_ID's UTF-8 bytes: anyone who sees the key_ID knows the key. */
const fromKeyId: KeyMaker = (_lane, k) => maskBits(sha256Chain(Buffer.from(k.key_ID, 'utf8'), Math.ceil(k.size / 8)), k.size);

/** Up to 256 bits faithful; beyond, the first 32 (random) bytes followed by a SHA-256 chain over them. */
const prefixExtended: KeyMaker = (lane, k) => {
  const length = Math.ceil(k.size / 8);
  if (length <= 32) return faithful(lane, k);
  const prefix = lane.bytes(k.offset, 32);
  return maskBits(Buffer.concat([prefix, sha256Chain(prefix, length - 32)]), k.size);
};

/**
 * The key is the SHA-256 chain (to its length) of the key of the same size just before it in the lane, so
 * consecutive keys of one size are each a function of the one delivered before. Stateless: the chain
 * starts from the lane's bytes at the first key of each block of CHAIN_BLOCK same-size slots.
 */
const chained: KeyMaker = (lane, k) => {
  const length = Math.ceil(k.size / 8);
  const steps = Math.floor(k.offset / length) % CHAIN_BLOCK;
  let key = lane.key(k.offset - steps * length, k.size);
  for (let i = 0; i < steps; i++) key = maskBits(sha256Chain(key, length), k.size);
  return key;
};

/** OR of two independent stretches of the lane: each bit is 1 with probability 3/4. */
const biased: KeyMaker = (lane, k) => {
  const key = lane.key(k.offset, k.size);
  const other = lane.bytes(k.offset + BIAS_DISTANCE, key.length);
  for (let i = 0; i < key.length; i++) key[i] = key[i]! | other[i]!;
  return maskBits(key, k.size);
};

/**
 * The key maker under the active deviations: the lane's own bytes unless a key-data deviation is on
 * (when several are, the first of key-from-key-id, key-chained, key-prefix-extended, biased-keys wins).
 */
export function keyMaker(dev: DeviationSwitch): KeyMaker {
  if (dev.has('key-from-key-id')) return fromKeyId;
  if (dev.has('key-chained')) return chained;
  if (dev.has('key-prefix-extended')) return prefixExtended;
  if (dev.has('biased-keys')) return biased;
  return faithful;
}
