// Evidence attached to every failure: the request, the status, the response body with key material
// redacted, and a curl command that reproduces the exchange with the same client identity and TLS limits.
import type { IdentityOptions } from '../kme/identity.ts';
import type { RawResponse } from '../kme/transport.ts';
import { redactText } from '../secrets/redact.ts';

export interface Evidence {
  request: string;
  requestBody?: string;
  status: number;
  contentType?: string;
  responseBody: string;
  curl: string;
}

/** TLS protocol limits of a client that differ from the defaults (negative tests of clause 4). */
export type TlsLimits = Pick<IdentityOptions, 'minVersion' | 'maxVersion' | 'ciphers'>;

/** What the reproduction command needs to act as the client that made the exchange. */
export interface IdentityFiles {
  /** Client certificate and key files; absent for a client without a certificate. */
  cert?: string;
  key?: string;
  /** CA file; absent for a plain-HTTP KME. */
  ca?: string;
  /** TLS limits the client used, carried over as curl flags. */
  tls?: TlsLimits;
  /** A shell command run before curl that makes the client material (a throw-away certificate), so no key is in the report. */
  setup?: string;
}

/** The TLS limits set in a client's options (only those given), for IdentityFiles.tls. */
export function tlsLimitsOf(o: Partial<IdentityOptions>): TlsLimits | undefined {
  const out: TlsLimits = { ...(o.minVersion ? { minVersion: o.minVersion } : {}), ...(o.maxVersion ? { maxVersion: o.maxVersion } : {}), ...(o.ciphers ? { ciphers: o.ciphers } : {}) };
  return Object.keys(out).length ? out : undefined;
}

export const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** `TLSv1.2` → `1.2` (curl spells TLS 1.0 `1.0`). */
const curlVersion = (v: NonNullable<TlsLimits['minVersion']>): string => (v === 'TLSv1' ? '1.0' : v.slice('TLSv'.length));

/** curl flags for TLS limits: `--tlsv1.2` (minimum), `--tls-max 1.2`, `--ciphers …` (TLS ≤ 1.2 cipher list, OpenSSL syntax). */
function tlsFlags(tls: TlsLimits | undefined): string[] {
  if (!tls) return [];
  return [...(tls.minVersion ? [`--tlsv${curlVersion(tls.minVersion)}`] : []), ...(tls.maxVersion ? ['--tls-max', curlVersion(tls.maxVersion)] : []), ...(tls.ciphers ? ['--ciphers', shellQuote(tls.ciphers)] : [])];
}

function printable(bytes: Uint8Array | undefined): string | undefined {
  if (!bytes || bytes.length === 0) return undefined;
  const text = Buffer.from(bytes).toString('utf8');
  return /^[\t\n\r\x20-\x7e\u00a0-\uffff]*$/.test(text) && !text.includes('\ufffd') && text.length <= 2048 ? text : undefined;
}

/**
 * A shell command line that repeats the exchange with curl: same method, URL, content type, body, client
 * certificate (none when none was used), TLS limits, and the setup command first when there is one.
 */
export function curlFor(raw: RawResponse, files: IdentityFiles): string {
  const parts = ['curl', '-sS', '-i', ...tlsFlags(files.tls), '-X', raw.method];
  if (files.cert) parts.push('--cert', shellQuote(files.cert));
  if (files.key) parts.push('--key', shellQuote(files.key));
  if (files.ca) parts.push('--cacert', shellQuote(files.ca));
  const ct = Object.entries(raw.requestHeaders).find(([k]) => k.toLowerCase() === 'content-type');
  if (ct) parts.push('-H', shellQuote(`content-type: ${ct[1]}`));
  parts.push(shellQuote(raw.url));
  // The body last: a binary body is named by a comment, which must not swallow the URL.
  const body = printable(raw.requestBody);
  if (body !== undefined) parts.push('--data-binary', shellQuote(body));
  else if (raw.requestBody?.length) parts.push('--data-binary', `@body.bin # ${raw.requestBody.length} bytes of binary test input, not shown`);
  return files.setup ? `${files.setup} && ${parts.join(' ')}` : parts.join(' ');
}

export function evidenceOf(raw: RawResponse, files: IdentityFiles): Evidence {
  const body = printable(raw.requestBody);
  return {
    request: `${raw.method} ${raw.url}`,
    ...(body !== undefined ? { requestBody: body } : raw.requestBody?.length ? { requestBody: `<${raw.requestBody.length} bytes>` } : {}),
    status: raw.status,
    ...(raw.headers['content-type'] ? { contentType: raw.headers['content-type'] } : {}),
    responseBody: redactText(raw.text(), 2048),
    curl: curlFor(raw, files),
  };
}

/** Several pieces of evidence as one text (Allure attachment, failure message). */
export function formatEvidenceList(list: Evidence[]): string {
  return list.map(formatEvidence).join('\n---\n');
}

export function formatEvidence(e: Evidence): string {
  return [`> ${e.request}`, e.requestBody ? `> ${e.requestBody}` : '', `< ${e.status}${e.contentType ? ` (${e.contentType})` : ''}`, `< ${e.responseBody}`, `reproduce: ${e.curl}`].filter(Boolean).join('\n');
}
