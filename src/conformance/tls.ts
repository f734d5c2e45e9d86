// TLS material the harness makes for itself: a client certificate from a CA no target trusts.
import { createCa, issueLeaf } from '../pki/certificate.ts';
import type { KmeClient } from '../kme/client.ts';
import type { CheckContext } from './context.ts';
import type { Role } from '../target/clients.ts';

let otherCa: Promise<{ cert: string; key: string }> | undefined;

/** A client for `role` whose certificate (same SAE ID) is signed by a throw-away CA. */
export async function ephemeralOtherCaClient(t: CheckContext, role: Role): Promise<KmeClient> {
  const saeId = t.role(role)?.saeId ?? 'SAE';
  otherCa ??= (async () => {
    const ca = await createCa('qkd-harness untrusted CA');
    const leaf = await issueLeaf(ca, { cn: saeId, usage: 'client' });
    return { cert: leaf.certPem, key: leaf.keyPem };
  })();
  const m = await otherCa;
  return t.variant(role, { cert: m.cert, key: m.key }, { cert: '<untrusted-ca-cert.pem>', key: '<untrusted-ca-key.pem>' });
}
