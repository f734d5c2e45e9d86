// Who the master may name as slave (Status and Get key): a registered SAE other than itself.
// Policy (docs/mock-kme.md, M3): an SAE registered at no KME of the link → 401, the master is not
// authorised to share keys with it; naming itself → 400. Deviation unknown-slave-served: an unknown SAE is
// served as if it were attached to this KME (nobody can then retrieve the keys).
import { KmeError, unauthorized } from '../errors.ts';
import type { KmeName } from '../registry.ts';
import type { KmeState } from '../kme-state.ts';
import { printable } from '../request-log.ts';

/** The KME the slave is attached to; throws the KmeError (401/400) when the caller may not name it. */
export function checkSlave(k: KmeState, caller: string, slave: string, where = 'slave_SAE_ID'): KmeName {
  const kme = k.registry.kmeOf(slave) ?? (k.deviations.has('unknown-slave-served') ? k.name : undefined);
  if (!kme) throw unauthorized(`${where} ${printable(slave, 64)} is not an SAE registered at this link's KMEs; ${caller} may not share keys with it`);
  if (slave === caller) throw new KmeError(400, 'limit', `${where} names the calling SAE itself`);
  return kme;
}
