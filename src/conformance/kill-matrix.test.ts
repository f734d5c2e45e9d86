// The conformance suite tests itself: against the faithful mock every requirement passes in strict mode,
// and every deviation switch of the mock makes at least one named requirement fail.
import { describe, expect, it } from 'vitest';
import { DEVIATION_NAMES } from '../../mocks/kme/deviations.ts';
import { matrixRow } from './kill-matrix.ts';

/** The common field deviations that the lenient profile accepts with warnings (one cause, one tolerance). */
const TOLERATED_IN_LENIENT = new Set(['404-instead-of-400', 'detail-errors', 'html-on-401', 'no-json-content-type', 'constant-status', 'exhaustion-404', 'get-query-ignored', 'status-sae-ids-swapped', 'keys-capitalised', 'null-optional-members']);

describe('kill matrix', () => {
  it('the faithful mock passes every requirement in strict mode (no fail, warn or error)', async () => {
    const row = await matrixRow(undefined);
    expect({ fail: row.strictFail, errors: row.errors, warn: row.strictWarn, lenientWarn: row.lenientWarn }).toEqual({ fail: [], errors: [], warn: [], lenientWarn: [] });
  }, 120_000);

  describe.concurrent('every deviation is detected in strict mode; the common ones only warn in lenient mode', () => {
    for (const d of DEVIATION_NAMES) {
      const tolerated = TOLERATED_IN_LENIENT.has(d);
      it(`${d} fails at least one requirement${tolerated ? ' (strict) and only warns (lenient)' : ''}`, async () => {
        const row = await matrixRow(d);
        expect(row.detectedBy.length, `${d}: no requirement detected it (errors: ${row.errors.join(', ') || 'none'})`).toBeGreaterThan(0);
        if (tolerated) {
          expect(row.lenientFail, `${d} should be tolerated by the lenient profile`).toEqual([]);
          expect(row.lenientWarn.length).toBeGreaterThan(0);
        }
      }, 120_000);
    }
  });
});
