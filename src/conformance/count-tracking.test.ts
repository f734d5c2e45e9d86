// The decision rule of qkd014/5.2/5: faithful counts at any refill rate never fail, constant and random
// counts always do (or are undecided only when the pool is capped), and every verdict says why.
import { describe, expect, it } from 'vitest';
import { judgeCountTracking, refillBound, type CountDelivery, type CountSample, type TrackingEvidence } from './count-tracking.ts';

/** A simulated KME: pool refilled at `perMs` keys per ms up to `max`, or a count produced by `fake`. */
function simulate(o: { perMs: number; max: number; start: number; keys: number; rounds?: number; rtt?: number; deliveryMs?: number; fake?: (i: number) => number; seed?: number }): TrackingEvidence {
  const rtt = o.rtt ?? 10;
  let now = 0;
  let level = o.start;
  let i = 0;
  const advance = (ms: number): void => {
    now += ms;
    level = Math.min(o.max, level + ms * o.perMs);
  };
  const sample = (): CountSample => {
    const sentAt = now;
    advance(rtt / 2);
    const count = o.fake ? o.fake(i++) : Math.floor(level);
    advance(rtt / 2);
    return { count, sentAt, receivedAt: now };
  };
  const quiet = (): CountSample[] => {
    const s = [sample()];
    for (let k = 0; k < 3; k++) {
      advance(120);
      s.push(sample());
    }
    return s;
  };
  const series = [quiet()];
  const deliveries: CountDelivery[] = [];
  for (let r = 0; r < (o.rounds ?? 3); r++) {
    const before = series[series.length - 1]!.at(-1)!;
    advance((o.deliveryMs ?? 40) / 2);
    level -= o.keys;
    advance((o.deliveryMs ?? 40) / 2);
    const next = quiet();
    deliveries.push({ keys: o.keys, before, after: next[0]! });
    series.push(next);
  }
  return { series, deliveries, maxKeyCount: o.max };
}

/** Deterministic pseudo-random integers in [0, max] (xorshift). */
function randomCounts(seed: number, max: number): (i: number) => number {
  let x = seed | 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % (max + 1);
  };
}

describe('judgeCountTracking', () => {
  it('a faithful count tracks at slow and moderate refill rates, even with slow deliveries', () => {
    for (const perHour of [0, 14_000, 100_000, 1_000_000]) {
      for (const deliveryMs of [5, 40, 400]) {
        const v = judgeCountTracking(simulate({ perMs: perHour / 3_600_000, max: 100_000, start: 10_000, keys: 64, deliveryMs }));
        expect(v.verdict, `${perHour}/h, ${deliveryMs} ms: ${v.reason}`).not.toBe('does-not-track');
      }
      const v = judgeCountTracking(simulate({ perMs: perHour / 3_600_000, max: 100_000, start: 10_000, keys: 64 }));
      if (perHour <= 100_000) expect(v.verdict, v.reason).toBe('tracks');
    }
  });

  it('a faithful count never fails, whatever the refill rate, the cap and the number delivered', () => {
    for (const perHour of [0, 14_000, 1e6, 1e7, 1e8, 1e10]) {
      for (const keys of [1, 8, 64, 1024]) {
        for (const start of [0, 5_000, 100_000]) {
          const v = judgeCountTracking(simulate({ perMs: perHour / 3_600_000, max: 100_000, start: Math.max(start, keys), keys }));
          expect(v.verdict, `${perHour}/h, ${keys} keys, start ${start}: ${v.reason}`).not.toBe('does-not-track');
        }
      }
    }
  });

  it('a pool kept at max_key_count by a fast refill is undecided, and says so', () => {
    const v = judgeCountTracking(simulate({ perMs: 1e10 / 3_600_000, max: 100_000, start: 100_000, keys: 64 }));
    expect(v).toMatchObject({ verdict: 'undecided', reason: expect.stringMatching(/stayed at max_key_count \(100000\).*refill outpaces/) });
  });

  it('a refill too fast against the deliveries (but below the cap) is undecided with the measured rate', () => {
    const v = judgeCountTracking(simulate({ perMs: 1e7 / 3_600_000, max: 10_000_000, start: 10_000, keys: 8 }));
    expect(v).toMatchObject({ verdict: 'undecided', reason: expect.stringMatching(/refill \(up to [\d.]+ keys\/s.*too fast/) });
  });

  it('a constant count below the cap does not track', () => {
    const v = judgeCountTracking(simulate({ perMs: 0, max: 100_000, start: 10_000, keys: 64, fake: () => 10_000 }));
    expect(v).toMatchObject({ verdict: 'does-not-track', reason: expect.stringMatching(/3 of 3 deliveries did not show.*10000 → 10000/) });
  });

  it('a random count does not track, for every one of 2,000 seeds', () => {
    for (let seed = 1; seed <= 2_000; seed++) {
      const v = judgeCountTracking(simulate({ perMs: 0.004, max: 100_000, start: 10_000, keys: 64, fake: randomCounts(seed, 100_000) }));
      expect(v.verdict, `seed ${seed}: ${v.reason}`).toBe('does-not-track');
    }
  });

  it('one refill burst hiding one delivery among three that decide is forgiven; two are not', () => {
    const s = (count: number, at: number): CountSample => ({ count, sentAt: at, receivedAt: at + 5 });
    const quiet = (count: number, at: number): CountSample[] => [s(count, at), s(count, at + 300)];
    const series = [quiet(1000, 0), quiet(1000, 400), quiet(936, 800), quiet(872, 1200)];
    const d = (i: number, after: number): CountDelivery => ({ keys: 64, before: series[i]!.at(-1)!, after: { ...series[i + 1]![0]!, count: after } });
    expect(judgeCountTracking({ series, deliveries: [d(0, 1000), d(1, 936), d(2, 872)], maxKeyCount: 100_000 }).verdict).toBe('tracks');
    const two = judgeCountTracking({ series, deliveries: [d(0, 1000), d(1, 1000), d(2, 872)], maxKeyCount: 100_000 });
    expect(two).toMatchObject({ verdict: 'does-not-track', reason: expect.stringMatching(/^2 of 3 deliveries did not show/) });
  });

  it('a fall with no deliveries is named with its numbers', () => {
    const s = (count: number, at: number): CountSample => ({ count, sentAt: at, receivedAt: at + 5 });
    const v = judgeCountTracking({ series: [[s(10, 0), s(12, 100), s(7, 200)]], deliveries: [], maxKeyCount: 100 });
    expect(v).toMatchObject({ verdict: 'does-not-track', reason: expect.stringMatching(/fell from 12 to 7 within 105 ms while this run fetched no keys/) });
  });

  it('a fall far beyond the keys delivered does not track', () => {
    const s = (count: number, at: number): CountSample => ({ count, sentAt: at, receivedAt: at + 5 });
    const v = judgeCountTracking({ series: [[s(1000, 0), s(1000, 100)], [s(500, 200), s(500, 300)]], deliveries: [{ keys: 64, before: s(1000, 100), after: s(500, 200) }], maxKeyCount: 100_000 });
    expect(v).toMatchObject({ verdict: 'does-not-track', reason: expect.stringMatching(/by 500\) while 64 key\(s\) were delivered/) });
  });

  it('the refill bound ignores series that touch the cap and rounds up by one key', () => {
    const s = (count: number, at: number): CountSample => ({ count, sentAt: at, receivedAt: at + 10 });
    expect(refillBound([[s(100, 0), s(100, 300)]], 100)).toBeUndefined();
    expect(refillBound([[s(10, 0), s(13, 110)]], 100)).toBeCloseTo(4 / 100);
  });
});
