// The end-to-end helper: expected vs installed PSK, reported by fingerprint only.
import { describe, expect, it } from 'vitest';
import { fingerprint, fingerprintBase64 } from '../../src/secrets/fingerprint.ts';
import { encodeBase64, expectedPsk, pskFingerprint, PskInputError, verifyInstalledPsk } from '../../src/psk/index.ts';
import { labelPskRequirements, leaksKey } from './helpers.ts';

labelPskRequirements();

const bytes = (seed: number) => Uint8Array.from({ length: 32 }, (_, i) => (i * 53 + seed) & 0xff); // test-only keys
const kms = bytes(1);
const pqc = bytes(2);
const nextPqc = bytes(3);

describe('installed PSK verification', () => {
  it('psk/30 verifyInstalledPsk matches the right PSK, flags a wrong or missing one, and reports fingerprints only', () => {
    const sites = [
      { mode: 'hybrid' as const, kmsKey: encodeBase64(kms), pqc: encodeBase64(pqc) },
      { mode: 'hybrid' as const, kmsKey: encodeBase64(kms), pqc },
      { mode: 'qkd-only' as const, kmsKey: encodeBase64(kms) },
      { mode: 'pqc-only' as const, pqc: encodeBase64(pqc) },
    ];
    for (const site of sites) {
      const installed = expectedPsk(site);
      const ok = verifyInstalledPsk(site, `${installed.base64}\n`);
      expect(ok, site.mode).toEqual({ match: true, expected: installed.fingerprint, actual: installed.fingerprint });
      // The peer rotated to the next PQC epoch but this site did not: a mismatch.
      const stale = site.mode === 'qkd-only' ? nextPqc : expectedPsk({ ...site, pqc: nextPqc }).key;
      const bad = verifyInstalledPsk(site, encodeBase64(stale));
      expect(bad.match, `${site.mode} mismatch`).toBe(false);
      expect(bad.actual).not.toBe(bad.expected);
      expect(verifyInstalledPsk(site, '(none)'), `${site.mode} none`).toEqual({ match: false, expected: installed.fingerprint, actual: '(none)' });
      for (const r of [ok, bad]) {
        for (const k of [kms, pqc, nextPqc, installed.key, stale]) expect(leaksKey(JSON.stringify(r), k), `${site.mode} leaks`).toBe(false);
        expect(r.expected).toMatch(/^sha256:[0-9a-f]{8}$/);
      }
    }
    expect(() => verifyInstalledPsk(sites[0]!, 'not base64!')).toThrow(PskInputError);
  });

  it('psk/31 pskFingerprint gives sha256: + 8 hex of the decoded key, the same as for the raw bytes', () => {
    const b64 = encodeBase64(kms);
    expect(pskFingerprint(b64)).toMatch(/^sha256:[0-9a-f]{8}$/);
    expect(pskFingerprint(b64)).toBe(fingerprint(kms));
    expect(pskFingerprint(b64)).toBe(fingerprintBase64(b64));
    expect(() => pskFingerprint(b64.replace(/=$/, ''))).toThrow(PskInputError);
  });
});
