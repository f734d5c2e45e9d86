// The picture of hsm/14: how long each object took from its generation on A until B showed it with A's
// fingerprint, one dot per object in a row per key kind and class, with the p50 and p95 of those times
// and, where the lab's agent reported them, its put → ack p50 and p95 (the tunnel round trip of one put).
// Object labels and times only: nothing of a key's value is in the figures.
import { percentile } from '../sites/timeline.ts';
import { CHART_CONFIG, renderVegaLite, type TopLevelSpec } from '../report/vega-svg.ts';

export interface ReplicatedObject {
  /** CKA_LABEL of the object (labels are the harness' own, e.g. qkdh-e2e-123-aes-0a1b2c). */
  label: string;
  /** PKCS#11 class as the inventory names it (secret-key, public-key, private-key). */
  class: string;
  /** Key kind it was made as (aes, rsa, ec). */
  kind: string;
  /** Made on A → found on B with A's fingerprint, ms. */
  ms: number;
}

export interface ReplicationLatency {
  objects: ReplicatedObject[];
  /** The primary agent's put → ack figures, when the lab has them. */
  agent?: { n: number; p50: number | null; p95: number | null } | null;
  objectsPerSecond?: number | null;
}

/** The strip chart of per-object replication latency; undefined when no object arrived. */
export async function replicationLatencyChart(r: ReplicationLatency, title = 'HSM replication latency per object (made on A → found on B)'): Promise<string | undefined> {
  if (!r.objects.length) return undefined;
  const ms = r.objects.map((o) => o.ms);
  const rules: Array<{ t: number; label: string; colour: string }> = [];
  for (const p of [50, 95]) {
    const t = percentile(ms, p)!;
    rules.push({ t, label: `p${p} ${t} ms`, colour: '#1565c0' });
  }
  for (const [p, v] of [[50, r.agent?.p50], [95, r.agent?.p95]] as const) if (typeof v === 'number') rules.push({ t: v, label: `agent put → ack p${p} ${v} ms`, colour: '#ef6c00' });
  const rows = [...new Set(r.objects.map((o) => `${o.kind} ${o.class}`))].sort();
  const x = { field: 't', type: 'quantitative' as const, title: 'ms' };
  return renderVegaLite({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: CHART_CONFIG,
    title: {
      text: title,
      subtitle: `${r.objects.length} objects${r.objectsPerSecond != null ? `, ${r.objectsPerSecond} objects/s` : ''}${r.agent ? `; agent put → ack over ${r.agent.n} puts` : ''}; made→found includes polling B's inventory`,
    },
    width: 700,
    height: { step: 28 },
    layer: [
      {
        name: 'object',
        data: { values: r.objects.map((o) => ({ t: o.ms, row: `${o.kind} ${o.class}`, label: o.label })) },
        mark: { type: 'point', filled: true, size: 50, opacity: 0.75, color: '#6a1b9a' },
        encoding: { x, y: { field: 'row', type: 'nominal', scale: { domain: rows }, title: null }, tooltip: [{ field: 'label', title: 'object' }, { field: 'row', title: 'kind, class' }, { field: 't', title: 'ms' }] },
      },
      { name: 'percentile', data: { values: rules }, mark: { type: 'rule', strokeDash: [4, 3] }, encoding: { x, color: { field: 'colour', type: 'nominal', scale: null }, tooltip: { field: 'label' } } },
      // One row per label: p50 and p95 are often a few pixels apart.
      ...rules.map((rule, i) => ({ name: `percentile_label_${i}`, data: { values: [rule] }, mark: { type: 'text', align: 'left', baseline: 'top', dx: 3, y: 2 + i * 12, fontSize: 10, color: rule.colour }, encoding: { x, text: { field: 'label' } } })),
    ],
  } as TopLevelSpec);
}
