// A timeline picture of one run, for the report (a Vega-Lite chart, src/report/vega-svg.ts): per site a
// lane with the installed PSK (one colour per fingerprint), one with probe outages (red) and one with
// handshakes (ticks); the rotations across all lanes (dashed, skew in the tooltip) and the forced
// handshakes (triangles) in a lane of their own. Fingerprints only: nothing else of a key is in the run.
import { createHash } from 'node:crypto';
import { CHART_CONFIG, renderVegaLite, type TopLevelSpec } from '../report/vega-svg.ts';
import { rotations, type E2eRun } from './timeline.ts';

const PLOT_W = 860;

/** One colour per fingerprint, the same in every picture (derived from the fingerprint, not its order). */
export function pskColour(fp: string): string {
  if (fp === '(none)') return '#999';
  const h = createHash('sha256').update(fp).digest();
  return `hsl(${((h[0]! * 360) / 256) | 0}, ${45 + (h[1]! % 30)}%, ${55 + (h[2]! % 15)}%)`;
}

const iso = (ms: number) => new Date(ms).toISOString();

export async function timelineSvg(run: E2eRun, title = 'WireGuard PSK rotations'): Promise<string> {
  const spanMs = Math.max(1, run.endedAt - run.startedAt);
  const s = (t: number) => Math.round(Math.min(Math.max(t, run.startedAt), run.endedAt) - run.startedAt) / 1000;
  const lane = (site: string, what: 'PSK' | 'outage' | 'handshake') => `${site} · ${what}`;
  const forcedLane = 'forced handshake';
  const lanes = ['rotations', ...run.sites.flatMap((site) => [lane(site, 'PSK'), lane(site, 'outage'), lane(site, 'handshake')]), ...(run.forced.length || run.config.handshakes === 'forced' ? [forcedLane] : [])];
  // A fingerprint is written on its segment when the segment is wide enough for it (about 60 px).
  const labelMinMs = (spanMs * 60) / PLOT_W;

  const segments = run.sites.flatMap((site) => {
    const series = run.series[site]!;
    const points = [{ at: run.startedAt, fp: series.initial }, ...series.changes.map((c) => ({ at: c.at, fp: c.fp }))];
    return points.map((p, j) => {
      const end = points[j + 1]?.at ?? run.endedAt;
      return { lane: lane(site, 'PSK'), t: s(p.at), t2: s(end), fp: p.fp, colour: pskColour(p.fp), label: end - p.at > labelMinMs ? p.fp.replace('sha256:', '') : '', from: iso(p.at) };
    });
  });
  const outages = run.sites.flatMap((site) =>
    (run.probes[site]?.outages ?? []).map((o) => {
      const to = o.to ?? run.endedAt;
      return { lane: lane(site, 'outage'), t: s(o.from), t2: s(to), what: `probe outage ${((to - o.from) / 1000).toFixed(1)} s, ${o.lost} lost${o.to === null ? ' (still open at the end)' : ''}` };
    }),
  );
  // When each handshake was first seen (WireGuard's own value has 1 s resolution: it is in the tooltip).
  const handshakes = run.sites.flatMap((site) => run.series[site]!.handshakes.map((h) => ({ lane: lane(site, 'handshake'), t: s(h.at), what: `handshake ${iso(h.value * 1000)}` })));
  let lastAt = -Infinity;
  let row = 0;
  const rots = rotations(run).map((r) => {
    // Labels of rotations closer than ~16 px are staggered over three rows.
    row = ((r.start - lastAt) * PLOT_W) / spanMs < 16 ? (row + 1) % 3 : 0;
    lastAt = r.start;
    return { t: s(r.start), row, label: `r${r.index}${r.skewMs === null ? '*' : ''}`, what: `rotation ${r.index} ${r.fp}, ${r.skewMs === null ? 'reached one site only' : `skew ${r.skewMs} ms`}` };
  });
  const forced = run.forced.map((f) => ({ lane: forcedLane, t: s(f.at), colour: f.agreed ? '#2e7d32' : '#ef6c00', what: `session expired (rekey brought forward)${f.agreed ? '' : ' while the PSKs differed'}` }));

  const x = { field: 't', type: 'quantitative' as const, title: 's since the run started', scale: { domain: [0, spanMs / 1000], nice: false } };
  const y = { field: 'lane', type: 'nominal' as const, scale: { domain: lanes }, title: null, axis: { labelFontWeight: 'bold' as const, labelLimit: 240 } };
  const tooltip = { field: 'what', type: 'nominal' as const };
  const layers: unknown[] = [
    { name: 'psk', data: { values: segments }, mark: { type: 'bar', height: { band: 0.9 } }, encoding: { x, x2: { field: 't2' }, y, color: { field: 'colour', type: 'nominal', scale: null }, tooltip: [{ field: 'fp', title: 'PSK' }, { field: 'lane' }, { field: 'from' }] } },
    { name: 'psk_label', data: { values: segments.filter((g) => g.label) }, mark: { type: 'text', align: 'left', dx: 3, fontSize: 10, color: '#222' }, encoding: { x, y, text: { field: 'label' } } },
  ];
  if (outages.length) layers.push({ name: 'outage', data: { values: outages }, mark: { type: 'bar', color: '#d33', height: { band: 0.6 }, minBandSize: 1.5 }, encoding: { x, x2: { field: 't2' }, y, tooltip } });
  if (handshakes.length) layers.push({ name: 'handshake', data: { values: handshakes }, mark: { type: 'tick', color: '#1565c0', thickness: 2 }, encoding: { x, y, tooltip } });
  if (rots.length) {
    layers.push({ name: 'rotation', data: { values: rots }, mark: { type: 'rule', strokeDash: [3, 3], color: '#000', opacity: 0.5 }, encoding: { x, tooltip } });
    for (const r of [0, 1, 2]) {
      const these = rots.filter((q) => q.row === r);
      if (these.length) layers.push({ name: `rotation_label_${r}`, data: { values: these.map((q) => ({ ...q, lane: 'rotations' })) }, mark: { type: 'text', align: 'left', dx: 2, dy: (r - 1) * 7, fontSize: 9 }, encoding: { x, y, text: { field: 'label' }, tooltip } });
    }
  }
  if (forced.length) layers.push({ name: 'forced', data: { values: forced }, mark: { type: 'point', shape: 'triangle-up', filled: true, size: 70, opacity: 1 }, encoding: { x, y, color: { field: 'colour', type: 'nominal', scale: null }, tooltip } });

  return renderVegaLite({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: { ...CHART_CONFIG, title: { ...CHART_CONFIG.title, subtitleFontSize: 10 } },
    title: {
      text: title,
      subtitle: [
        `${iso(run.startedAt)} · ${(spanMs / 1000).toFixed(0)} s · handshakes ${run.config.handshakes}`,
        'colour = installed PSK (fingerprint) · red = probe outage · blue tick = handshake seen · r* = rotation that reached one site only',
        'triangle = sessions expired by the lab, rekey brought forward (green: both sites showed the same PSK, orange: they differed)',
      ],
    },
    width: PLOT_W,
    height: { step: 20 },
    layer: layers,
  } as TopLevelSpec);
}
