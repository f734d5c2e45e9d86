// The simulated QKD link and the pool: identical bits and key_IDs at both ends from the seed alone, lanes
// that never overlap, random access that equals the sequential stream, and a pool bounded and refilled.
import { describe, expect, it } from 'vitest';
import { KeyPool } from './key-pool.ts';
import { maskBits, parseLinkSeed, QkdLink } from './qkd-link.ts';

const SEED = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';

describe('QKD link', () => {
  it('two ends with the same seed derive the same bytes and key_IDs; another seed does not', () => {
    const a = QkdLink.fromSeed(SEED).lane('KME_A', 'e1');
    const b = QkdLink.fromSeed(SEED).lane('KME_A', 'e1');
    expect(a.bytes(100, 64).equals(b.bytes(100, 64))).toBe(true);
    expect(a.keyId(100)).toBe(b.keyId(100));
    const other = QkdLink.fromSeed(SEED.replace(/^00/, '01')).lane('KME_A', 'e1');
    expect(other.bytes(100, 64).equals(a.bytes(100, 64))).toBe(false);
    expect(QkdLink.fromSeed(SEED).check).toBe(QkdLink.fromSeed(SEED).check);
    expect(QkdLink.fromSeed(SEED).check).not.toBe(QkdLink.random().check);
  });

  it('random access at any offset equals the sequential stream', () => {
    const lane = QkdLink.fromSeed(SEED).lane('KME_A', 'e1');
    const whole = lane.bytes(0, 1000);
    for (const [o, n] of [[0, 1], [1, 15], [15, 2], [16, 16], [17, 100], [999, 1]] as const) {
      expect(lane.bytes(o, n).equals(whole.subarray(o, o + n)), `${o}+${n}`).toBe(true);
    }
  });

  it('lanes of different masters or epochs differ', () => {
    const link = QkdLink.fromSeed(SEED);
    const x = link.lane('KME_A', 'e1').bytes(0, 32);
    expect(link.lane('KME_B', 'e1').bytes(0, 32).equals(x)).toBe(false);
    expect(link.lane('KME_A', 'e2').bytes(0, 32).equals(x)).toBe(false);
  });

  it('key_IDs are canonical UUIDs in version-4 layout, distinct per offset', () => {
    const lane = QkdLink.fromSeed(SEED).lane('KME_A', 'e1');
    const ids = new Set(Array.from({ length: 1000 }, (_, i) => lane.keyId(i * 32)));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('keys of odd sizes are ceil(size/8) bytes with the unused low bits zero', () => {
    const lane = QkdLink.fromSeed(SEED).lane('KME_A', 'e1');
    for (const size of [1, 7, 9, 255, 257, 259]) {
      const k = lane.key(0, size);
      expect(k.length).toBe(Math.ceil(size / 8));
      expect(k[k.length - 1]! & ((1 << ((8 - (size % 8)) % 8)) - 1)).toBe(0);
    }
    expect(maskBits(Buffer.from([0xff]), 3)[0]).toBe(0xe0);
  });

  it('refuses short or non-hex seeds', () => {
    expect(() => parseLinkSeed('abcd')).toThrow(/32 to 128 hex digits/);
    expect(() => parseLinkSeed('zz'.repeat(16))).toThrow();
  });
});

describe('key pool', () => {
  it('starts at the prefill, refills at the rate, never exceeds the capacity', () => {
    let now = 0;
    const pool = new KeyPool({ capacityBits: 1000, prefillBits: 100, rateBitsPerSecond: 10, clock: () => now });
    expect(pool.level()).toBe(100);
    now = 5000;
    expect(pool.level()).toBe(150);
    now = 1_000_000;
    expect(pool.level()).toBe(1000);
  });

  it('takes only what it has; gives back; the peer\'s reservations drain it to zero at most', () => {
    const pool = new KeyPool({ capacityBits: 1000, prefillBits: 300, rateBitsPerSecond: 0, clock: () => 0 });
    expect(pool.tryTake(301)).toBe(false);
    expect(pool.level()).toBe(300);
    expect(pool.tryTake(256)).toBe(true);
    expect(pool.keys(16)).toBe(2);
    pool.give(256);
    expect(pool.level()).toBe(300);
    pool.drain(500);
    expect(pool.level()).toBe(0);
  });
});

describe('reservation store', () => {
  it('keeps at most its capacity of keys for slaves, dropping the oldest', async () => {
    const { ReservationStore } = await import('./reservations.ts');
    const store = new ReservationStore('each-slave', 3);
    const msg = (ids: string[]) => ({ master_kme: 'KME_A', epoch: 'e', master_SAE_ID: 'SAE_A', slave_SAE_IDs: ['SAE_B'], pool_bits: 0, keys: ids.map((key_ID, i) => ({ key_ID, offset: i * 32, size: 256 })) });
    store.add(msg(['a', 'b']), ['SAE_B']);
    store.add(msg(['c', 'd']), ['SAE_B']);
    expect(store.size).toBe(3);
    expect(store.get('a')).toBeUndefined();
    expect(store.get('d')?.pending.has('SAE_B')).toBe(true);
    store.delivered('d', 'SAE_B');
    expect(store.get('d')).toBeUndefined();
  });
});
