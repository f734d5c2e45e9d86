// Turns a loaded target profile into one typed KME client per SAE role.
import { KmeClient } from '../kme/client.ts';
import { SaeIdentity } from '../kme/identity.ts';
import type { TargetProfile } from './schema.ts';

export type Role = 'master' | 'slave' | 'outsider';

export interface RoleClient {
  role: Role;
  saeId: string;
  kmeName: string;
  client: KmeClient;
  /** Files for reproductions (`curl --cert … --key … --cacert …`); absent for a plain-HTTP KME. */
  files: { cert?: string; key?: string; ca?: string };
}

export function clientFor(profile: TargetProfile, role: Role): RoleClient | undefined {
  const sae = profile.saes[role];
  if (!sae) return undefined;
  const kme = profile.kmes[sae.kme]!;
  const identity = SaeIdentity.fromFiles({
    saeId: sae.id,
    ca: kme.ca,
    cert: sae.cert,
    key: sae.key,
    kmeId: kme.kme_id,
    // A certificate without the configured KME ID is qkd014/4/7's finding (it verifies through a variant);
    // every other check still runs. Chain and host name are verified on every connection.
    verifyKmeId: false,
    servername: kme.servername,
    timeoutMs: profile.timeout_ms,
    maxResponseBytes: profile.max_response_bytes,
  });
  return { role, saeId: sae.id, kmeName: sae.kme, client: new KmeClient(identity, kme.url), files: { ...(sae.cert ? { cert: sae.cert } : {}), ...(sae.key ? { key: sae.key } : {}), ...(kme.ca ? { ca: kme.ca } : {}) } };
}

export async function closeClients(clients: Array<RoleClient | undefined>): Promise<void> {
  await Promise.all(clients.map((c) => c?.client.identity.close()));
}

