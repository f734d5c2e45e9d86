// The sample target profiles under fixtures/profiles/ (named in the README) load with the loaders the
// commands use, so a schema change cannot leave them behind. The loader only checks that the files a
// profile names exist; each sample is copied into a temporary directory beside placeholders for them.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSitesProfile, loadTargetProfile } from './load.ts';

const SAMPLES = fileURLToPath(new URL('../../fixtures/profiles/', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'qkd-sample-profiles-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Copies a sample into its own directory with a placeholder for every file it names (relative paths). */
function place(sample: string, files: readonly string[]): string {
  const dir = mkdtempSync(join(work, 'p-'));
  for (const f of files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    writeFileSync(join(dir, f), 'placeholder: the loader checks that the file exists, not its content\n');
  }
  copyFileSync(join(SAMPLES, sample), join(dir, sample));
  return join(dir, sample);
}

describe('sample target profiles (fixtures/profiles/)', () => {
  it('are the three the README names, and nothing else', () => {
    expect(readdirSync(SAMPLES).sort()).toEqual(['acceptance-two-site.yaml', 'plain-http-simulator.yaml', 'vendor-two-kme.yaml']);
  });

  it('vendor-two-kme.yaml: two KMEs over mutual TLS, master, slave and outsider SAEs, an expired client, no exhaustion', () => {
    const files = ['pki/ca.pem', 'pki/sae-a.pem', 'pki/sae-a.key', 'pki/sae-b.pem', 'pki/sae-b.key', 'pki/sae-c.pem', 'pki/sae-c.key', 'pki/expired.pem', 'pki/expired.key'];
    const file = place('vendor-two-kme.yaml', files);
    const p = loadTargetProfile(file, {});
    const dir = dirname(file);
    expect(Object.values(p.kmes).map((k) => new URL(k.url).protocol)).toEqual(['https:', 'https:']);
    expect(p.kmes.A!.ca).toBe(join(dir, 'pki/ca.pem'));
    expect(p.saes.master.cert).toBe(join(dir, 'pki/sae-a.pem'));
    expect(p.saes.outsider).toMatchObject({ id: 'SAE_C', kme: 'B', key: join(dir, 'pki/sae-c.key') });
    expect(p.negative?.expired_client?.cert).toBe(join(dir, 'pki/expired.pem'));
    expect(p.profile).toBe('strict');
    expect(p.allow_exhaustion).toBe(false);
    expect(p.expectations).toBeUndefined(); // shown commented out: the sample must load without one
    // Every file it names is needed: without one the loader refuses the profile (so the list above is complete).
    rmSync(join(dir, 'pki/sae-c.key'));
    expect(() => loadTargetProfile(file, {})).toThrow(/saes\.outsider\.key names pki\/sae-c\.key, which does not exist/);
  });

  it('plain-http-simulator.yaml: http:// KMEs, no CA and no client certificates, and no file to provide', () => {
    const p = loadTargetProfile(place('plain-http-simulator.yaml', []), {});
    for (const kme of Object.values(p.kmes)) {
      expect(new URL(kme.url).protocol).toBe('http:');
      expect(kme.ca).toBeUndefined();
    }
    for (const sae of [p.saes.master, p.saes.slave]) expect([sae.cert, sae.key]).toEqual([undefined, undefined]);
    expect(p.saes.outsider).toBeUndefined();
    expect(p.allow_exhaustion).toBe(false);
  });

  describe('acceptance-two-site.yaml', () => {
    const files = ['pki/ca.pem', 'pki/sae-site1.pem', 'pki/sae-site1.key', 'pki/sae-site2.pem', 'pki/sae-site2.key'];

    it('loads for conformance (kmes, saes) and for the end-to-end suites (two sites, each with an HSM), PINs from ${ENV}', () => {
      const file = place('acceptance-two-site.yaml', files);
      const env = { ALICE_HSM_PIN: 'pin-of-alice', BOB_HSM_PIN: 'pin-of-bob' };
      const target = loadTargetProfile(file, env);
      expect(target.saes.master.cert).toBe(join(dirname(file), 'pki/sae-site1.pem'));
      expect(target.allow_exhaustion).toBe(false);
      const sites = loadSitesProfile(file, env);
      expect(Object.keys(sites.sites)).toEqual(['alice', 'bob']);
      expect(sites.sites.alice!.exec[0]).toBe('ssh');
      expect(sites.sites.alice!.hsm).toMatchObject({ pin: 'pin-of-alice', role: 'primary' });
      expect(sites.sites.bob!.hsm).toMatchObject({ pin: 'pin-of-bob', role: 'replica' });
      for (const s of Object.values(sites.sites)) expect(s.probe?.port).toBe(7);
    });

    it('loads without the PIN variables (they are dropped and named, not an error)', () => {
      const sites = loadSitesProfile(place('acceptance-two-site.yaml', []), {}); // e2e opens no certificate file
      expect(sites.sites.alice!.hsm!.pin).toBeUndefined();
      expect(sites.unsetPinVariables).toEqual({ alice: ['ALICE_HSM_PIN'], bob: ['BOB_HSM_PIN'] });
    });
  });
});
