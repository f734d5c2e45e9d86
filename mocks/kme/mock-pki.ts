// The test PKI of a mock: the KME certificates (CN = KME ID, usable for the HTTPS server and the KMS↔KMS
// link) and an SAE certificate per configured SAE, made by src/pki/test-pki.ts — or reused from
// DIR/pki.json so that two single-KME processes share one PKI.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { certificateNames } from '../../src/kme/kme-id.ts';
import { createTestPki, type PkiSpec, type TestPki } from '../../src/pki/test-pki.ts';
import { ConfigError, type MockConfig } from './config.ts';
import { normaliseSerial, type Binding } from './identity-binding.ts';
import { KME_NAMES, SaeRegistry, type KmeName } from './registry.ts';

export const KME_FILE: Record<KmeName, string> = { A: 'kme-a', B: 'kme-b' };

export function pkiSpec(c: MockConfig): PkiSpec {
  return {
    kmes: KME_NAMES.map((n) => ({ name: KME_FILE[n], kmeId: c.kmes[n].kme_id, dns: c.kmes[n].dns, ips: c.kmes[n].ips })),
    saes: [...c.kmes.A.saes, ...c.kmes.B.saes, ...c.extra_saes],
  };
}

/** Creates the PKI in `dir`, or reuses the one there after checking it fits the configuration. */
export async function ensurePki(dir: string, c: MockConfig): Promise<TestPki> {
  const spec = pkiSpec(c);
  const pki = await createTestPki(dir, spec, { reuse: true });
  const misfit = (what: string): never => {
    throw new ConfigError(`the PKI in ${dir} (pki.json) was made for another configuration: ${what}; use an empty --pki directory`);
  };
  for (const k of spec.kmes) {
    const have = pki.kmes[k.name];
    if (!have) misfit(`it has no ${k.name} certificate`);
    if (have!.kmeId !== k.kmeId) misfit(`${k.name} is ${have!.kmeId}, not ${k.kmeId}`);
    const names = certificateNames(new X509Certificate(readFileSync(have!.cert)));
    for (const ip of k.ips ?? []) if (!names.ips.includes(ip)) misfit(`${k.name} has no IP address ${ip}`);
    for (const dns of k.dns ?? []) if (!names.dns.includes(dns)) misfit(`${k.name} has no DNS name ${dns}`);
  }
  for (const id of spec.saes) if (!pki.saes[id]) misfit(`it has no certificate for SAE ${id}`);
  return pki;
}

export function registryFor(c: MockConfig): SaeRegistry {
  return new SaeRegistry({ A: c.kmes.A.saes, B: c.kmes.B.saes }, { A: c.kmes.A.kme_id, B: c.kmes.B.kme_id });
}

/** The binding of the configuration; for `serial` without a table, the serials of the PKI's SAE certificates. */
export function bindingFor(c: MockConfig, pki: TestPki): Binding {
  const serials: Record<string, string> = {};
  if (c.serials) for (const [s, id] of Object.entries(c.serials)) serials[normaliseSerial(s)] = id;
  else if (c.binding === 'serial') for (const [id, files] of Object.entries(pki.saes)) serials[normaliseSerial(new X509Certificate(readFileSync(files.cert)).serialNumber)] = id;
  return { kind: c.binding, uriPrefix: c.uri_prefix, serials };
}
