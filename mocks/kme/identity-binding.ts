// How the calling SAE's ID is read from its client certificate (clause 5.1 leaves the binding open):
// the subject CN, a URI SAN with a configured prefix, or the serial number looked up in a table.
import type { PeerCertificate } from 'node:tls';

export type BindingKind = 'cn' | 'uri' | 'serial';

export interface Binding {
  kind: BindingKind;
  /** URI SAN prefix for `uri` (the ID is the URL-decoded rest). */
  uriPrefix: string;
  /** Serial number (hex, any case, leading zeros and colons ignored) → SAE ID, for `serial`. */
  serials: Record<string, string>;
}

export const normaliseSerial = (hex: string): string => hex.replace(/[^0-9a-fA-F]/g, '').toUpperCase().replace(/^0+(?=.)/, '');

/** The SAE ID the certificate carries under the binding, or undefined when it carries none. */
export function saeIdFromCertificate(cert: PeerCertificate | undefined, binding: Binding): string | undefined {
  if (!cert || Object.keys(cert).length === 0) return undefined;
  switch (binding.kind) {
    case 'cn': {
      const cn = cert.subject?.CN as string | string[] | undefined;
      return typeof cn === 'string' && cn !== '' ? cn : undefined;
    }
    case 'uri': {
      for (const part of (cert.subjectaltname ?? '').split(/,\s*/)) {
        if (!part.startsWith('URI:')) continue;
        const uri = part.slice(4);
        if (uri.startsWith(binding.uriPrefix) && uri.length > binding.uriPrefix.length) {
          try {
            return decodeURIComponent(uri.slice(binding.uriPrefix.length));
          } catch {
            return undefined;
          }
        }
      }
      return undefined;
    }
    case 'serial': {
      const serial = cert.serialNumber ? normaliseSerial(cert.serialNumber) : '';
      return serial ? binding.serials[serial] : undefined;
    }
  }
}
