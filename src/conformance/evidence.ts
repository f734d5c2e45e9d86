// Evidence attached to every failure: the request, the status, the response body with key material
// redacted, and a curl command that reproduces the exchange with the same client identity.
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

export interface IdentityFiles {
  cert?: string;
  key?: string;
  ca: string;
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function printable(bytes: Uint8Array | undefined): string | undefined {
  if (!bytes || bytes.length === 0) return undefined;
  const text = Buffer.from(bytes).toString('utf8');
  return /^[\t\n\r\x20-\x7e\u00a0-\uffff]*$/.test(text) && !text.includes('\ufffd') && text.length <= 2048 ? text : undefined;
}

export function curlFor(raw: RawResponse, files: IdentityFiles): string {
  const parts = ['curl', '-sS', '-i', '-X', raw.method];
  if (files.cert) parts.push('--cert', shellQuote(files.cert));
  if (files.key) parts.push('--key', shellQuote(files.key));
  parts.push('--cacert', shellQuote(files.ca));
  const ct = Object.entries(raw.requestHeaders).find(([k]) => k.toLowerCase() === 'content-type');
  if (ct) parts.push('-H', shellQuote(`content-type: ${ct[1]}`));
  const body = printable(raw.requestBody);
  if (body !== undefined) parts.push('--data-binary', shellQuote(body));
  else if (raw.requestBody?.length) parts.push('--data-binary', `@body.bin # ${raw.requestBody.length} bytes of binary test input, not shown`);
  parts.push(shellQuote(raw.url));
  return parts.join(' ');
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
