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
  /** Files for reproductions (`curl --cert … --key … --cacert …`). */
  files: { cert: string; key: string; ca: string };
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
    servername: kme.servername,
    timeoutMs: profile.timeout_ms,
    maxResponseBytes: profile.max_response_bytes,
  });
  return { role, saeId: sae.id, kmeName: sae.kme, client: new KmeClient(identity, kme.url), files: { cert: sae.cert, key: sae.key, ca: kme.ca } };
}

export async function closeClients(clients: Array<RoleClient | undefined>): Promise<void> {
  await Promise.all(clients.map((c) => c?.client.identity.close()));
}

