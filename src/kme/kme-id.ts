// How a KME ID is bound to its certificate is unspecified by ETSI GS QKD 014: accept CN, a URI SAN
// whose last segment is the ID, or a DNS SAN equal to it.
import type { X509Certificate } from 'node:crypto';

export function certificateNames(cert: X509Certificate): { cn?: string; uris: string[]; dns: string[]; ips: string[] } {
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  const san = cert.subjectAltName ?? '';
  const parts = san.split(/,\s*/);
  return {
    cn,
    uris: parts.filter((p) => p.startsWith('URI:')).map((p) => p.slice(4)),
    dns: parts.filter((p) => p.startsWith('DNS:')).map((p) => p.slice(4)),
    ips: parts.filter((p) => p.startsWith('IP Address:')).map((p) => p.slice(11)),
  };
}

export function kmeIdInCertificate(cert: X509Certificate, kmeId: string): boolean {
  const n = certificateNames(cert);
  return n.cn === kmeId || n.dns.includes(kmeId) || n.uris.some((u) => u === kmeId || u.split(/[:/]/).pop() === kmeId);
}

/** The names a certificate carries, for messages: `CN=KME_A, DNS:kme-a.example, URI:urn:…` (or "no names"). */
export function describeCertificateNames(cert: X509Certificate): string {
  const n = certificateNames(cert);
  const all = [...(n.cn ? [`CN=${n.cn}`] : []), ...n.dns.map((d) => `DNS:${d}`), ...n.uris.map((u) => `URI:${u}`)];
  const ips = (cert.subjectAltName ?? '').split(/,\s*/).filter((p) => p.startsWith('IP Address:')).map((p) => `IP:${p.slice('IP Address:'.length)}`);
  return [...all, ...ips].join(', ') || 'no names';
}
