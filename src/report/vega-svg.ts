// The report's pictures: Vega-Lite specs compiled to Vega and rendered to an SVG string in this process
// (no browser, no node-canvas: without it Vega estimates text widths, which only nudges label layout).
// Long series are thinned before they go in, so a chart's size and render time stay bounded.
import { createLTTB } from 'downsample';
import type { TopLevelSpec } from 'vega-lite';

export type { TopLevelSpec };

// Loaded on the first render, not with this module: importing Vega takes about half a second, which
// every CLI start (help loads all commands) and every end-to-end suite would otherwise pay.
let libs: Promise<[typeof import('vega'), typeof import('vega-lite')]> | undefined;
const load = () => (libs ??= Promise.all([import('vega'), import('vega-lite')]));

/** The look every chart of the report shares (fonts, a left-aligned title, quiet axis titles). */
export const CHART_CONFIG = { font: 'sans-serif', title: { anchor: 'start', fontSize: 13, subtitleColor: '#555' }, axis: { titleColor: '#555', titleFontWeight: 'normal' } } as const;

/** Most points one series of a chart gets: about two per pixel of a 900 px wide plot. */
export const MAX_POINTS = 2_000;

/**
 * Renders `spec` to a standalone SVG document. Text is escaped by Vega's SVG writer, so labels may hold
 * anything. A Vega-Lite compile warning (an encoding dropped, a channel the mark does not take) throws:
 * the specs are ours, so a warning is a bug that would otherwise show as a silently incomplete picture.
 */
export async function renderVegaLite(spec: TopLevelSpec): Promise<string> {
  const [{ View, None, Warn, logger, parse }, { compile }] = await load();
  const warnings: string[] = [];
  const collect = logger(Warn, undefined, (_method, _level, input) => void warnings.push(input.map(String).join(' ')));
  const compiled = compile(spec, { logger: collect }).spec;
  if (warnings.length) throw new Error(`Vega-Lite: ${warnings.join('; ')}`);
  // Runtime warnings (e.g. an empty extent) are about the data, not the spec: not worth failing a report for.
  const view = new View(parse(compiled), { renderer: 'none', logLevel: None });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * At most `max` points of an x-ordered line series, chosen by largest-triangle-three-buckets (LTTB): the
 * first and last points stay and each bucket keeps the point that most changes the line's shape, so
 * peaks and drops survive where taking every n-th point would skip them. Shorter series come back as they are.
 */
export function thin<T>(points: T[], x: (p: T) => number, y: (p: T) => number, max = MAX_POINTS): T[] {
  if (points.length <= max) return points;
  return Array.from(createLTTB<T>({ x: (p) => x(p), y: (p) => y(p) })(points, max) as ArrayLike<T>);
}
