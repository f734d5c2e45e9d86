// The two-token comparison: its rules on hand-made inventories, then on real SoftHSM2 tokens where B is
// made from A by wrap/unwrap (CKM_AES_KEY_WRAP_PAD) — faithfully, and with each replication fault.
import { describe, expect, it } from 'vitest';
import { compareInventories, type Comparison } from './compare.ts';
import { takeInventory, type Inventory, type InventoryEntry } from './inventory.ts';
import { generateKey } from './keygen.ts';
import type { ObjectName } from './objects.ts';
import { hsmGate, titled } from './testing/gate.ts';
import { copyObject, sharedKek, type CopyOptions } from './testing/replicate.ts';
import { withTestTokens } from './testing/tokens.ts';
import type { TokenSession } from './token.ts';

const token = (label: string): Inventory['token'] => ({ slot: '1', label, manufacturer: 'm', model: 'x', serial: 's', initialized: true, userPinInitialized: true, loginRequired: true });
const entry = (o: Partial<InventoryEntry> & { label: string }): InventoryEntry => ({ class: 'secret-key', id: '01', keyType: 'aes', handle: '1', fingerprint: 'kcv:abcdef', protection: { sensitive: true, extractable: false, local: true, alwaysSensitive: true, neverExtractable: true, private: true }, ...o });
const inv = (label: string, objects: InventoryEntry[]): Inventory => ({ token: token(label), objects });
const kinds = (c: Comparison) => c.differences.map((d) => `${d.kind}:${d.object.label}${d.side ? `@${d.side}` : ''}`).sort();

describe('compareInventories (rules)', () => {
  it('identical names and fingerprints are identical, even though replication changed EXTRACTABLE/LOCAL/ALWAYS_SENSITIVE/NEVER_EXTRACTABLE (shown as notes)', () => {
    const copy = entry({ label: 'k', handle: '99', protection: { sensitive: true, extractable: false, local: false, alwaysSensitive: false, neverExtractable: false, private: true } });
    const c = compareInventories(inv('A', [entry({ label: 'k', protection: { sensitive: true, extractable: true, local: true, alwaysSensitive: true, neverExtractable: false, private: true } })]), inv('B', [copy]));
    expect(c.identical).toBe(true);
    expect(c.differences).toEqual([]);
    expect(c.notes.map((n) => n.attribute).sort()).toEqual(['ALWAYS_SENSITIVE', 'EXTRACTABLE', 'LOCAL']);
    expect(c.rows).toHaveLength(1);
    expect(c.rows[0]!.verdict).toBe('same');
  });

  it('two empty tokens are not "identical": nothing was compared (a wrong token or partition named would pass otherwise)', () => {
    const c = compareInventories(inv('A', []), inv('B', []));
    expect(c.empty).toBe(true);
    expect(c.identical).toBe(false);
    expect(c.differences).toEqual([]);
  });

  it('reports missing, extra, duplicated, differing fingerprint and weaker protection, each once', () => {
    const a = inv('A', [entry({ label: 'gone' }), entry({ label: 'dup' }), entry({ label: 'fp', fingerprint: 'kcv:111111' }), entry({ label: 'weak' })]);
    const b = inv('B', [entry({ label: 'dup' }), entry({ label: 'dup' }), entry({ label: 'fp', fingerprint: 'kcv:222222' }), entry({ label: 'weak', protection: { sensitive: false } }), entry({ label: 'new' })]);
    const c = compareInventories(a, b);
    expect(c.identical).toBe(false);
    expect(kinds(c)).toEqual(['duplicated:dup@b', 'extra:new@b', 'fingerprint:fp', 'missing:gone@b', 'weaker-protection:weak@b']);
    expect(c.counts.differences).toEqual({ missing: 1, extra: 1, duplicated: 1, fingerprint: 1, 'weaker-protection': 1 });
  });

  it('matches by class as well as label and ID; weaker protection is reported on whichever side is weaker', () => {
    const c = compareInventories(inv('A', [entry({ label: 'k', protection: { sensitive: false } })]), inv('B', [entry({ label: 'k' }), entry({ label: 'k', class: 'private-key' })]));
    expect(kinds(c)).toEqual(['extra:k@b', 'weaker-protection:k@a']);
  });

  it('a key whose fingerprint cannot be computed on either side is a difference (it cannot be verified)', () => {
    const c = compareInventories(inv('A', [entry({ label: 'k' })]), inv('B', [entry({ label: 'k', fingerprint: null, fingerprintNote: 'CKM_AES_ECB refused (CKR_KEY_FUNCTION_NOT_PERMITTED)' })]));
    expect(kinds(c)).toEqual(['fingerprint:k']);
    expect(c.differences[0]!.detail).toMatch(/cannot be verified.*CKR_KEY_FUNCTION_NOT_PERMITTED/);
  });
});

