// The rekey timeline shows what the run observed, from synthetic runs (no lab): a PSK segment per
// installed fingerprint and site, coloured by fingerprint and labelled with it; handshake ticks; a probe
// outage only where there was one; a dashed rule per rotation with its skew; forced handshakes.
import { describe, expect, it } from 'vitest';
import { at, run } from '../../suites/e2e/synthetic.ts';
import { attr, markItems, rect, textOf } from '../testing/svg-marks.ts';
import { pskColour, timelineSvg } from './timeline-svg.ts';

const FP1 = 'sha256:1111aaaa';
const FP2 = 'sha256:2222bbbb';

/** 60 s; rotations at 10 s (bob 0.4 s later) and 40 s (alice only); handshakes after each. */
const twoRotations = (outage: boolean) => {
  const r = run({
    changes: { alice: [[10, FP1], [40, FP2]], bob: [[10.4, FP1]] },
    endS: 60,
    handshakes: { alice: [11, 41], bob: [11.2] },
    ...(outage ? { outages: { bob: [[20, 23]] as Array<[number, number]> } } : {}),
  });
  r.forced = [{ at: at(10.5), agreed: true }, { at: at(40.5), agreed: false }];
  return r;
};

describe('timelineSvg', () => {
  it('draws a segment per installed PSK and site, coloured and labelled by fingerprint', async () => {
    const svg = await timelineSvg(twoRotations(false), 'lab x: PSK rotations');
    const seg = markItems(svg, 'psk');
    expect(seg).toHaveLength(5); // alice: initial, FP1, FP2; bob: initial, FP1
    expect(seg.map((s) => attr(s, 'fill'))).toEqual(['init-alice', FP1, FP2, 'init-bob', FP1].map(pskColour));
    // alice's FP1 segment lasts 30 of 60 s: half the 860 px plot.
    expect(rect(seg[1]!).width).toBeCloseTo(430, 0);
    expect(markItems(svg, 'psk_label').map(textOf)).toEqual(['init-alice', '1111aaaa', '2222bbbb', 'init-bob', '1111aaaa']);
    expect(svg).toContain('>lab x: PSK rotations</text>');
    expect(svg).toContain('>bob · handshake</text>'); // lanes named per site
  });

  it('marks handshakes, rotations with their skew, and forced handshakes', async () => {
    const svg = await timelineSvg(twoRotations(false));
    expect(markItems(svg, 'handshake')).toHaveLength(3);
    const rules = markItems(svg, 'rotation');
    expect(rules).toHaveLength(2);
    expect(attr(rules[0]!, 'aria-label')).toContain(`rotation 1 ${FP1}, skew 400 ms`);
    expect(attr(rules[1]!, 'aria-label')).toContain(`rotation 2 ${FP2}, reached one site only`);
    expect(markItems(svg, 'rotation_label_0').map(textOf)).toEqual(['r1', 'r2*']);
    const forced = markItems(svg, 'forced');
    expect(forced.map((f) => attr(f, 'fill'))).toEqual(['#2e7d32', '#ef6c00']);
  });

  it('draws a probe outage only when there was one, as long as it lasted', async () => {
    expect(markItems(await timelineSvg(twoRotations(false)), 'outage')).toEqual([]);
    const svg = await timelineSvg(twoRotations(true));
    const outage = markItems(svg, 'outage');
    expect(outage).toHaveLength(1);
    expect(rect(outage[0]!).width).toBeCloseTo((3 / 60) * 860, 0);
    expect(attr(outage[0]!, 'aria-label')).toContain('probe outage 3.0 s, 1 lost');
  });

  it('writes a title and site names as text, never as markup', async () => {
    const r = twoRotations(false);
    const svg = await timelineSvg(r, '<script>alert(1)</script>');
    expect(svg).not.toContain('<script');
    expect(svg).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });
});
