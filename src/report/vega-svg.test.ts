// The chart renderer: a Vega-Lite spec becomes a standalone SVG with one item per datum, text from the
// data or the spec is escaped (a label "<script>" is text, not markup), a spec Vega-Lite would silently
// render incompletely is refused, and thinning keeps a series' ends and extremes.
import { describe, expect, it } from 'vitest';
import { attr, markItems, textOf } from '../testing/svg-marks.ts';
import { renderVegaLite, thin } from './vega-svg.ts';

describe('renderVegaLite', () => {
  it('renders one mark item per datum into a standalone SVG document', async () => {
    const svg = await renderVegaLite({ name: 'dots', data: { values: [1, 2, 3, 4, 5].map((v) => ({ v })) }, mark: 'point', encoding: { x: { field: 'v', type: 'quantitative' } } });
    expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*<\/svg>$/);
    expect(markItems(svg, 'dots')).toHaveLength(5);
  });

  it('escapes text from the title, the data and tooltips', async () => {
    const evil = '<script>alert("x")</script> & co';
    const svg = await renderVegaLite({
      title: evil,
      layer: [
        { name: 'label', data: { values: [{ v: 1, s: evil }] }, mark: 'text', encoding: { x: { field: 'v', type: 'quantitative' }, text: { field: 's' }, tooltip: { field: 's' } } },
      ],
    });
    expect(svg).not.toContain('<script');
    const [text] = markItems(svg, 'label');
    expect(textOf(text!)).toBe('&lt;script&gt;alert("x")&lt;/script&gt; &amp; co');
    expect(attr(text!, 'aria-label')).toContain('&lt;script&gt;');
    expect(svg).toContain('>&lt;script&gt;alert("x")&lt;/script&gt; &amp; co</text>'); // the title
  });

  it('refuses a spec Vega-Lite would compile with a warning (an encoding it drops)', async () => {
    await expect(renderVegaLite({ data: { values: [{ v: 1 }] }, mark: 'point', encoding: { x: { field: 'v', type: 'quantitative' }, theta: { field: 'v', type: 'quantitative' } } })).rejects.toThrow(/Vega-Lite: .*theta/);
  });
});

describe('thin', () => {
  it('keeps short series as they are and long ones to at most max points, ends and extremes included', () => {
    const short = [{ t: 0, v: 1 }];
    expect(thin(short, (p) => p.t, (p) => p.v)).toBe(short);
    const long = Array.from({ length: 10_000 }, (_, i) => ({ t: i, v: i === 4321 ? -100 : i === 7777 ? 500 : i % 3 }));
    const out = thin(long, (p) => p.t, (p) => p.v, 100);
    expect(out).toHaveLength(100);
    expect(out[0]).toBe(long[0]);
    expect(out.at(-1)).toBe(long.at(-1));
    expect(out.map((p) => p.v)).toEqual(expect.arrayContaining([-100, 500]));
    expect(out.map((p) => p.t)).toEqual([...out.map((p) => p.t)].sort((a, b) => a - b));
  });
});
