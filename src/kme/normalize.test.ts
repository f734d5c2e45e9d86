// normalizeBody under a large container: keys with nothing to drop are shared, not copied, so a hostile
// container of 10⁶ keys is not held twice (suites/hostile); keys with a null or mistyped extension are
// copied without it, the parsed body left as it was.
import { describe, expect, it } from 'vitest';
import { normalizeBody } from './normalize.ts';

describe('normalizeBody', () => {
  it('shares clean key objects and copies only those it changes', () => {
    const clean = { key_ID: 'a', key: 'AAAA' };
    const nulled = { key_ID: 'b', key: 'BBBB', key_extension: null };
    const body = { keys: [clean, nulled] };
    const out = normalizeBody(body, 'key-container');
    const keys = (out.body as { keys: object[] }).keys;
    expect(keys[0]).toBe(clean);
    expect(keys[1]).not.toBe(nulled);
    expect(keys[1]).toEqual({ key_ID: 'b', key: 'BBBB' });
    expect(nulled).toHaveProperty('key_extension', null); // the input is not changed
    expect(out.issues.map((i) => i.kind)).toEqual(['null-optional']);
  });
});
