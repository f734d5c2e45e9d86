// The KPI charts show what the figures say: the exhaustion chart plots the pool level on its own axis
// (keys, not a scaled stand-in) and the refill after consumption stops on its own scale, so recovery is
// visible beside a pool of 100,000 keys; the rate chart shades the warm-up left out of the figures.
import { describe, expect, it } from 'vitest';
import { figures } from '../../suites/kpi/fixture.ts';
import { exhaustionChart, rateChart } from './charts.ts';
import type { KpiFigures } from './scenarios.ts';

/** y pixel coordinates of the polyline named `series` in `svg`. */
function ys(svg: string, series: string): number[] {
  const m = new RegExp(`<polyline data-series="${series.replace(/[()]/g, '\\$&')}"[^>]* points="([^"]+)"`).exec(svg);
  expect(m, `no polyline ${series}`).not.toBeNull();
  return m![1]!.split(' ').map((p) => Number(p.split(',')[1]));
}

function exhausted(): KpiFigures {
  const f = figures();
  if (f.exhaustion?.state !== 'measured') throw new Error('fixture');
  // 100,000 keys drained in 2 s, the empty pool served until 5 s, then a refill of ~4 keys/s for 5 s.
  const level = [0, 0.5, 1, 1.5, 2].map((t) => ({ t, stored: Math.round(100_000 * (1 - t / 2)) }));
  for (let t = 2.25; t < 5; t += 0.25) level.push({ t, stored: 0 });
  for (let i = 0; i <= 20; i++) level.push({ t: 5 + i / 4, stored: Math.round(i) });
  Object.assign(f.exhaustion, { level, recovery: { started_s: 5, recovered: true, recovery_s: 0.3, refill_keys_per_s: 4, observed_s: 5 } });
  f.exhaustion.drain.time_to_first_503_s = 2;
  f.exhaustion.continuity.started_s = 2;
  f.exhaustion.continuity.timeline = [0, 0.25, 0.5].map((t) => ({ t, ops: 5, ok: 1, s503: 4, failed: 0, keys: 1 }));
  return f;
}

describe('KPI charts', () => {
  it('exhaustion: the pool level has its own axis in keys (drain visible) and the refill its own panel (recovery visible)', () => {
    const svg = exhaustionChart(exhausted())!;
    expect(svg).not.toMatch(/×|scaled/); // no cryptic "level × 0.00048" axis
    expect(svg).toContain('class="right-label"');
    expect(svg).toMatch(/keys in the pool \(stored_key_count\)/);
    expect(svg).toContain('100,000'); // right-axis tick in keys
    const [drainPanel, refillPanel] = svg.split('<svg x="0" y=').slice(1);
    expect(refillPanel, 'a second panel for the refill').toBeDefined();
    // Drain: from the top of the plot to its bottom on the right axis.
    const d = ys(drainPanel!, 'keys in the pool (right axis)');
    expect(d.at(-1)! - d[0]!).toBeGreaterThan(150);
    // Refill: 0 → 20 keys spans most of its panel's height (on the drain's scale it would be < 1 px).
    const r = ys(refillPanel!, 'keys in the pool');
    expect(r[0]! - r.at(-1)!).toBeGreaterThan(150);
    expect(refillPanel).toContain('s since consumption stopped');
  });

  it('exhaustion without polls after consumption stopped is the drain panel alone', () => {
    const f = exhausted();
    if (f.exhaustion?.state === 'measured') f.exhaustion.level = f.exhaustion.level.filter((p) => p.t < 5);
    const svg = exhaustionChart(f)!;
    expect(svg).not.toContain('<svg x="0" y=');
    expect(svg).toContain('keys in the pool (right axis)');
  });

  it('rate: the warm-up left out of the capacity and supply figures is shaded and labelled', () => {
    const f = figures();
    const tl = [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75].map((t) => ({ t, ops: 100, ok: 100, s503: 0, failed: 0, keys: 100 }));
    if (f.capacity?.state === 'measured') Object.assign(f.capacity, { timeline: tl, warmup_s: 1 });
    if (f.supply?.state === 'measured') Object.assign(f.supply, { timeline: tl, warmup_s: 1 });
    const svg = rateChart(f)!;
    const shade = /<rect class="shade" x="([\d.]+)" y="\d+" width="([\d.]+)"/.exec(svg);
    expect(shade).not.toBeNull();
    expect(Number(shade![2])).toBeGreaterThan(300); // 1 s of the 1.75 s axis
    expect(svg).toContain('warm-up, not counted (capacity, supply)');
    if (f.capacity?.state === 'measured') f.capacity.warmup_s = 0;
    if (f.supply?.state === 'measured') f.supply.warmup_s = 0;
    expect(rateChart(f)).not.toContain('class="shade"');
  });
});
