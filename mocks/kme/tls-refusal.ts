// Why a TLS client was not let in, in words a vendor can act on: which check of the client certificate
// failed (Node's `authorizationError`, an OpenSSL X509_V_ERR name) with the certificate's subject, issuer
// and validity, or what went wrong in the handshake itself. Everything quoted is bounded and printable.
import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { printable } from './request-log.ts';

/** OpenSSL verification results (X509_V_ERR_*) a client certificate commonly fails with, explained. */
const VERIFY_REASONS: Record<string, string> = {
  CERT_HAS_EXPIRED: 'the certificate has expired',
  CERT_NOT_YET_VALID: 'the certificate is not valid yet',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the certificate is not signed by the CA this KME trusts',
  UNABLE_TO_GET_ISSUER_CERT: 'the certificate is not signed by the CA this KME trusts',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the certificate is not signed by the CA this KME trusts',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'the certificate chain ends in a CA this KME does not trust',
  CERT_SIGNATURE_FAILURE: 'the certificate signature does not verify',
  INVALID_PURPOSE: 'the certificate is not for TLS client authentication (extended key usage without clientAuth)',
  CERT_REVOKED: 'the certificate is revoked',
  CERT_UNTRUSTED: 'the certificate is not trusted for client authentication',
};

const date = (text: string): string => {
  const t = Date.parse(text);
  return Number.isNaN(t) ? printable(text, 40) : new Date(t).toISOString().replace('.000Z', 'Z');
};

/** `subject "CN=…, O=…", issuer "…", valid FROM – TO` of a certificate. */
export function certificateSummary(cert: X509Certificate): string {
  const name = (dn: string): string => printable(dn.split('\n').join(', '), 160);
  return `subject "${name(cert.subject)}", issuer "${name(cert.issuer)}", valid ${date(cert.validFrom)} – ${date(cert.validTo)}`;
}

/** Why the client certificate of a completed handshake did not authenticate (the socket is not `authorized`). */
export function clientCertificateVerdict(socket: TLSSocket): string {
  const cert = socket.getPeerX509Certificate();
  if (!cert) return 'no client certificate was presented';
  const raw: unknown = socket.authorizationError;
  const code = printable(String((raw as { code?: unknown } | null)?.code ?? raw ?? 'unknown'), 60);
  return `${code} (${VERIFY_REASONS[code] ?? 'the certificate did not verify against the CA this KME trusts'}); ${certificateSummary(cert)}`;
}

/** A failed handshake (`tlsClientError`): the OpenSSL reason when there is one, else the error code. */
export function handshakeFailure(err: NodeJS.ErrnoException & { reason?: string }): string {
  if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'ERR_TLS_HANDSHAKE_TIMEOUT (no complete handshake within handshake_ms)';
  const reason = typeof err.reason === 'string' ? ` (${printable(err.reason, 120)})` : '';
  return `${printable(err.code ?? err.message.split('\n')[0] ?? 'error', 80)}${reason}`;
}
