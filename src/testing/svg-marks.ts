// Reading a chart rendered by src/report/vega-svg.ts back in tests: Vega writes each mark as
// <g class="mark-TYPE role-mark NAME_marks"> holding one element per item (a line series is one path),
// so a layer named in the Vega-Lite spec can be found and its items counted and measured.

/** The elements (path, line, text, with their content) of every mark named `name` (the layer's `name`). */
export function markItems(svg: string, name: string): string[] {
  const groups = [...svg.matchAll(new RegExp(`<g class="mark-[a-z]+ role-mark ${name}_marks"[^>]*>([\\s\\S]*?)</g>`, 'g'))];
  return groups.flatMap((g) => [...g[1]!.matchAll(/<(?:path|line)\b[^>]*\/>|<text\b[^>]*>[\s\S]*?<\/text>/g)].map((m) => m[0]));
}

/** An attribute of an element (entities left as written). */
export function attr(el: string, name: string): string | undefined {
  return new RegExp(`\\s${name}="([^"]*)"`).exec(el)?.[1];
}

/** The element's translate(x, y), [0, 0] without one. */
export function translate(el: string): [number, number] {
  const m = /transform="translate\(([-\d.e]+),\s*([-\d.e]+)\)"/.exec(el);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

/** The vertices of a path element's `d` (M and L commands), in its own coordinates. */
export function pathPoints(el: string): Array<[number, number]> {
  const d = attr(el, 'd') ?? '';
  return [...d.matchAll(/[ML]\s*([-\d.e]+)[,\s]([-\d.e]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

/** Position and size of a rectangle item (Vega writes a rect or bar as the path Mx,yhWvHh-WZ). */
export function rect(el: string): { x: number; y: number; width: number; height: number } {
  const m = /d="M([-\d.e]+),([-\d.e]+)h([-\d.e]+)v([-\d.e]+)h/.exec(el);
  if (!m) throw new Error(`not a rect path: ${el.slice(0, 200)}`);
  const [x, y, width, height] = m.slice(1).map(Number) as [number, number, number, number];
  return { x, y, width, height };
}

/** The text content of a text element. */
export const textOf = (el: string): string => /<text\b[^>]*>([\s\S]*?)<\/text>/.exec(el)?.[1] ?? '';
