// Key independence (qkd014/6.3/4, 6.3/5): relations that make delivered key material computable by someone
// who should not know it — from its public key_ID, from another key of the run, or from the key's own
// first bytes — and the NIST SP 800-22 monobit frequency test over the run's pooled key bits. Pure
// functions over the keys a run received; results name key_IDs and fingerprints, never key bytes.
import { md5, sha1 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { sha3_256 } from '@noble/hashes/sha3.js';
import { fingerprint } from '../secrets/fingerprint.ts';
import { UUID_RE } from './expect.ts';

/** One distinct key of the run: its key_ID, its bytes, and the request that delivered it. */
export interface RunKey {
  key_ID: string;
  bytes: Uint8Array;
  via: string;
}

/** A relation found between a key and public data or another key (what, in words; which keys). */
export interface Relation {
  key: RunKey;
  /** The other key the relation is with (hash of another key, repeated material). */
  other?: RunKey;
  how: string;
}

interface Hash {
  name: string;
  fn: (data: Uint8Array) => Uint8Array;
}

const SHA256: Hash = { name: 'SHA-256', fn: (d) => sha256(d) };
const SHA3_256: Hash = { name: 'SHA3-256', fn: (d) => sha3_256(d) };
const SHA1: Hash = { name: 'SHA-1', fn: (d) => sha1(d) };
const MD5: Hash = { name: 'MD5', fn: (d) => md5(d) };

/** The hashes simulators have been seen to make keys with (public inputs: the key_ID). */
export const PUBLIC_HASHES: readonly Hash[] = [SHA256, SHA1, SHA3_256, MD5];
/** Hashes tried between key material (another key, or the key's own first bytes). */
export const KEY_HASHES: readonly Hash[] = [SHA256, SHA3_256];

/**
 * A relation is asserted only over at least this many bytes (a chance match has probability ≤ 2⁻⁵⁷ with
 * the last-byte masking below); shorter keys are too short to tell a relation from chance.
 */
export const MIN_JUDGED_BYTES = 8;

/** Prefix lengths (bytes) after which a key may have been extended by hashing its first bytes. */
export const PREFIX_LENGTHS: readonly number[] = [16, 20, 24, 32, 48, 64];

/** NIST SP 800-22 section 2.1: the monobit test needs n ≥ 100; the harness asks for this many bits. */
export const MONOBIT_MIN_BITS = 10_000;
/** Significance level of the monobit test: an honest KME fails it about once in a million runs. */
export const MONOBIT_ALPHA = 1e-6;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The first delivery of each key_ID that carried bytes (master and slave copies of a key count once). */
export function distinctKeys(keys: Iterable<{ key_ID: string; bytes?: Uint8Array; via: string }>): RunKey[] {
  const out = new Map<string, RunKey>();
  for (const k of keys) if (k.bytes && k.bytes.length > 0 && !out.has(k.key_ID)) out.set(k.key_ID, { key_ID: k.key_ID, bytes: k.bytes, via: k.via });
  return [...out.values()];
}

/**
 * Whether `key` starts with `candidate` — or, when the candidate is at least as long, equals its first
 * bytes — over at least MIN_JUDGED_BYTES. A key whose size is not a multiple of 8 has its unused low bits
 * zeroed (clause 6.3 leaves the padding open), so the key's last byte may match the candidate's with
 * those low bits cleared.
 */
export function startsWith(key: Uint8Array, candidate: Uint8Array): boolean {
  const n = Math.min(key.length, candidate.length);
  if (n < MIN_JUDGED_BYTES) return false;
  for (let i = 0; i < n - 1; i++) if (key[i] !== candidate[i]) return false;
  const a = key[n - 1]!;
  const b = candidate[n - 1]!;
  if (a === b) return true;
  if (n < key.length) return false; // only the key's own last byte can be masked
  for (let low = 1; low < 8; low++) if (a === (b & (0xff << low) & 0xff)) return true;
  return false;
}

/** The public byte strings a key could have been derived from: the key_ID's text (as sent, lower and upper case) and its 16 UUID bytes. */
function keyIdInputs(keyId: string): Array<{ name: string; bytes: Uint8Array }> {
  const texts = [...new Set([keyId, keyId.toLowerCase(), keyId.toUpperCase()])];
  const out = texts.map((s) => ({ name: s === keyId ? 'the key_ID string' : `the key_ID string in ${s === keyId.toLowerCase() ? 'lower' : 'upper'} case`, bytes: Buffer.from(s, 'utf8') }));
  if (UUID_RE.test(keyId)) out.push({ name: "the key_ID's 16 UUID bytes", bytes: Buffer.from(keyId.replace(/-/g, ''), 'hex') });
  return out;
}

/**
 * How the key is a common hash of its own key_ID (truncated, zero-padded at either end, or extended by a
 * hash chain — all of which start or end with the digest), or undefined.
 */
export function keyIdDerivation(k: RunKey): string | undefined {
  for (const input of keyIdInputs(k.key_ID)) {
    for (const h of PUBLIC_HASHES) {
      const d = h.fn(input.bytes);
      const what = `${h.name} of ${input.name}`;
      if (startsWith(k.bytes, d)) return k.bytes.length > d.length ? `begins with ${what}` : k.bytes.length < d.length ? `is ${what}, truncated` : `is ${what}`;
      const pad = k.bytes.length - d.length;
      if (pad > 0 && k.bytes.subarray(0, pad).every((b) => b === 0) && startsWith(k.bytes.subarray(pad), d)) return `is ${what}, zero-padded in front`;
    }
  }
  return undefined;
}

/**
 * Keys whose material repeats within the run: another key_ID with the same bytes, or a key that is the
 * first bytes of another (longer) key. Keys shorter than MIN_JUDGED_BYTES are not judged.
 */
export function repeatedMaterial(keys: readonly RunKey[]): Relation[] {
  const byHead = new Map<string, RunKey[]>();
  const head = (b: Uint8Array): string => hex(b.subarray(0, MIN_JUDGED_BYTES - 1));
  const judged = keys.filter((k) => k.bytes.length >= MIN_JUDGED_BYTES);
  for (const k of judged) byHead.set(head(k.bytes), [...(byHead.get(head(k.bytes)) ?? []), k]);
  const out: Relation[] = [];
  for (const group of byHead.values()) {
    for (let i = 0; i < group.length; i++) {
      for (let j = i + 1; j < group.length; j++) {
        const [short, long] = group[i]!.bytes.length <= group[j]!.bytes.length ? [group[i]!, group[j]!] : [group[j]!, group[i]!];
        if (!startsWith(short.bytes, long.bytes)) continue;
        out.push({ key: short, other: long, how: short.bytes.length === long.bytes.length ? 'has the same bytes as' : `is the first ${short.bytes.length} bytes of` });
      }
    }
  }
  return out;
}

/**
 * How a key's bytes after its first p bytes are a hash of those first bytes (a short random prefix
 * extended by a hash or hash chain), or undefined. Judged where at least MIN_JUDGED_BYTES follow the prefix.
 */
export function prefixExtension(k: RunKey): string | undefined {
  for (const p of PREFIX_LENGTHS) {
    if (k.bytes.length < p + MIN_JUDGED_BYTES) break;
    const prefix = k.bytes.subarray(0, p);
    for (const h of KEY_HASHES) {
      if (startsWith(k.bytes.subarray(p), h.fn(prefix))) return `continues after its first ${p} bytes with ${h.name} of them`;
    }
  }
  return undefined;
}

/**
 * Keys that begin with (or are a truncation of) a hash of another key of the run — a chain of keys, each
 * computed from the one delivered before. O(n) hashes: each key's digests are indexed by their first bytes.
 */
export function hashOfAnother(keys: readonly RunKey[]): Relation[] {
  const index = new Map<string, Array<{ from: RunKey; digest: Uint8Array; hash: string }>>();
  const head = (b: Uint8Array): string => hex(b.subarray(0, MIN_JUDGED_BYTES - 1));
  for (const from of keys) {
    if (from.bytes.length < MIN_JUDGED_BYTES) continue;
    for (const h of KEY_HASHES) {
      const digest = h.fn(from.bytes);
      const at = head(digest);
      index.set(at, [...(index.get(at) ?? []), { from, digest, hash: h.name }]);
    }
  }
  const out: Relation[] = [];
  for (const k of keys) {
    if (k.bytes.length < MIN_JUDGED_BYTES) continue;
    for (const c of index.get(head(k.bytes)) ?? []) {
      if (c.from.key_ID === k.key_ID || !startsWith(k.bytes, c.digest)) continue;
      out.push({ key: k, other: c.from, how: `${k.bytes.length > c.digest.length ? 'begins with' : 'is'} ${c.hash} of` });
    }
  }
  return out;
}

/** Complementary error function: a power series below 3, the Laplace continued fraction above (relative error below 1e-8: the p-values compared with 1e-6 are exact enough). */
export function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  if (x < 3) {
    // erf(x) = 2/√π Σ (-1)ⁿ x^(2n+1) / (n! (2n+1))
    let term = x;
    let sum = x;
    for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (-x * x) / n;
      sum += term / (2 * n + 1);
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated from the tail
  let f = x;
  for (let k = 120; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * f);
}

/** Outcome of the NIST SP 800-22 section 2.1 frequency (monobit) test. */
export interface Monobit {
  bits: number;
  ones: number;
  /** |S_n| / √n, where S_n = (#ones − #zeros). */
  sObs: number;
  /** erfc(s_obs / √2); the bits look biased when below alpha. */
  pValue: number;
}

/** The monobit test over the concatenated bits of `keys`. */
export function monobit(keys: readonly { bytes: Uint8Array }[]): Monobit {
  let bits = 0;
  let ones = 0;
  for (const k of keys) {
    bits += k.bytes.length * 8;
    for (const byte of k.bytes) ones += POPCOUNT[byte]!;
  }
  return monobitOf(bits, ones);
}

/** The monobit test from the counts: `bits` in all, `ones` of them set. */
export function monobitOf(bits: number, ones: number): Monobit {
  const sObs = bits ? Math.abs(2 * ones - bits) / Math.sqrt(bits) : 0;
  return { bits, ones, sObs, pValue: erfc(sObs / Math.SQRT2) };
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, b) => {
  let n = 0;
  for (let x = b; x; x &= x - 1) n++;
  return n;
});

/** A key named for a report: its key_ID, the fingerprint of its bytes, and where it came from. */
export function describeKey(k: RunKey): string {
  return `key_ID ${k.key_ID} (${fingerprint(k.bytes)}, ${k.bytes.length * 8} bits, from ${k.via})`;
}

/** Up to `max` relations in words, and how many more there were. */
export function describeRelations(found: readonly Relation[], max = 3): string {
  const shown = found.slice(0, max).map((r) => `${describeKey(r.key)} ${r.how}${r.other ? ` ${describeKey(r.other)}` : ''}`);
  return `${shown.join('; ')}${found.length > max ? `; and ${found.length - max} more` : ''}`;
}
