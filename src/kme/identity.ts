// One SAE identity: the TLS material and limits every request it makes shares (clause 4, 5.1).
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { type PeerCertificate, checkServerIdentity } from 'node:tls';
import { Agent } from 'undici';
import { KmeTransportError } from './errors.ts';
import { describeCertificateNames, kmeIdInCertificate } from './kme-id.ts';

export interface TlsMaterial {
  /** PEM of the CA(s) that sign the KME certificate; absent for a plain-HTTP KME (https:// then trusts Node's roots). */
  ca?: string | Buffer;
  /** PEM client certificate (chain) and key; both or neither (neither only for negative tests). */
  cert?: string | Buffer;
  key?: string | Buffer;
}

export interface IdentityOptions extends TlsMaterial {
  /** The SAE ID this identity claims (for reports; the KME derives it from the certificate). */
  saeId: string;
  /** Expected KME ID in the KME certificate (CN, URI SAN ending in the ID, or DNS SAN); unchecked if absent. */
  kmeId?: string;
  /**
   * Whether every connection verifies `kmeId` against the KME certificate (default true). The conformance
   * role clients turn it off: a KME certificate without the ID is qkd014/4/7's finding, not a reason to
   * refuse every other check (chain and host name are still verified).
   */
  verifyKmeId?: boolean;
  /** TLS server name to send and verify; defaults to the URL host. */
  servername?: string;
  minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  ciphers?: string;
  /** Whole-request deadline in milliseconds (connect + headers + body). */
  timeoutMs?: number;
  /** Cap on a response body in bytes. */
  maxResponseBytes?: number;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

export class SaeIdentity {
  readonly saeId: string;
  readonly kmeId: string | undefined;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  readonly dispatcher: Agent;
  readonly options: IdentityOptions;

  constructor(options: IdentityOptions) {
    if (Boolean(options.cert) !== Boolean(options.key)) {
      throw new KmeTransportError('tls-protocol', `identity ${options.saeId}: a client certificate and its key go together`);
    }
    this.options = options;
    this.saeId = options.saeId;
    this.kmeId = options.kmeId;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    const kmeId = options.verifyKmeId === false ? undefined : options.kmeId;
    this.dispatcher = new Agent({
      connect: {
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        servername: options.servername,
        minVersion: options.minVersion ?? 'TLSv1.2',
        maxVersion: options.maxVersion,
        ciphers: options.ciphers,
        rejectUnauthorized: true,
        timeout: this.timeoutMs,
        checkServerIdentity: (host: string, cert: PeerCertificate) => {
          const name = options.servername ?? host;
          if (checkServerIdentity(name, cert)) {
            return certificateNameError('ERR_TLS_CERT_ALTNAME_INVALID', `the KME certificate does not match the host name ${name} dialled (it carries ${describeCertificateNames(new X509Certificate(cert.raw))})`);
          }
          if (kmeId !== undefined && !kmeIdInCertificate(new X509Certificate(cert.raw), kmeId)) {
            return certificateNameError('ERR_QKD_KME_ID_MISMATCH', `the KME certificate does not carry the KME ID ${kmeId} (it carries ${describeCertificateNames(new X509Certificate(cert.raw))})`);
          }
          return undefined;
        },
      },
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      connections: 8,
    });
  }

  /** Loads PEM files for an identity (paths already resolved; all absent for a plain-HTTP KME). */
  static fromFiles(o: Omit<IdentityOptions, 'ca' | 'cert' | 'key'> & { ca?: string; cert?: string; key?: string }): SaeIdentity {
    return new SaeIdentity({
      ...o,
      ca: o.ca ? readFileSync(o.ca) : undefined,
      cert: o.cert ? readFileSync(o.cert) : undefined,
      key: o.key ? readFileSync(o.key) : undefined,
    });
  }

  /**
   * What is wrong with our own client certificate, judged locally. A Node or Go KME rejects a bad client
   * certificate by closing the connection without a TLS alert, so this is how we name the cause.
   */
  clientCertProblem(): { kind: 'client-cert-rejected' | 'client-cert-expired' | 'client-cert-unknown-ca'; text: string } | undefined {
    if (this.certProblem !== null) return this.certProblem;
    this.certProblem = diagnoseClientCert(this.options);
    return this.certProblem;
  }

  private certProblem: ReturnType<SaeIdentity['clientCertProblem']> | null = null;

  async close(): Promise<void> {
    await this.dispatcher.destroy();
  }
}

/** A certificate-name failure whose `detail` (the names the certificate carries) the transport error keeps. */
function certificateNameError(code: string, detail: string): Error {
  return Object.assign(new Error(detail), { code, detail });
}

function diagnoseClientCert(o: IdentityOptions): ReturnType<SaeIdentity['clientCertProblem']> {
  if (!o.cert) return { kind: 'client-cert-rejected', text: 'we presented no client certificate' };
  try {
    const cert = new X509Certificate(o.cert);
    const now = Date.now();
    if (Date.parse(cert.validTo) < now || Date.parse(cert.validFrom) > now) {
      return { kind: 'client-cert-expired', text: `our client certificate is outside its validity (${cert.validFrom} – ${cert.validTo})` };
    }
    const cas = String(o.ca ?? '').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    const issued = cas.some((pem) => {
      const ca = new X509Certificate(pem);
      return cert.checkIssued(ca) && cert.verify(ca.publicKey);
    });
    if (cas.length && !issued) return { kind: 'client-cert-unknown-ca', text: 'our client certificate is not issued by the CA configured for this KME' };
  } catch {
    return { kind: 'client-cert-rejected', text: 'our client certificate cannot be parsed' };
  }
  return undefined;
}
