// How the calling SAE's ID is read from its client certificate (clause 5.1 leaves the binding open):
// the subject CN, a URI SAN with a configured prefix, or the serial number looked up in a table. Names are
// read with the harness's one certificate-name reader (src/kme/kme-id.ts `certificateNames`).
import type { X509Certificate } from 'node:crypto';
import { certificateNames } from '../../src/kme/kme-id.ts';

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
export function saeIdFromCertificate(cert: X509Certificate | undefined, binding: Binding): string | undefined {
  if (!cert) return undefined;
  switch (binding.kind) {
    case 'cn': {
      const cn = certificateNames(cert).cn;
      return cn ? cn : undefined;
    }
    case 'uri': {
      const uri = certificateNames(cert).uris.find((u) => u.startsWith(binding.uriPrefix) && u.length > binding.uriPrefix.length);
      if (uri === undefined) return undefined;
      try {
        return decodeURIComponent(uri.slice(binding.uriPrefix.length));
      } catch {
        return undefined;
      }
    }
    case 'serial': {
      const serial = normaliseSerial(cert.serialNumber);
      return serial ? binding.serials[serial] : undefined;
    }
  }
}
