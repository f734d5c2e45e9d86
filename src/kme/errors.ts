// Transport failures, each with a distinct kind and one clear sentence. Messages never carry key material.
import type { RawResponse } from './transport.ts';

export type TransportErrorKind =
  | 'deadline' // the KME did not answer (connect, headers or body) within the deadline
  | 'response-too-large' // the body exceeded the response size cap
  | 'client-cert-rejected' // the KME refused our client certificate (or its absence)
  | 'client-cert-expired' // the KME refused our client certificate as expired
  | 'client-cert-unknown-ca' // the KME does not trust the CA of our client certificate
  | 'server-cert-untrusted' // the KME's certificate does not chain to our CA
  | 'server-cert-expired' // the KME's certificate is expired or not yet valid
  | 'server-identity-mismatch' // the KME's certificate does not name the host we dialled
  | 'kme-id-mismatch' // the KME's certificate does not carry the expected KME ID
  | 'tls-protocol' // no common TLS version/cipher, or a TLS-level failure we cannot name better
  | 'connection-refused'
  | 'connection-reset'
  | 'host-not-found'
  | 'protocol' // not HTTP, or HTTP we cannot accept (status outside 100–599, plain HTTP to https)
  | 'network';

export class KmeTransportError extends Error {
  override name = 'KmeTransportError';
  /**
   * The HTTP status of the response head, when the failure came after one (a body that was too large,
   * cut off or too slow). Then the KME did answer: a 2xx/3xx head means it served the request, whatever
   * happened to the body; only failures without a head can be refusals at the TLS layer.
   */
  readonly responseStatus?: number;
  /** What went wrong after that head, in words that follow "the KME answered 200, then …". */
  readonly afterHead?: string;
  /** The exchange up to the failure (request, head, the body so far), kept as evidence. */
  partial?: RawResponse;

  constructor(
    readonly kind: TransportErrorKind,
    message: string,
    readonly code?: string,
    head?: { status: number; then: string },
  ) {
    super(message);
    if (head) {
      this.responseStatus = head.status;
      this.afterHead = head.then;
    }
  }
}

/** What went wrong after a response head, for failures whose own message assumes no answer came. */
const AFTER_HEAD: Partial<Record<TransportErrorKind, string>> = {
  deadline: 'the body did not complete within the deadline',
  'connection-reset': 'the connection was closed before the body was complete',
  protocol: 'the body was not valid HTTP framing',
  network: 'the body could not be read',
};

/**
 * The same failure, marked as happening after a response head with `status`: the message says the KME
 * answered (never "without an answer"), and `responseStatus` lets callers judge the head.
 */
export function afterResponseHead(err: KmeTransportError, status: number, where: string): KmeTransportError {
  if (err.responseStatus !== undefined) return err;
  const own = err.message.startsWith(`${where}: `) ? err.message.slice(where.length + 2) : err.message;
  const then = `${AFTER_HEAD[err.kind] ?? own}${AFTER_HEAD[err.kind] && err.code ? ` (${err.code})` : ''}`;
  return new KmeTransportError(err.kind, `${where}: the KME answered ${status}, then ${then}`, err.code, { status, then });
}

/** Walks an error and its causes for Node/undici/OpenSSL codes. */
function codesOf(err: unknown): string[] {
  const codes: string[] = [];
  for (let e = err as { code?: unknown; cause?: unknown; message?: unknown } | undefined, depth = 0; e && depth < 6; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string') codes.push(e.code);
    if (typeof e.message === 'string') codes.push(e.message);
  }
  return codes;
}

const RULES: Array<[RegExp, TransportErrorKind, string]> = [
  [/ERR_QKD_KME_ID_MISMATCH/, 'kme-id-mismatch', 'the KME certificate does not carry the expected KME ID'],
  [/CERT_HAS_EXPIRED|CERT_NOT_YET_VALID/, 'server-cert-expired', 'the KME certificate is expired or not yet valid'],
  [/ERR_TLS_CERT_ALTNAME_INVALID|Hostname\/IP does not match/, 'server-identity-mismatch', 'the KME certificate does not match the host name dialled'],
  [/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT|CERT_SIGNATURE_FAILURE/, 'server-cert-untrusted', 'the KME certificate is not signed by the configured CA'],
  [/ALERT_CERTIFICATE_EXPIRED/, 'client-cert-expired', 'the KME rejected our client certificate as expired'],
  [/ALERT_UNKNOWN_CA|ALERT_BAD_CERTIFICATE|ALERT_DECRYPT_ERROR/, 'client-cert-unknown-ca', 'the KME rejected our client certificate (unknown or untrusted CA)'],
  [/ALERT_CERTIFICATE_REQUIRED|ALERT_HANDSHAKE_FAILURE|ALERT_CERTIFICATE_UNKNOWN|ALERT_ACCESS_DENIED/, 'client-cert-rejected', 'the KME rejected the TLS handshake for our client identity'],
  [/ERR_SSL_WRONG_VERSION_NUMBER|ERR_SSL_PACKET_LENGTH_TOO_LONG/, 'protocol', 'the KME did not speak TLS on this port (plain HTTP?)'],
  [/ERR_SSL_|ERR_TLS_|EPROTO|UNSUPPORTED_PROTOCOL|NO_PROTOCOLS|ALERT_PROTOCOL_VERSION/, 'tls-protocol', 'the TLS handshake with the KME failed'],
  [/UND_ERR_HEADERS_TIMEOUT|UND_ERR_BODY_TIMEOUT|UND_ERR_CONNECT_TIMEOUT|ETIMEDOUT/, 'deadline', 'the KME did not answer within the deadline'],
  [/ECONNREFUSED/, 'connection-refused', 'the KME refused the connection'],
  [/ENOTFOUND|EAI_AGAIN/, 'host-not-found', 'the KME host name does not resolve'],
  [/ECONNRESET|UND_ERR_SOCKET|EPIPE|other side closed/, 'connection-reset', 'the KME closed the connection before any HTTP answer (under TLS 1.3 this is how a rejected client certificate shows)'],
  [/UND_ERR_INVALID_ARG|HPE_|UND_ERR_RES/, 'protocol', 'the KME answered with something that is not valid HTTP'],
];

/** The first `detail` sentence in an error's cause chain (set by our own certificate checks, see identity.ts). */
function detailOf(err: unknown): string | undefined {
  for (let e = err as { detail?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 6; e = e.cause as typeof e, depth++) {
    if (typeof e.detail === 'string') return e.detail;
  }
  return undefined;
}

/** Maps any failure of a request to a KmeTransportError naming what happened and where. */
export function classifyTransportError(err: unknown, where: string): KmeTransportError {
  if (err instanceof KmeTransportError) return err;
  const codes = codesOf(err);
  const joined = codes.join(' ');
  const detail = detailOf(err);
  for (const [re, kind, generic] of RULES) {
    const m = joined.match(re);
    if (m) {
      const text = detail ?? generic;
      // Name the whole code (ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION), not just the part the rule matched.
      const start = joined.lastIndexOf(' ', m.index ?? 0) + 1;
      const token = joined.slice(start).match(/^[\w./-]+/)?.[0] ?? m[0];
      return new KmeTransportError(kind, `${where}: ${text} (${token})`, token);
    }
  }
  return new KmeTransportError('network', `${where}: request failed (${codes[0] ?? String(err)})`, codes[0]);
}
