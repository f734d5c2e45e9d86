// The extraction attempt tells a protected key from an exposed one on a real SoftHSM2 token: a
// sensitive, non-extractable key refuses both the read and the wrap-then-decrypt attack; an extractable
// key falls to the attack (the recovered bytes reproduce its KCV); a non-sensitive extractable key is readable.
// The report carries outcomes and lengths only.
import { describe, expect, it } from 'vitest';
import { tryExtraction } from './extraction.ts';
import { generateKey } from './keygen.ts';
import { hsmGate, titled } from './testing/gate.ts';
import { withTestTokens } from './testing/tokens.ts';

const gate = hsmGate();

describe.skipIf(Boolean(gate.skip))(titled('extraction attempt', gate), () => {
  it('refuses on a protected key, succeeds on an extractable or non-sensitive one (KCV reproduced), and reports no bytes', () => {
    if (gate.fail) throw new Error(gate.fail);
    withTestTokens(['extract'], ({ sessions }) => {
      const s = sessions.extract!;
      generateKey(s, { kind: 'aes', label: 'kept', id: '01', sensitive: true, extractable: false });
      generateKey(s, { kind: 'aes', label: 'open', id: '02', sensitive: true, extractable: true });
      generateKey(s, { kind: 'aes', label: 'clear', id: '03', sensitive: false, extractable: true });
      generateKey(s, { kind: 'aes', label: 'half', id: '06', sensitive: false, extractable: false });
      generateKey(s, { kind: 'rsa', label: 'rsa-kept', id: '04', bits: 1024, sensitive: true, extractable: false });
      generateKey(s, { kind: 'rsa', label: 'rsa-open', id: '05', bits: 1024, sensitive: true, extractable: true });

      const kept = tryExtraction(s, { label: 'kept' });
      expect(kept.read).toEqual({ outcome: 'refused', ckr: 'CKR_ATTRIBUTE_SENSITIVE' });
      expect(kept.wrap).toMatchObject({ outcome: 'refused', ckr: 'CKR_KEY_UNEXTRACTABLE' });

      const open = tryExtraction(s, { label: 'open' });
      expect(open.read.outcome).toBe('refused');
      expect(open.wrap).toMatchObject({ outcome: 'extracted', bytes: 32, kcvMatches: true });
      expect(JSON.stringify(open)).not.toMatch(/[0-9a-f]{32}/);

      const clear = tryExtraction(s, { label: 'clear' });
      expect(clear.read).toEqual({ outcome: 'readable', bytes: 32 });
      // Not sensitive but not extractable: PKCS#11 §4.9 still forbids revealing the value.
      expect(tryExtraction(s, { label: 'half' })).toMatchObject({ read: { outcome: 'refused' }, wrap: { outcome: 'refused' } });

      expect(tryExtraction(s, { label: 'rsa-kept' }).wrap).toMatchObject({ outcome: 'refused', ckr: 'CKR_KEY_UNEXTRACTABLE' });
      expect(tryExtraction(s, { label: 'rsa-open' }).wrap.outcome).toBe('extracted');
      expect(() => tryExtraction(s, { label: 'nothing' })).toThrow();
    });
  });
});
