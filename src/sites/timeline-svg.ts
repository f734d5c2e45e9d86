// A timeline picture of one run, for the report: per site a lane with the installed PSK (one colour per
// fingerprint), handshakes (ticks), probe outages (red) and forced handshakes (triangles), plus the
// rotations across both lanes. Hand-built SVG: no chart library is a dependency of this project.
import { createHash } from 'node:crypto';
import { rotations, type E2eRun } from './timeline.ts';

const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function colour(fp: string): string {
  if (fp === '(none)') return '#999';
  const h = createHash('sha256').update(fp).digest();
  return `hsl(${h[0]! * 360 / 256 | 0} ${45 + (h[1]! % 30)}% ${55 + (h[2]! % 15)}%)`;
}

export function timelineSvg(run: E2eRun, title = 'WireGuard PSK rotations'): string {
  const W = 1000;
  const left = 70;
  const right = 20;
  const laneH = 56;
  const top = 40;
  const span = Math.max(1, run.endedAt - run.startedAt);
  const x = (t: number) => left + ((Math.min(Math.max(t, run.startedAt), run.endedAt) - run.startedAt) / span) * (W - left - right);
  const H = top + run.sites.length * (laneH + 20) + 76;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  out.push(`<text x="${left}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="${W - right}" y="18" text-anchor="end" fill="#555">${esc(`${new Date(run.startedAt).toISOString()} · ${(span / 1000).toFixed(0)} s · handshakes ${run.config.handshakes}`)}</text>`);
  run.sites.forEach((site, i) => {
    const y = top + i * (laneH + 20);
    const s = run.series[site]!;
    out.push(`<text x="${left - 8}" y="${y + laneH / 2 + 4}" text-anchor="end" font-weight="bold">${esc(site)}</text>`);
    // PSK segments
    const points = [{ at: run.startedAt, fp: s.initial }, ...s.changes.map((c) => ({ at: c.at, fp: c.fp }))];
    points.forEach((p, j) => {
      const end = points[j + 1]?.at ?? run.endedAt;
      out.push(`<rect x="${x(p.at).toFixed(1)}" y="${y}" width="${Math.max(0.5, x(end) - x(p.at)).toFixed(1)}" height="${laneH / 2}" fill="${colour(p.fp)}"><title>${esc(`${site} PSK ${p.fp} from ${new Date(p.at).toISOString()}`)}</title></rect>`);
      if (x(end) - x(p.at) > 60) out.push(`<text x="${(x(p.at) + 3).toFixed(1)}" y="${y + 16}" fill="#222">${esc(p.fp.replace('sha256:', ''))}</text>`);
    });
    // probe outages
    for (const o of run.probes[site]?.outages ?? []) {
      const to = o.to ?? run.endedAt;
      out.push(`<rect x="${x(o.from).toFixed(1)}" y="${y + laneH / 2 + 4}" width="${Math.max(1, x(to) - x(o.from)).toFixed(1)}" height="10" fill="#d33"><title>${esc(`probe outage ${((to - o.from) / 1000).toFixed(1)} s, ${o.lost} lost`)}</title></rect>`);
    }
    // handshakes
    for (const h of s.handshakes) {
      const hx = x(h.at); // when it was first seen (WireGuard's own value has 1 s resolution)
      out.push(`<line x1="${hx.toFixed(1)}" x2="${hx.toFixed(1)}" y1="${y + laneH / 2 + 16}" y2="${y + laneH}" stroke="#1565c0" stroke-width="2"><title>${esc(`handshake ${new Date(h.value * 1000).toISOString()}`)}</title></line>`);
    }
    out.push(`<text x="${left - 8}" y="${y + laneH - 2}" text-anchor="end" fill="#1565c0" font-size="9">hs</text>`);
    out.push(`<text x="${left - 8}" y="${y + laneH / 2 + 13}" text-anchor="end" fill="#d33" font-size="9">outage</text>`);
  });
  const bottom = top + run.sites.length * (laneH + 20) - 14;
  let lastLabel = -Infinity;
  let row = 0;
  for (const r of rotations(run)) {
    row = x(r.start) - lastLabel < 16 ? row + 1 : 0; // stagger labels of rotations close together
    lastLabel = x(r.start);
    out.push(`<line x1="${x(r.start).toFixed(1)}" x2="${x(r.start).toFixed(1)}" y1="${top - 6}" y2="${bottom}" stroke="#000" stroke-dasharray="3 3" opacity="0.5"><title>${esc(`rotation ${r.index} ${r.fp}, ${r.skewMs === null ? 'reached one site only' : `skew ${r.skewMs} ms`}`)}</title></line>`);
    out.push(`<text x="${(x(r.start) + 2).toFixed(1)}" y="${top - 8 - row * 9}" font-size="9">r${r.index}${r.skewMs === null ? '*' : ''}</text>`);
  }
  for (const f of run.forced) out.push(`<path d="M ${x(f.at).toFixed(1)} ${bottom + 2} l -4 8 l 8 0 z" fill="${f.agreed ? '#2e7d32' : '#ef6c00'}"><title>${esc(`session expired (rekey brought forward)${f.agreed ? '' : ' while the PSKs differed'}`)}</title></path>`);
  // axis
  const ay = H - 48;
  out.push(`<text x="${left}" y="${H - 16}" fill="#555" font-size="10">colour = installed PSK (fingerprint) · red = probe outage · blue tick = handshake seen · r* = rotation that reached one site only</text>`);
  out.push(`<text x="${left}" y="${H - 4}" fill="#555" font-size="10">triangle = sessions expired by the lab, rekey brought forward (green: both sites showed the same PSK, orange: they differed)</text>`);
  out.push(`<line x1="${left}" x2="${W - right}" y1="${ay}" y2="${ay}" stroke="#333"/>`);
  const step = [5, 10, 15, 30, 60, 120, 300, 600].find((st) => span / 1000 / st <= 12) ?? 1200;
  for (let t = 0; t <= span / 1000; t += step) {
    const tx = x(run.startedAt + t * 1000);
    out.push(`<line x1="${tx.toFixed(1)}" x2="${tx.toFixed(1)}" y1="${ay}" y2="${ay + 4}" stroke="#333"/><text x="${tx.toFixed(1)}" y="${ay + 15}" text-anchor="middle">${t} s</text>`);
  }
  out.push('</svg>');
  return out.join('\n');
}
