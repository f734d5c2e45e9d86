// The inventory of a real SoftHSM2 token: names, fingerprints (checked against the definitions computed
// independently in Node) and protection attributes.
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readAttributes } from './attributes.ts';
import { takeInventory } from './inventory.ts';
import { ecFingerprint, ecPointBytes, pointFromSpki, rsaFingerprint } from './key-fingerprint.ts';
import { generateKey } from './keygen.ts';
import { selectOne } from './objects.ts';
import { hsmGate, titled } from './testing/gate.ts';
import { copyObject, sharedKek } from './testing/replicate.ts';
import { withTestTokens } from './testing/tokens.ts';

const gate = hsmGate();

describe('key fingerprints (definitions)', () => {
  it('RSA: SHA-256 over minimal modulus ‖ minimal exponent, leading zeros ignored', () => {
    const n = Buffer.from('00c0ffee', 'hex');
    expect(rsaFingerprint(n, Buffer.from('010001', 'hex'))).toBe(`sha256:${createHash('sha256').update(Buffer.from('c0ffee010001', 'hex')).digest('hex')}`);
    expect(rsaFingerprint(n, Buffer.from('00010001', 'hex'))).toBe(rsaFingerprint(Buffer.from('c0ffee', 'hex'), Buffer.from('010001', 'hex')));
    expect(rsaFingerprint(n, Buffer.from('03', 'hex'))).not.toBe(rsaFingerprint(n, Buffer.from('010001', 'hex')));
  });

  it('EC: the DER OCTET STRING wrapper is removed only when its length matches', () => {
    const point = Buffer.concat([Buffer.from([4]), randomBytes(64)]);
    const wrapped = Buffer.concat([Buffer.from([4, 65]), point]);
    expect(ecPointBytes(wrapped)).toEqual(point);
    expect(ecPointBytes(point)).toEqual(point);
    expect(ecFingerprint(wrapped)).toBe(ecFingerprint(point));
    const spki = Buffer.concat([Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'), point]);
    expect(pointFromSpki(spki)).toEqual(point);
  });
});

describe.skipIf(Boolean(gate.skip))(titled('token inventory on SoftHSM2', gate), () => {
  const must = () => {
    if (gate.fail) throw new Error(gate.fail);
  };

  it('lists token objects by class, label and ID with fingerprints as defined and their protection attributes', () => {
    must();
    withTestTokens(['inv'], ({ sessions }) => {
      const s = sessions['inv']!;
      const b = s.mod.binding;
      generateKey(s, { kind: 'rsa', label: 'r', id: '01', extractable: true });
      generateKey(s, { kind: 'ec', label: 'e', id: '02' });
      generateKey(s, { kind: 'aes', label: 'a', id: '03', sensitive: false });
      // A secret key with a known value: its KCV must be AES-ECB(key, 0^16)[0..3], computed here.
      const value = randomBytes(32);
      s.mod.p11.C_CreateObject(s.handle, [
        { type: b.CKA_CLASS, value: b.CKO_SECRET_KEY },
        { type: b.CKA_KEY_TYPE, value: b.CKK_AES },
        { type: b.CKA_TOKEN, value: true },
        { type: b.CKA_LABEL, value: 'known' },
        { type: b.CKA_VALUE, value },
        { type: b.CKA_ENCRYPT, value: true },
      ]);
      sharedKek(s); // a session object: not part of the inventory

      const inv = takeInventory(s);
      expect(inv.token.label).toBe('inv');
      expect(inv.objects.map((o) => `${o.class}/${o.label}/${o.id}`)).toEqual(['private-key/e/02', 'private-key/r/01', 'public-key/e/02', 'public-key/r/01', 'secret-key/a/03', 'secret-key/known/']);
      const byName = (c: string, l: string) => inv.objects.find((o) => o.class === c && o.label === l)!;

      const pub = selectOne(s, { label: 'r', classes: ['public-key'] }, 't');
      const m = readAttributes(s, pub.handle, [b.CKA_MODULUS, b.CKA_PUBLIC_EXPONENT]);
      const rsaFp = `sha256:${createHash('sha256').update(m.get(b.CKA_MODULUS)!).update(m.get(b.CKA_PUBLIC_EXPONENT)!).digest('hex')}`;
      expect(byName('public-key', 'r')).toMatchObject({ keyType: 'rsa', bits: 2048, fingerprint: rsaFp });
      expect(byName('private-key', 'r')).toMatchObject({ fingerprint: rsaFp, protection: { sensitive: true, extractable: true, local: true, alwaysSensitive: true, neverExtractable: false, private: true } });

      const ecPub = byName('public-key', 'e');
      expect(ecPub).toMatchObject({ keyType: 'ec', curve: 'P-256' });
      expect(ecPub.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(byName('private-key', 'e')).toMatchObject({ fingerprint: ecPub.fingerprint, fingerprintNote: expect.stringMatching(/same CKA_ID/), protection: { sensitive: true, extractable: false, neverExtractable: true } });

      const kcv = createCipheriv('aes-256-ecb', value, null).setAutoPadding(false).update(Buffer.alloc(16)).subarray(0, 3).toString('hex');
      expect(byName('secret-key', 'known')).toMatchObject({ keyType: 'aes', bits: 256, fingerprint: `kcv:${kcv}`, protection: { local: false } });
      // A generated key's CKA_CHECK_VALUE (SoftHSM fills it at generation) agrees with the computed KCV.
      const a = selectOne(s, { label: 'a' }, 't');
      expect(byName('secret-key', 'a').fingerprint).toBe(`kcv:${readAttributes(s, a.handle, [b.CKA_CHECK_VALUE]).get(b.CKA_CHECK_VALUE)!.toString('hex')}`);
      expect(byName('secret-key', 'a').protection).toMatchObject({ sensitive: false, extractable: false });
      // Nothing in the inventory is key material: only fingerprints and flags.
      expect(JSON.stringify(inv)).not.toContain(value.toString('hex'));
    });
  });

  it('a copy made by unwrapping has the same fingerprints, an empty CKA_CHECK_VALUE and LOCAL/ALWAYS_SENSITIVE/NEVER_EXTRACTABLE false', () => {
    must();
    withTestTokens(['src', 'dst'], ({ sessions }) => {
      const [a, b] = [sessions['src']!, sessions['dst']!];
      const [ka, kb] = sharedKek(a, b);
      generateKey(a, { kind: 'aes', label: 'k', id: '0101', extractable: true });
      copyObject(a, b, ka!, kb!, { class: 'secret-key', label: 'k', id: '0101' });
      const copy = selectOne(b, { label: 'k' }, 't');
      expect(readAttributes(b, copy.handle, [b.mod.binding.CKA_CHECK_VALUE]).get(b.mod.binding.CKA_CHECK_VALUE)?.length ?? 0).toBe(0);
      const [ea, eb] = [takeInventory(a).objects[0]!, takeInventory(b).objects[0]!];
      expect(eb.fingerprint).toMatch(/^kcv:[0-9a-f]{6}$/);
      expect(eb.fingerprint).toBe(ea.fingerprint);
      expect(eb.protection).toEqual({ sensitive: true, extractable: false, local: false, alwaysSensitive: false, neverExtractable: false, private: true });
    });
  });
});
