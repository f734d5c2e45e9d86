// TLS material the harness makes for itself: a client certificate from a CA no target trusts.
import { createCa, issueLeaf } from '../pki/certificate.ts';
import type { KmeClient } from '../kme/client.ts';
import type { CheckContext } from './context.ts';
import { shellQuote, type IdentityFiles } from './evidence.ts';
import type { Role } from '../target/clients.ts';

/** One throw-away CA and leaf per SAE ID for the whole process (making them costs a key generation each). */
const otherCa = new Map<string, Promise<{ cert: string; key: string }>>();

/** Where the reproduction command writes its own throw-away certificate and key. */
const REPRO_CERT = '/tmp/qkd-harness-untrusted.pem';
const REPRO_KEY = '/tmp/qkd-harness-untrusted.key';

/** `-subj` text for a CN: OpenSSL reads `/` as the next attribute and `\` as an escape, so both are escaped. */
const subjectCn = (cn: string): string => `/CN=${cn.replace(/[\\/]/g, (c) => `\\${c}`)}`;

/**
 * Reproduction files for a client certificate from a CA the target does not trust: the in-memory CA's key
 * must never reach a report, so the command makes its own self-signed P-256 certificate with the same
 * subject CN (an untrusted issuer either way) and uses that.
 */
export function untrustedCertFiles(saeId: string): Pick<IdentityFiles, 'cert' | 'key' | 'setup'> {
  const setup = ['openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes', '-subj', shellQuote(subjectCn(saeId)), '-days 1 -keyout', REPRO_KEY, '-out', REPRO_CERT, '2>/dev/null'].join(' ');
  return { cert: REPRO_CERT, key: REPRO_KEY, setup };
}

/** A client for `role` whose certificate (same SAE ID) is signed by a throw-away CA. */
export async function ephemeralOtherCaClient(t: CheckContext, role: Role): Promise<KmeClient> {
  const saeId = t.role(role)?.saeId ?? 'SAE';
  let made = otherCa.get(saeId);
  if (!made) {
    made = (async () => {
      const ca = await createCa('qkd-harness untrusted CA');
      const leaf = await issueLeaf(ca, { cn: saeId, usage: 'client' });
      return { cert: leaf.certPem, key: leaf.keyPem };
    })();
    otherCa.set(saeId, made);
  }
  const m = await made;
  return t.variant(role, { cert: m.cert, key: m.key }, untrustedCertFiles(saeId));
}
