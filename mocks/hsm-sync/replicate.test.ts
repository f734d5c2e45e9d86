// The agents' PKCS#11 side, in-process on two SoftHSM2 tokens of one test store: the key ceremony, the
// scan (same fingerprints as `hsm compare`), and export/import with its idempotence, checks and faults.
import { describe, expect, it } from 'vitest';
import { bool, readAttributes } from '../../src/hsm/attributes.ts';
import { compareInventories } from '../../src/hsm/compare.ts';
import { takeInventory } from '../../src/hsm/inventory.ts';
import { generateKey } from '../../src/hsm/keygen.ts';
import { destroyObject, selectObjects, selectOne } from '../../src/hsm/objects.ts';
import { hsmGate, titled } from '../../src/hsm/testing/gate.ts';
import { withTestTokens } from '../../src/hsm/testing/tokens.ts';
import type { TokenSession } from '../../src/hsm/token.ts';
import { CeremonyAborted, CloningDomain } from './kek.ts';
import { scanToken } from './key-state.ts';
import { checkCopy, exportKey, importKey, KekMismatch, type Exported, type ImportFaults } from './replicate.ts';

const gate = hsmGate();

/** Runs the ceremony between `a` (primary) and `b` (replica); the two domains. */
function ceremony(a: TokenSession, b: TokenSession): { da: CloningDomain; db: CloningDomain } {
  const da = new CloningDomain(a);
  const db = new CloningDomain(b);
  const w = da.wrapNewKek(db.transportKey());
  const r = db.acceptKek(w.wrapped, w.kcv);
  da.commit(r.kcv, r.agreed);
  return { da, db };
}

/** Exports every replicable key of `a` and imports it on `b`; the import results by class/label. */
function replicateAll(a: TokenSession, b: TokenSession, da: CloningDomain, db: CloningDomain, faults: ImportFaults = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key } of scanToken(a).keys) {
    const x = exportKey(a, da.current, key);
    if (x.status !== 'ok') throw new Error(`export ${key.label}: ${x.status}`);
    out[`${key.class}/${key.label}`] = importKey(b, db.current, x.exported, faults).result;
  }
  return out;
}

const kinds = (a: TokenSession, b: TokenSession): string[] =>
  compareInventories(takeInventory(a), takeInventory(b))
    .differences.map((d) => `${d.kind} ${d.object.class}/${d.object.label}`)
    .sort();

