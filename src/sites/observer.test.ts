// When an observation of N rotations has seen enough: the N-th rotation on both sites and a handshake on
// each after it, not a fixed tail during which more rotations fall in (`--rotations 1` used to observe 7).
import { describe, expect, it } from 'vitest';
import { observedEnough, type SiteSeries } from './observer.ts';

const site = (name: string, changes: Array<[string, number]>, handshakes: number[]): SiteSeries => ({
  initial: `sha256:init-${name}`,
  initialAt: 0,
  changes: changes.map(([fp, at], i) => ({ site: name, fp, at, after: at - 300, prev: i ? changes[i - 1]![0] : `sha256:init-${name}` })),
  handshakes: handshakes.map((at) => ({ site: name, at, value: Math.floor(at / 1000) })),
  traffic: [],
  samples: 1,
  seen: {},
  errors: [],
});

describe('observedEnough', () => {
  const o = { settleMs: 2_800, afterHandshakeMs: 3_000 };

  it('is reached once the N-th rotation has a handshake on both sites, plus the margins', () => {
    const series = { a: site('a', [['p1', 1_000], ['p2', 11_000]], [1_500, 11_400]), b: site('b', [['p1', 1_100], ['p2', 11_100]], [1_600, 11_500]) };
    expect(observedEnough(series, ['a', 'b'], 1, o)).toBe(Math.max(1_000 + 2_800, 1_600 + 3_000));
    expect(observedEnough(series, ['a', 'b'], 2, o)).toBe(Math.max(11_000 + 2_800, 11_500 + 3_000));
  });

  it('is not reached while the N-th rotation is missing, one-sided, or has no handshake after it on a site', () => {
    const oneSided = { a: site('a', [['p1', 1_000]], [1_500]), b: site('b', [], [1_600]) };
    expect(observedEnough(oneSided, ['a', 'b'], 1, o)).toBeNull();
    const noHandshake = { a: site('a', [['p1', 1_000]], [1_500]), b: site('b', [['p1', 1_100]], [900]) };
    expect(observedEnough(noHandshake, ['a', 'b'], 1, o)).toBeNull();
    const tooFew = { a: site('a', [['p1', 1_000]], [1_500]), b: site('b', [['p1', 1_100]], [1_600]) };
    expect(observedEnough(tooFew, ['a', 'b'], 2, o)).toBeNull();
  });
});
