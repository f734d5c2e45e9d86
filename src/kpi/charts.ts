// The KPI charts for the report, as hand-built SVG like src/sites/timeline-svg.ts (no chart library is a
// dependency): latency percentiles per scenario (log scale), request and key rates over time, and the
// pool draining with 200/503 answers over time during exhaustion. Each function returns undefined when
// its phase has no figures.
import type { KpiFigures, PhaseFigures } from './scenarios.ts';

const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const W = 900;

interface Series {
  name: string;
  colour: string;
  points: Array<[number, number]>;
  /** Drawn as bars of this width (x units) instead of a line. */
  bars?: number;
  /** Plotted against the right axis (its own scale, e.g. keys beside answers/s). */
  right?: boolean;
}

interface ChartExtras {
  /** Dashed vertical marks. */
  marks?: Array<{ x: number; label: string }>;
  /** Shaded x ranges (e.g. a warm-up excluded from the figures). */
  shades?: Array<{ from: number; to: number; label: string }>;
  /** Label of the right axis; required when a series is `right`. */
  rightLabel?: string;
}

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return ([1, 2, 2.5, 5, 10].find((m) => m * p >= v) ?? 10) * p;
}

const tick = (v: number) => (v >= 1_000 ? v.toLocaleString('en-US', { maximumFractionDigits: 0 }) : String(+v.toPrecision(3)));

/** A line/bar chart over a linear x (seconds) and y axis, with an optional right y axis of its own scale. */
function xyChart(title: string, xLabel: string, yLabel: string, series: Series[], extras: ChartExtras = {}): string {
  const { marks = [], shades = [], rightLabel } = extras;
  const hasRight = series.some((s) => s.right);
  const left = 70;
  const right = hasRight ? 80 : 20;
  const top = 40;
  const H = 320;
  const bottom = H - 60;
  const all = series.flatMap((s) => s.points);
  const xMax = Math.max(1e-9, ...all.map(([x]) => x), ...marks.map((m) => m.x), ...shades.map((m) => m.to));
  const yMax = niceMax(Math.max(0, ...series.filter((s) => !s.right).flatMap((s) => s.points.map(([, y]) => y))));
  const rMax = niceMax(Math.max(0, ...series.filter((s) => s.right).flatMap((s) => s.points.map(([, y]) => y))));
  const x = (v: number) => left + (v / xMax) * (W - left - right);
  const yOf = (max: number) => (v: number) => bottom - (v / max) * (bottom - top);
  const y = yOf(yMax);
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`];
  out.push(`<text x="${left}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`);
  for (const sh of shades) out.push(`<rect class="shade" x="${x(sh.from).toFixed(1)}" y="${top}" width="${Math.max(0, x(sh.to) - x(sh.from)).toFixed(1)}" height="${bottom - top}" fill="#9e9e9e" opacity="0.18"><title>${esc(sh.label)}</title></rect><text x="${(x(sh.from) + 3).toFixed(1)}" y="${bottom - 6}" font-size="10" fill="#555">${esc(sh.label)}</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    out.push(`<line x1="${left}" x2="${W - right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/><text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${tick(v)}</text>`);
    if (hasRight) {
      const r = (rMax * i) / 4;
      out.push(`<text class="right-tick" x="${W - right + 6}" y="${(yOf(rMax)(r) + 4).toFixed(1)}">${tick(r)}</text>`);
    }
  }
  out.push(`<line x1="${left}" x2="${W - right}" y1="${bottom}" y2="${bottom}" stroke="#333"/>`);
  const step = niceMax(xMax / 6);
  for (let v = 0; v <= xMax + 1e-9; v += step) {
    out.push(`<text x="${x(v).toFixed(1)}" y="${bottom + 15}" text-anchor="middle">${+v.toPrecision(3)}</text>`);
  }
  out.push(`<text x="${(left + W - right) / 2}" y="${bottom + 32}" text-anchor="middle" fill="#555">${esc(xLabel)}</text>`);
  out.push(`<text x="14" y="${(top + bottom) / 2}" transform="rotate(-90 14 ${(top + bottom) / 2})" text-anchor="middle" fill="#555">${esc(yLabel)}</text>`);
  if (hasRight) out.push(`<text class="right-label" x="${W - 10}" y="${(top + bottom) / 2}" transform="rotate(90 ${W - 10} ${(top + bottom) / 2})" text-anchor="middle" fill="#555">${esc(rightLabel ?? '')}</text>`);
  for (const m of marks) out.push(`<line x1="${x(m.x).toFixed(1)}" x2="${x(m.x).toFixed(1)}" y1="${top}" y2="${bottom}" stroke="#000" stroke-dasharray="3 3" opacity="0.5"/><text x="${(x(m.x) + 3).toFixed(1)}" y="${top + 10}" font-size="10">${esc(m.label)}</text>`);
  for (const s of series) {
    const sy = s.right ? yOf(rMax) : y;
    if (s.bars) {
      const bw = Math.max(1, x(s.bars) - x(0) - 1);
      for (const [px, py] of s.points) out.push(`<rect x="${x(px).toFixed(1)}" y="${sy(py).toFixed(1)}" width="${bw.toFixed(1)}" height="${(bottom - sy(py)).toFixed(1)}" fill="${s.colour}" opacity="0.7"><title>${esc(`${s.name}: ${py} at ${px} s`)}</title></rect>`);
    } else if (s.points.length) {
      out.push(`<polyline data-series="${esc(s.name)}" fill="none" stroke="${s.colour}" stroke-width="2" points="${s.points.map(([px, py]) => `${x(px).toFixed(1)},${sy(py).toFixed(1)}`).join(' ')}"/>`);
    }
  }
  let lx = left;
  for (const s of series) {
    out.push(`<rect x="${lx}" y="${H - 18}" width="10" height="10" fill="${s.colour}"/><text x="${lx + 14}" y="${H - 9}">${esc(s.name)}</text>`);
    lx += 30 + s.name.length * 6.5;
  }
  out.push('</svg>');
  return out.join('\n');
}

