// X.509 issuance for test PKIs with @peculiar/x509 over Node's WebCrypto (ECDSA P-256: fast to make).
import { webcrypto, randomBytes } from 'node:crypto';
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs a Reflect polyfill
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export interface Issued {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  certPem: string;
  keyPem: string;
}

export interface Validity {
  notBefore?: Date;
  notAfter?: Date;
}

export interface LeafSpec extends Validity {
  cn: string;
  /** DNS names, IP addresses and URIs for the subjectAltName. */
  dns?: string[];
  ips?: string[];
  uris?: string[];
  usage: 'server' | 'client' | 'both';
  serial?: string;
}

function defaults(v: Validity): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: v.notBefore ?? new Date(now - DAY), notAfter: v.notAfter ?? new Date(now + 365 * DAY) };
}

async function pemOf(issuedCert: x509.X509Certificate, keys: CryptoKeyPair): Promise<Issued> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as webcrypto.CryptoKey);
  return { cert: issuedCert, keys, certPem: issuedCert.toString('pem') + '\n', keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') + '\n' };
}

export function randomSerial(): string {
  const b = randomBytes(12);
  b[0] = (b[0] ?? 0) & 0x7f; // positive INTEGER
  return b.toString('hex');
}

export async function createCa(cn: string, validity: Validity = {}): Promise<Issued> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${cn}, O=qkd-harness test PKI`,
    ...defaults(validity),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return pemOf(cert, keys);
}

export async function issueLeaf(ca: Issued, spec: LeafSpec): Promise<Issued> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const names: x509.JsonGeneralName[] = [
    ...(spec.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(spec.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(spec.uris ?? []).map((value) => ({ type: 'url' as const, value })),
  ];
  const eku = spec.usage === 'server' ? [x509.ExtendedKeyUsage.serverAuth] : spec.usage === 'client' ? [x509.ExtendedKeyUsage.clientAuth] : [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: spec.serial ?? randomSerial(),
    subject: `CN=${spec.cn}, O=qkd-harness test PKI`,
    issuer: ca.cert.subject,
    ...defaults(spec),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension(eku, false),
      ...(names.length ? [new x509.SubjectAlternativeNameExtension(names, false)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  return pemOf(cert, keys);
}
