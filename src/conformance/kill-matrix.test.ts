// The conformance suite tests itself: against the faithful mock every requirement passes in strict mode,
// and every deviation switch of the mock makes at least one named requirement fail.
import { describe, expect, it } from 'vitest';
import { DEVIATION_NAMES } from '../../mocks/kme/deviations.ts';
import { matrixRow } from './kill-matrix.ts';

describe('kill matrix', () => {
  it('the faithful mock passes every requirement in strict mode (no fail, warn or error)', async () => {
    const row = await matrixRow(undefined);
    expect({ fail: row.strictFail, errors: row.errors, warn: row.lenientWarn }).toEqual({ fail: [], errors: [], warn: [] });
  }, 120_000);

  describe.concurrent('every deviation is detected in strict mode', () => {
    for (const d of DEVIATION_NAMES) {
      it(`${d} fails at least one requirement`, async () => {
        const row = await matrixRow(d);
        expect(row.strictFail.length, `${d}: no requirement failed (errors: ${row.errors.join(', ') || 'none'})`).toBeGreaterThan(0);
      }, 120_000);
    }
  });
});