/** Charts stacked into one SVG, each a nested <svg> panel. */
function stack(panels: string[]): string {
  let y = 0;
  const inner: string[] = [];
  for (const p of panels) {
    const h = Number(/height="(\d+)"/.exec(p)![1]);
    inner.push(p.replace('<svg xmlns="http://www.w3.org/2000/svg" ', `<svg x="0" y="${y}" `));
    y += h;
  }
  return [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="sans-serif" font-size="11">`, ...inner, '</svg>'].join('\n');
}

/** Latency p50/p95/p99 per scenario, horizontal bars on a log scale (cold and warm differ by orders). */
export function latencyChart(f: KpiFigures): string | undefined {
  const rows: Array<{ label: string; p: PhaseFigures }> = [];
  const add = (label: string, p: unknown) => {
    const s = p as { state?: string } & PhaseFigures;
    if (s && (s.state === undefined || s.state === 'measured') && s.latency) rows.push({ label, p: s });
  };
  if (f.latency?.state === 'measured') {
    for (const [k, name] of [['status', 'Status'], ['enc_keys', 'enc_keys'], ['flow', 'master→slave']] as const) {
      add(`${name} warm`, f.latency[k].warm);
      add(`${name} cold TLS`, f.latency[k].cold);
    }
  }
  if (f.capacity?.state === 'measured') add('Status at capacity', f.capacity);
  if (f.supply?.state === 'measured') add('enc_keys at full supply', f.supply);
  if (f.concurrency?.state === 'measured') add(`flow, ${f.concurrency.clients} clients`, f.concurrency);
  if (f.hol?.state === 'measured') {
    add('Status unloaded (HOL)', f.hol.unloaded.status);
    add('Status beside large (HOL)', f.hol.loaded.status);
    add('enc_keys unloaded (HOL)', f.hol.unloaded.enc_keys);
    add('enc_keys beside large (HOL)', f.hol.loaded.enc_keys);
  }
  if (!rows.length) return undefined;
  const left = 190;
  const right = 80;
  const top = 44;
  const rowH = 22;
  const H = top + rows.length * rowH + 50;
  const lo = Math.max(0.01, Math.min(...rows.map((r) => r.p.latency!.p50)) / 2);
  const hi = Math.max(...rows.map((r) => r.p.latency!.p99)) * 1.5;
  const [l0, l1] = [Math.floor(Math.log10(lo)), Math.ceil(Math.log10(hi))];
  const x = (v: number) => left + ((Math.log10(Math.max(v, 10 ** l0)) - l0) / (l1 - l0)) * (W - left - right);
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`];
  out.push(`<text x="10" y="18" font-size="13" font-weight="bold">Key-delivery latency per scenario (ms, log scale)</text>`);
  for (let e = l0; e <= l1; e++) out.push(`<line x1="${x(10 ** e).toFixed(1)}" x2="${x(10 ** e).toFixed(1)}" y1="${top - 6}" y2="${H - 40}" stroke="#ddd"/><text x="${x(10 ** e).toFixed(1)}" y="${H - 28}" text-anchor="middle">${10 ** e >= 1 ? 10 ** e : (10 ** e).toPrecision(1)}</text>`);
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const l = r.p.latency!;
    out.push(`<text x="${left - 8}" y="${y + 13}" text-anchor="end">${esc(r.label)}</text>`);
    out.push(`<rect x="${left}" y="${y + 2}" width="${(x(l.p99) - left).toFixed(1)}" height="14" fill="#90caf9"><title>p99 ${l.p99} ms</title></rect>`);
    out.push(`<rect x="${left}" y="${y + 2}" width="${(x(l.p95) - left).toFixed(1)}" height="14" fill="#42a5f5"><title>p95 ${l.p95} ms</title></rect>`);
    out.push(`<rect x="${left}" y="${y + 2}" width="${(x(l.p50) - left).toFixed(1)}" height="14" fill="#1565c0"><title>p50 ${l.p50} ms</title></rect>`);
    out.push(`<text x="${(x(l.p99) + 4).toFixed(1)}" y="${y + 13}" fill="#333" font-size="10">${l.p50} / ${l.p95} / ${l.p99}</text>`);
  });
  out.push(`<text x="10" y="${H - 8}" fill="#555" font-size="10">bars: p50 (dark) · p95 · p99 (light), labels p50 / p95 / p99 ms, samples: successful requests only</text>`);
  out.push('</svg>');
  return out.join('\n');
}

