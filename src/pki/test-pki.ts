// A complete, throw-away PKI for a test run or a mock: a CA, KME server certificates, SAE client
// certificates and the deliberately bad ones negative tests need. Test-only material, written 0600.
import { mkdir, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCa, issueLeaf, type Issued } from './certificate.ts';

export interface KmeSpec {
  /** File stem, e.g. `kme-a`. */
  name: string;
  kmeId: string;
  /** Extra DNS names / IPs besides localhost and 127.0.0.1 (e.g. lab addresses). */
  dns?: string[];
  ips?: string[];
}

export interface PkiSpec {
  kmes: KmeSpec[];
  saes: string[];
}

export interface CertFiles {
  cert: string;
  key: string;
}

export interface TestPki {
  dir: string;
  ca: string;
  kmes: Record<string, CertFiles & { kmeId: string }>;
  saes: Record<string, CertFiles>;
  /** Negative-test material: an expired SAE certificate, one not valid yet, one from another CA, a KME certificate for the wrong host, another CA. */
  bad: {
    expiredSae: CertFiles & { saeId: string };
    notYetValidSae: CertFiles & { saeId: string };
    otherCaSae: CertFiles & { saeId: string };
    otherCa: string;
    wrongHostKme: CertFiles;
    expiredKme: CertFiles;
  };
}

/** Prefix of the URI SAN that carries an SAE ID (one of the bindings the mock KME can use). */
export const SAE_URI_PREFIX = 'urn:qkd-harness:sae:';
export const saeUri = (saeId: string): string => `${SAE_URI_PREFIX}${encodeURIComponent(saeId)}`;
export const kmeUri = (kmeId: string): string => `urn:qkd-harness:kme:${encodeURIComponent(kmeId)}`;

export const DEFAULT_PKI: PkiSpec = {
  kmes: [
    { name: 'kme-a', kmeId: 'KME_A' },
    { name: 'kme-b', kmeId: 'KME_B' },
  ],
  saes: ['SAE_A', 'SAE_B', 'SAE_C'],
};

async function save(dir: string, stem: string, issued: Issued): Promise<CertFiles> {
  const cert = join(dir, `${stem}.pem`);
  const key = join(dir, `${stem}.key`);
  await writeFile(cert, issued.certPem, { mode: 0o644 });
  await writeFile(key, issued.keyPem, { mode: 0o600 });
  return { cert, key };
}

const stemOf = (id: string): string => id.toLowerCase().replace(/[^a-z0-9]+/g, '-');

/** Creates the PKI in `dir` (or loads it when `dir/pki.json` already exists and `reuse` is set). */
export async function createTestPki(dir: string, spec: PkiSpec = DEFAULT_PKI, opts: { reuse?: boolean } = {}): Promise<TestPki> {
  const manifestPath = join(dir, 'pki.json');
  if (opts.reuse) {
    try {
      return JSON.parse(await readFile(manifestPath, 'utf8')) as TestPki;
    } catch {
      /* create below */
    }
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = await createCa('qkd-harness test CA');
  const other = await createCa('qkd-harness other CA');
  const caPath = join(dir, 'ca.pem');
  await writeFile(caPath, ca.certPem);
  const otherCa = join(dir, 'other-ca.pem');
  await writeFile(otherCa, other.certPem);
  const day = 86_400_000;
  const expired = { notBefore: new Date(Date.now() - 30 * day), notAfter: new Date(Date.now() - day) };

  const kmes: TestPki['kmes'] = {};
  for (const k of spec.kmes) {
    const issued = await issueLeaf(ca, {
      cn: k.kmeId,
      dns: ['localhost', ...(k.dns ?? [])],
      ips: ['127.0.0.1', '::1', ...(k.ips ?? [])],
      uris: [kmeUri(k.kmeId)],
      usage: 'both', // also the KMS↔KMS link's client certificate
    });
    kmes[k.name] = { ...(await save(dir, k.name, issued)), kmeId: k.kmeId };
  }
  const saes: TestPki['saes'] = {};
  for (const id of spec.saes) {
    saes[id] = await save(dir, `sae-${stemOf(id)}`, await issueLeaf(ca, { cn: id, uris: [saeUri(id)], usage: 'client' }));
  }
  const firstSae = spec.saes[0] ?? 'SAE_A';
  const bad: TestPki['bad'] = {
    expiredSae: { ...(await save(dir, 'bad-sae-expired', await issueLeaf(ca, { cn: firstSae, uris: [saeUri(firstSae)], usage: 'client', ...expired }))), saeId: firstSae },
    notYetValidSae: { ...(await save(dir, 'bad-sae-not-yet-valid', await issueLeaf(ca, { cn: firstSae, uris: [saeUri(firstSae)], usage: 'client', notBefore: new Date(Date.now() + day), notAfter: new Date(Date.now() + 30 * day) }))), saeId: firstSae },
    otherCaSae: { ...(await save(dir, 'bad-sae-other-ca', await issueLeaf(other, { cn: firstSae, uris: [saeUri(firstSae)], usage: 'client' }))), saeId: firstSae },
    otherCa,
    wrongHostKme: await save(dir, 'bad-kme-wrong-host', await issueLeaf(ca, { cn: 'KME_WRONG', dns: ['kme.invalid'], usage: 'server' })),
    expiredKme: await save(dir, 'bad-kme-expired', await issueLeaf(ca, { cn: 'KME_A', dns: ['localhost'], ips: ['127.0.0.1'], usage: 'server', ...expired })),
  };
  const pki: TestPki = { dir, ca: caPath, kmes, saes, bad };
  await writeFile(manifestPath, JSON.stringify(pki, null, 2) + '\n');
  return pki;
}
