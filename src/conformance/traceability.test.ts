// The catalogues and the suites agree: every requirement has exactly one test, and every test names a
// catalogued requirement.
import { describe, expect, it } from 'vitest';
import { traceability } from './traceability.ts';
import { catalogueNames, loadCatalogue } from './catalogue.ts';

describe('traceability', () => {
  const rows = traceability();

  it('every catalogued requirement has a test', () => {
    expect(rows.filter((r) => r.tests.length === 0).map((r) => r.id)).toEqual([]);
  });

  it('every requirement has exactly one test (one test per requirement ID)', () => {
    expect(rows.filter((r) => r.tests.length > 1).map((r) => `${r.id}: ${r.tests.map((t) => `${t.file}:${t.line}`).join(', ')}`)).toEqual([]);
  });

  it('the catalogues load and IDs are unique across them', () => {
    const ids = catalogueNames().flatMap((n) => loadCatalogue(n).map((r) => r.id));
    expect(ids.length).toBeGreaterThan(40);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
