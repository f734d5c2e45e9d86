// hsm/14's chart from synthetic figures (the suite itself needs the lab): a dot per replicated object in
// a row per kind and class, the p50/p95 rules of those times, and the agent's put → ack only when known.
import { describe, expect, it } from 'vitest';
import { attr, markItems, textOf, translate } from '../testing/svg-marks.ts';
import { replicationLatencyChart, type ReplicatedObject } from './replication-chart.ts';

const objects: ReplicatedObject[] = [
  { label: 'qkdh-e2e-1-aes-aa', class: 'secret-key', kind: 'aes', ms: 900 },
  { label: 'qkdh-e2e-1-rsa-bb', class: 'private-key', kind: 'rsa', ms: 1200 },
  { label: 'qkdh-e2e-1-rsa-bb', class: 'public-key', kind: 'rsa', ms: 1100 },
  { label: 'qkdh-e2e-1-ec-cc', class: 'private-key', kind: 'ec', ms: 1500 },
  { label: 'qkdh-e2e-1-ec-cc', class: 'public-key', kind: 'ec', ms: 1400 },
  { label: 'qkdh-e2e-1-aes-dd', class: 'secret-key', kind: 'aes', ms: 3000 },
];

describe('replicationLatencyChart', () => {
  it('a dot per object, placed by its latency, with p50 and p95 rules', async () => {
    const svg = (await replicationLatencyChart({ objects, objectsPerSecond: 1.5 }))!;
    const dots = markItems(svg, 'object');
    expect(dots).toHaveLength(objects.length);
    const x = (label: string, cls: string) => translate(dots.find((d) => attr(d, 'aria-label')!.includes(label) && attr(d, 'aria-label')!.includes(cls))!)[0];
    expect(x('aes-dd', 'secret-key')).toBeGreaterThan(2 * x('aes-aa', 'secret-key'));
    expect(markItems(svg, 'percentile')).toHaveLength(2);
    expect([0, 1].map((i) => markItems(svg, `percentile_label_${i}`).map(textOf)[0])).toEqual(['p50 1400 ms', 'p95 3000 ms']);
    expect(svg).toContain('6 objects, 1.5 objects/s');
    expect(svg).toContain('>rsa public-key</text>');
    expect(svg).not.toContain('agent put');
  });

  it("adds the agent's put → ack p50/p95 when the lab reports them", async () => {
    const svg = (await replicationLatencyChart({ objects, agent: { n: 12, p50: 35, p95: 80 } }))!;
    expect(markItems(svg, 'percentile')).toHaveLength(4);
    expect(markItems(svg, 'percentile_label_3').map(textOf)).toEqual(['agent put → ack p95 80 ms']);
    expect(await replicationLatencyChart({ objects, agent: { n: 0, p50: null, p95: null } })).not.toContain('agent put → ack p50');
  });

  it('no chart when no object arrived', async () => {
    expect(await replicationLatencyChart({ objects: [] })).toBeUndefined();
  });
});