const perS = (n: number, bucketMs: number) => Math.round((n * 1000) / bucketMs);

/** Status answers/s (HTTP capacity) and keys/s (key supply) over each phase's time; the warm-up shaded. */
export function rateChart(f: KpiFigures): string | undefined {
  const series: Series[] = [];
  const shades = new Map<number, string[]>();
  const warm = (w: number | undefined, what: string) => {
    if (w && w > 0) shades.set(w, [...(shades.get(w) ?? []), what]);
  };
  if (f.capacity?.state === 'measured') {
    const c = f.capacity;
    series.push({ name: 'Status answers/s (HTTP capacity)', colour: '#1565c0', points: c.timeline.map((b) => [b.t, perS(b.ok, c.bucket_ms)]) });
    warm(c.warmup_s, 'capacity');
  }
  if (f.supply?.state === 'measured') {
    const s = f.supply;
    series.push({ name: 'keys/s (key supply)', colour: '#2e7d32', points: s.timeline.map((b) => [b.t, perS(b.keys, s.bucket_ms)]) });
    series.push({ name: 'enc_keys 503/s', colour: '#d32f2f', points: s.timeline.map((b) => [b.t, perS(b.s503, s.bucket_ms)]) });
    warm(s.warmup_s, 'supply');
  }
  if (!series.length) return undefined;
  return xyChart('Rate over time: HTTP capacity (Status) and key supply (enc_keys, 1 key each)', 's since the phase started', 'per second', series, {
    shades: [...shades].map(([to, what]) => ({ from: 0, to, label: `warm-up, not counted (${what.join(', ')})` })),
  });
}

/**
 * The pool draining and the answers on the emptied pool (answers/s on the left axis, keys in the pool
 * on the right), then the refill after consumption stops on its own scale: a pool refilled by a few
 * keys/s is flat beside the full pool it was drained from.
 */
export function exhaustionChart(f: KpiFigures): string | undefined {
  const e = f.exhaustion;
  if (e?.state !== 'measured') return undefined;
  const c = e.continuity;
  const b = c.bucket_ms / 1000;
  const pool = 'keys in the pool (stored_key_count)';
  const drain = xyChart(
    'Exhaustion: the pool drains, then answers on the emptied pool',
    's since the drain started',
    'answers per second',
    [
      { name: '200/s (key served)', colour: '#2e7d32', bars: b / 2, points: c.timeline.map((x) => [c.started_s + x.t, perS(x.ok, c.bucket_ms)]) },
      { name: '503/s (pool empty)', colour: '#d32f2f', bars: b / 2, points: c.timeline.map((x) => [c.started_s + x.t + b / 2, perS(x.s503, c.bucket_ms)]) },
      { name: 'keys in the pool (right axis)', colour: '#6a1b9a', right: true, points: e.level.map((p) => [p.t, p.stored]) },
    ],
    {
      rightLabel: pool,
      marks: [
        { x: e.drain.time_to_first_503_s, label: 'first 503' },
        { x: e.recovery.started_s, label: 'consumption stops' },
      ],
    },
  );
  const after = e.level.filter((p) => p.t >= e.recovery.started_s).map((p): [number, number] => [Math.round((p.t - e.recovery.started_s) * 1000) / 1000, p.stored]);
  if (after.length < 2) return drain;
  const refill = xyChart(
    `Recovery: the pool refilling after consumption stops${e.recovery.refill_keys_per_s !== undefined ? ` (${e.recovery.refill_keys_per_s} keys/s)` : ''}`,
    's since consumption stopped',
    pool,
    [{ name: 'keys in the pool', colour: '#6a1b9a', points: after }],
    e.recovery.recovered && e.recovery.recovery_s !== undefined ? { marks: [{ x: e.recovery.recovery_s, label: 'a key is served again' }] } : {},
  );
  return stack([drain, refill]);
}

/** Soak: p95 per window and harness RSS. */
export function soakChart(f: KpiFigures): string | undefined {
  const s = f.soak;
  if (s?.state !== 'measured') return undefined;
  return xyChart('Soak: master→slave p95 (ms) and harness RSS (MiB) per window', 's since the soak started', 'ms · MiB', [
    { name: 'flow p95 (ms)', colour: '#1565c0', points: s.windows.filter((w) => w.p95 !== undefined).map((w) => [w.t, w.p95!]) },
    { name: 'harness RSS (MiB)', colour: '#ef6c00', points: s.windows.map((w) => [w.t, w.rss_mb]) },
  ]);
}

/** Every chart the figures allow, by file name. */
export function kpiCharts(f: KpiFigures): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (name: string, svg: string | undefined) => {
    if (svg) out[name] = svg;
  };
  add('latency.svg', latencyChart(f));
  add('rate.svg', rateChart(f));
  add('exhaustion.svg', exhaustionChart(f));
  add('soak.svg', soakChart(f));
  return out;
}