const gate = hsmGate();

/** Keys made on A: an RSA pair, an EC pair and an AES key, all replicable (extractable). */
const NAMES: ObjectName[] = [
  { class: 'public-key', label: 'rsa', id: '01' },
  { class: 'private-key', label: 'rsa', id: '01' },
  { class: 'public-key', label: 'ec', id: '02' },
  { class: 'private-key', label: 'ec', id: '02' },
  { class: 'secret-key', label: 'aes', id: '03' },
];

/** A with the keys, B made from A by copying each name (`per` overrides or skips one copy). */
function replicated(per: (n: ObjectName, a: TokenSession, b: TokenSession) => CopyOptions | 'skip' | void): Comparison {
  return withTestTokens(['site-a', 'site-b'], ({ sessions }) => {
    const [a, b] = [sessions['site-a']!, sessions['site-b']!];
    generateKey(a, { kind: 'rsa', label: 'rsa', id: '01', extractable: true });
    generateKey(a, { kind: 'ec', label: 'ec', id: '02', extractable: true });
    generateKey(a, { kind: 'aes', label: 'aes', id: '03', extractable: true });
    const [ka, kb] = sharedKek(a, b);
    for (const n of NAMES) {
      const o = per(n, a, b);
      if (o !== 'skip') copyObject(a, b, ka!, kb!, n, o ?? {});
    }
    return compareInventories(takeInventory(a), takeInventory(b));
  });
}

describe.skipIf(Boolean(gate.skip))(titled('comparison of two SoftHSM2 tokens after wrap/unwrap replication', gate), () => {
  const must = () => {
    if (gate.fail) throw new Error(gate.fail);
  };

  it('a faithful copy is identical (notes only)', () => {
    must();
    const c = replicated(() => {});
    expect(c.differences).toEqual([]);
    expect(c.identical).toBe(true);
    expect(c.counts).toMatchObject({ a: 5, b: 5 });
    expect(c.notes.some((n) => n.attribute === 'LOCAL' && n.a === true && n.b === false)).toBe(true);
  });

  it('a key not copied is missing on B', () => {
    must();
    expect(kinds(replicated((n) => (n.class === 'private-key' && n.label === 'ec' ? 'skip' : undefined)))).toEqual(['missing:ec@b']);
  });

  it('a blob unwrapped twice is a duplicate on B', () => {
    must();
    expect(kinds(replicated((n) => (n.class === 'secret-key' ? { times: 2 } : undefined)))).toEqual(['duplicated:aes@b']);
  });

  it('another key under the same name is a fingerprint difference', () => {
    must();
    const c = replicated((n, _a, b) => {
      if (n.class !== 'secret-key') return undefined;
      generateKey(b, { kind: 'aes', label: 'aes', id: '03' });
      return 'skip';
    });
    expect(kinds(c)).toEqual(['fingerprint:aes']);
  });

  it('a copy unwrapped as non-sensitive is weaker protection on B', () => {
    must();
    expect(kinds(replicated((n) => (n.class === 'private-key' && n.label === 'rsa' ? { sensitive: false } : undefined)))).toEqual(['weaker-protection:rsa@b']);
  });
});
