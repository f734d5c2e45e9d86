// Key generation, encryption, signatures and destruction on a real SoftHSM2 token, through the same
// functions the `hsm` command runs.
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readAttributes, bool } from './attributes.ts';
import { decrypt, encrypt } from './cipher.ts';
import { generateKey } from './keygen.ts';
import { destroyObject, selectObjects, selectOne } from './objects.ts';
import { sign, verify } from './signature.ts';
import { hsmGate, titled } from './testing/gate.ts';
import { withTestTokens } from './testing/tokens.ts';

const gate = hsmGate();

describe.skipIf(Boolean(gate.skip))(titled('HSM keys on a SoftHSM2 token', gate), () => {
  const must = () => {
    if (gate.fail) throw new Error(gate.fail);
  };

  it('generates an RSA key pair with the asked protection; OAEP encrypt/decrypt round-trips; a PKCS#1 SHA-256 signature verifies on the token and in Node', () => {
    must();
    withTestTokens(['keys-rsa'], ({ sessions }) => {
      const s = sessions['keys-rsa']!;
      const g = generateKey(s, { kind: 'rsa', label: 'rsa1', id: '0a0b', extractable: true });
      expect(g.objects.map((o) => [o.class, o.label, o.id, o.keyType]).sort()).toEqual([
        ['private-key', 'rsa1', '0a0b', 'rsa'],
        ['public-key', 'rsa1', '0a0b', 'rsa'],
      ]);
      const priv = selectOne(s, { label: 'rsa1', classes: ['private-key'] }, 'test');
      const pub = selectOne(s, { label: 'rsa1', classes: ['public-key'] }, 'test');
      const b = s.mod.binding;
      const a = readAttributes(s, priv.handle, [b.CKA_SENSITIVE, b.CKA_EXTRACTABLE]);
      expect([bool(a.get(b.CKA_SENSITIVE)), bool(a.get(b.CKA_EXTRACTABLE))]).toEqual([true, true]);

      const msg = Buffer.from('demo message');
      const ct = encrypt(s, pub, msg);
      expect(ct.mechanism).toMatch(/OAEP.*SHA-1/);
      expect(ct.output.length).toBe(256);
      expect(decrypt(s, priv, ct.output).output).toEqual(msg);
      // Both sides must agree on the hash: SoftHSM refuses SHA-256 OAEP with a hint.
      expect(() => decrypt(s, priv, ct.output, { oaepHash: 'sha256' })).toThrow(/--oaep-hash sha1/);

      const sig = sign(s, priv, msg);
      expect(verify(s, pub, msg, sig.signature).valid).toBe(true);
      expect(verify(s, pub, Buffer.from('other message'), sig.signature).valid).toBe(false);
      const m = readAttributes(s, pub.handle, [b.CKA_MODULUS, b.CKA_PUBLIC_EXPONENT]);
      const key = createPublicKey({ key: { kty: 'RSA', n: m.get(b.CKA_MODULUS)!.toString('base64url'), e: m.get(b.CKA_PUBLIC_EXPONENT)!.toString('base64url') }, format: 'jwk' });
      expect(nodeVerify('sha256', msg, key, sig.signature)).toBe(true);
    });
  });

  it('generates a non-extractable sensitive AES-256 key; GCM and CBC-PAD round-trip; a tampered GCM ciphertext is rejected', () => {
    must();
    withTestTokens(['keys-aes'], ({ sessions }) => {
      const s = sessions['keys-aes']!;
      generateKey(s, { kind: 'aes', label: 'aes1', id: '01' });
      const k = selectOne(s, { label: 'aes1' }, 'test');
      const b = s.mod.binding;
      const a = readAttributes(s, k.handle, [b.CKA_SENSITIVE, b.CKA_EXTRACTABLE, b.CKA_VALUE_LEN, b.CKA_WRAP]);
      expect([bool(a.get(b.CKA_SENSITIVE)), bool(a.get(b.CKA_EXTRACTABLE)), a.get(b.CKA_VALUE_LEN)![0], bool(a.get(b.CKA_WRAP))]).toEqual([true, false, 32, false]);
      const msg = Buffer.from('secret of the user');
      const gcm = encrypt(s, k, msg);
      expect(gcm.mechanism).toBe('CKM_AES_GCM');
      expect(gcm.output.length).toBe(12 + msg.length + 16);
      expect(decrypt(s, k, gcm.output).output).toEqual(msg);
      const tampered = Buffer.from(gcm.output);
      tampered[tampered.length - 1]! ^= 1;
      expect(() => decrypt(s, k, tampered)).toThrow(/C_Decrypt failed: CKR_/);
      const cbc = encrypt(s, k, msg, { aesMode: 'cbc-pad' });
      expect(cbc.mechanism).toBe('CKM_AES_CBC_PAD');
      expect(decrypt(s, k, cbc.output, { aesMode: 'cbc-pad' }).output).toEqual(msg);
    });
  });

  it('generates an EC P-256 key pair; ECDSA SHA-256 signs on the token and verifies in Node', () => {
    must();
    withTestTokens(['keys-ec'], ({ sessions }) => {
      const s = sessions['keys-ec']!;
      generateKey(s, { kind: 'ec', label: 'ec1', id: 'ec' });
      const priv = selectOne(s, { label: 'ec1', classes: ['private-key'] }, 'test');
      const pub = selectOne(s, { label: 'ec1', classes: ['public-key'] }, 'test');
      const msg = Buffer.from('sign me');
      const sig = sign(s, priv, msg);
      expect(sig.signature.length).toBe(64);
      expect(verify(s, pub, msg, sig.signature).valid).toBe(true);
      const b = s.mod.binding;
      const point = readAttributes(s, pub.handle, [b.CKA_EC_POINT]).get(b.CKA_EC_POINT)!.subarray(2); // DER OCTET STRING → 04‖X‖Y
      const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') }, format: 'jwk' });
      expect(nodeVerify('sha256', msg, { key, dsaEncoding: 'ieee-p1363' }, sig.signature)).toBe(true);
    });
  });

  it('refuses a second key with the same class, label and ID unless asked; destroy removes exactly the selected objects', () => {
    must();
    withTestTokens(['keys-destroy'], ({ sessions }) => {
      const s = sessions['keys-destroy']!;
      generateKey(s, { kind: 'aes', label: 'k', id: '01' });
      expect(() => generateKey(s, { kind: 'aes', label: 'k', id: '01' })).toThrow(/already exist/);
      generateKey(s, { kind: 'aes', label: 'k', id: '01', allowDuplicate: true });
      generateKey(s, { kind: 'aes', label: 'k', id: '02' });
      expect(() => selectOne(s, { label: 'k', id: '01' }, 'destroy')).toThrow(/2 objects match/);
      for (const o of selectObjects(s, { label: 'k', id: '01' })) destroyObject(s, o.handle);
      expect(selectObjects(s, { label: 'k' }).map((o) => o.summary.id)).toEqual(['02']);
    });
  });
});