describe.skipIf(Boolean(gate.skip))(titled('hsm-sync on SoftHSM2 tokens (in-process)', gate), () => {
  const must = () => {
    if (gate.fail) throw new Error(gate.fail);
  };

  it('key ceremony: both KCVs agree; the KEKs and the transport key are sensitive and not extractable, the KEKs only wrap/unwrap; nothing lands in the inventories', () => {
    must();
    withTestTokens(['cer-a', 'cer-b'], ({ sessions }) => {
      const [a, b] = [sessions['cer-a']!, sessions['cer-b']!];
      const da = new CloningDomain(a);
      const db = new CloningDomain(b);
      const parts = db.transportKey();
      const tb = b.mod.binding;
      const transport = readAttributes(b, db.transportPrivateKey!, [tb.CKA_SENSITIVE, tb.CKA_EXTRACTABLE, tb.CKA_TOKEN, tb.CKA_UNWRAP]);
      expect([tb.CKA_SENSITIVE, tb.CKA_EXTRACTABLE, tb.CKA_TOKEN, tb.CKA_UNWRAP].map((t) => bool(transport.get(t)))).toEqual([true, false, false, true]);
      expect(parts.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
      const w = da.wrapNewKek(parts);
      expect(w.wrapped.length).toBe(256); // RSA-2048 OAEP
      const r = db.acceptKek(w.wrapped, w.kcv);
      expect(r).toEqual({ kcv: w.kcv, agreed: true });
      expect(db.transportPrivateKey).toBeUndefined();
      expect(da.commit(r.kcv, r.agreed).kcv).toBe(w.kcv);
      expect(da.current!.kcv).toBe(db.current!.kcv);
      for (const [s, d] of [[a, da], [b, db]] as const) {
        const k = s.mod.binding;
        const attrs = readAttributes(s, d.current!.handle, [k.CKA_SENSITIVE, k.CKA_EXTRACTABLE, k.CKA_WRAP, k.CKA_UNWRAP, k.CKA_ENCRYPT, k.CKA_DECRYPT, k.CKA_TOKEN]);
        expect([k.CKA_SENSITIVE, k.CKA_EXTRACTABLE, k.CKA_WRAP, k.CKA_UNWRAP, k.CKA_ENCRYPT, k.CKA_DECRYPT, k.CKA_TOKEN].map((t) => bool(attrs.get(t)))).toEqual([true, false, true, true, false, false, false]);
      }
      expect(takeInventory(a).objects).toEqual([]);
      expect(takeInventory(b).objects).toEqual([]);
    });
  });

  it('key ceremony: a KCV mismatch aborts on both sides and leaves no KEK', () => {
    must();
    withTestTokens(['mis-a', 'mis-b'], ({ sessions }) => {
      const [a, b] = [sessions['mis-a']!, sessions['mis-b']!];
      const da = new CloningDomain(a);
      const db = new CloningDomain(b);
      const w = da.wrapNewKek(db.transportKey());
      // B is told another KCV than its KEK's: it refuses the KEK.
      const r = db.acceptKek(w.wrapped, 'kcv:000000');
      expect(r.agreed).toBe(false);
      expect(r.kcv).toBe(w.kcv);
      expect(db.current).toBeUndefined();
      expect(() => da.commit(r.kcv, r.agreed)).toThrow(CeremonyAborted);
      expect(da.current).toBeUndefined();
      // A sees a KCV other than its own, even when B says it agreed: aborted too.
      const w2 = da.wrapNewKek(db.transportKey());
      expect(() => da.commit('kcv:000000', true)).toThrow(/check values differ \(primary kcv:[0-9a-f]{6}, replica kcv:000000\)/);
      expect(da.current).toBeUndefined();
      expect(w2.kcv).not.toBe(w.kcv);
      db.abort();
    });
  });

  it('the scan finds RSA, EC and AES keys with the fingerprints `hsm compare` computes, public keys first; it leaves out non-extractable keys and ambiguous names with the reason', () => {
    must();
    withTestTokens(['scan-a'], ({ sessions }) => {
      const a = sessions['scan-a']!;
      generateKey(a, { kind: 'rsa', label: 'rsa', id: '01', extractable: true });
      generateKey(a, { kind: 'ec', label: 'ec', id: '02', extractable: true });
      generateKey(a, { kind: 'aes', label: 'aes', id: '03', extractable: true });
      generateKey(a, { kind: 'aes', label: 'stuck', id: '04' });
      generateKey(a, { kind: 'aes', label: 'twice', id: '05', extractable: true });
      generateKey(a, { kind: 'aes', label: 'twice', id: '05', extractable: true, allowDuplicate: true });
      const { keys, unreplicable } = scanToken(a);
      expect(keys.map((k) => `${k.key.class}/${k.key.label}`)).toEqual(['public-key/ec', 'public-key/rsa', 'private-key/ec', 'private-key/rsa', 'secret-key/aes']);
      const inv = takeInventory(a).objects;
      for (const { key } of keys) expect(key.fingerprint).toBe(inv.find((e) => e.class === key.class && e.label === key.label)!.fingerprint);
      expect(keys.find((k) => k.key.class === 'private-key' && k.key.label === 'rsa')!.key.usages).toEqual({ decrypt: true, sign: true, unwrap: false, derive: false });
      expect(unreplicable.map((u) => `${u.name.label}: ${u.why}`).sort()).toEqual([
        'stuck: CKA_EXTRACTABLE is false: the key cannot be wrapped (generate it extractable to replicate it)',
        'twice: 2 objects share this class, label and ID: ambiguous',
        'twice: 2 objects share this class, label and ID: ambiguous',
      ]);
    });
  });

  it('replicates RSA/EC key pairs and an AES key faithfully (compare: no difference), each exactly once however often it is imported', () => {
    must();
    withTestTokens(['rep-a', 'rep-b'], ({ sessions }) => {
      const [a, b] = [sessions['rep-a']!, sessions['rep-b']!];
      generateKey(a, { kind: 'rsa', label: 'rsa', id: '01', extractable: true });
      generateKey(a, { kind: 'ec', label: 'ec', id: '02', extractable: true });
      generateKey(a, { kind: 'aes', label: 'aes', id: '03', extractable: true });
      const { da, db } = ceremony(a, b);
      expect(Object.values(replicateAll(a, b, da, db))).toEqual(Array(5).fill('imported'));
      expect(kinds(a, b)).toEqual([]);
      // Again (a replayed journal): every key is found present, nothing is added.
      expect(Object.values(replicateAll(a, b, da, db))).toEqual(Array(5).fill('present'));
      expect(kinds(a, b)).toEqual([]);
      expect(takeInventory(b).objects).toHaveLength(5);
      // The copies are pinned: sensitive, not extractable.
      const k = b.mod.binding;
      for (const cls of ['private-key', 'secret-key']) {
        for (const { handle } of selectObjects(b, { classes: [cls] })) {
          const at = readAttributes(b, handle, [k.CKA_SENSITIVE, k.CKA_EXTRACTABLE]);
          expect([bool(at.get(k.CKA_SENSITIVE)), bool(at.get(k.CKA_EXTRACTABLE))]).toEqual([true, false]);
        }
      }
    });
  });

  it('a key changed under the same name replaces the copy; a copy that does not check out is destroyed and rejected; a KEK mismatch is refused', () => {
    must();
    withTestTokens(['chg-a', 'chg-b'], ({ sessions }) => {
      const [a, b] = [sessions['chg-a']!, sessions['chg-b']!];
      generateKey(a, { kind: 'aes', label: 'aes', id: '03', extractable: true });
      const { da, db } = ceremony(a, b);
      const [first] = scanToken(a).keys;
      replicateAll(a, b, da, db);
      // Another key under the same name: the journal's old entry is stale ('changed'), the new one replaces the copy.
      destroyObject(a, selectOne(a, { label: 'aes' }, 'test').handle);
      generateKey(a, { kind: 'aes', label: 'aes', id: '03', extractable: true });
      expect(exportKey(a, da.current, first!.key).status).toBe('changed');
      expect(replicateAll(a, b, da, db)).toEqual({ 'secret-key/aes': 'replaced' });
      expect(kinds(a, b)).toEqual([]);
      expect(selectObjects(b, { label: 'aes' })).toHaveLength(1);
      // A descriptor whose fingerprint is not the blob's key: the copy is made, found wrong, destroyed.
      const [now] = scanToken(a).keys;
      const x = exportKey(a, da.current, now!.key);
      if (x.status !== 'ok') throw new Error(x.status);
      const lying: Exported = { ...x.exported, key: { ...x.exported.key, label: 'other', fingerprint: 'kcv:000000' } };
      const r = importKey(b, db.current, lying);
      expect(r.result).toBe('rejected');
      expect(r.detail).toMatch(/its fingerprint is kcv:[0-9a-f]{6}, expected kcv:000000/);
      expect(selectObjects(b, { label: 'other' })).toEqual([]);
      // A corrupted blob fails RFC 5649's integrity check: rejected, nothing created.
      const bad = Buffer.from(x.exported.wrapped!);
      bad[bad.length >> 1]! ^= 1;
      const c = importKey(b, db.current, { ...x.exported, key: { ...x.exported.key, label: 'corrupt' }, wrapped: bad });
      expect(c.result).toBe('rejected');
      expect(c.detail).toMatch(/unwrapping failed: CKR_/);
      expect(selectObjects(b, { label: 'corrupt' })).toEqual([]);
      // Wrapped under another KEK than B's: refused before anything is touched.
      expect(() => importKey(b, db.current, { ...x.exported, kek: 'kcv:000000' })).toThrow(KekMismatch);
      expect(() => importKey(b, undefined, x.exported)).toThrow(/holds no KEK/);
      // Gone on A: nothing to export.
      destroyObject(a, selectOne(a, { label: 'aes' }, 'test').handle);
      expect(exportKey(a, da.current, now!.key).status).toBe('gone');
    });
  });

  it('checkCopy names every attribute that is not as pinned', () => {
    must();
    withTestTokens(['chk-b'], ({ sessions }) => {
      const b = sessions['chk-b']!;
      generateKey(b, { kind: 'aes', label: 'weak', id: '09', sensitive: false, extractable: true });
      const { handle } = selectOne(b, { label: 'weak' }, 'test');
      const problems = checkCopy(b, handle, { key: { class: 'secret-key', label: 'weak', id: '09', keyType: 'aes', fingerprint: 'kcv:000000', usages: { encrypt: true, wrap: true } } });
      expect(problems).toEqual(['CKA_SENSITIVE is false, expected true', 'CKA_EXTRACTABLE is true, expected false', 'CKA_WRAP is false, expected true']);
    });
  });

  it('receiver faults: duplicate-imports makes every key twice; unwrap-non-sensitive makes readable copies — compare shows each', () => {
    must();
    withTestTokens(['flt-a', 'flt-b', 'flt-c'], ({ sessions }) => {
      const [a, b, c] = [sessions['flt-a']!, sessions['flt-b']!, sessions['flt-c']!];
      generateKey(a, { kind: 'ec', label: 'ec', id: '02', extractable: true });
      generateKey(a, { kind: 'aes', label: 'aes', id: '03', extractable: true });
      const ab = ceremony(a, b);
      replicateAll(a, b, ab.da, ab.db, { duplicate: true });
      // Two EC public keys under one ID also leave the private key's fingerprint unverifiable on B.
      expect(kinds(a, b)).toEqual(['duplicated private-key/ec', 'duplicated public-key/ec', 'duplicated secret-key/aes', 'fingerprint private-key/ec']);
      const ac = ceremony(a, c);
      replicateAll(a, c, ac.da, ac.db, { nonSensitive: true });
      expect(kinds(a, c)).toEqual(['weaker-protection private-key/ec', 'weaker-protection secret-key/aes']);
    });
  });
});
