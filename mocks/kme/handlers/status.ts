// Get status (clause 5.2, Status data format clause 6.1): every field from the configuration and the pool;
// master_SAE_ID is the caller, slave_SAE_ID the path parameter; stored_key_count counts the keys available
// for this pair: the QKD link's pool for a slave at the peer, this KME's own for a local pair (M12).
import type { KmeState } from '../kme-state.ts';
import type { Answer } from '../respond.ts';
import { checkSlave } from './slave-check.ts';

export function status(k: KmeState, caller: string, slave: string): Answer {
  const c = k.config;
  const slaveKme = checkSlave(k, caller, slave);
  const swapped = k.deviations.has('status-sae-ids-swapped');
  const kmeIds = [k.kmeId, k.registry.kmeIds[slaveKme]];
  if (k.deviations.has('status-kme-ids-swapped')) kmeIds.reverse();
  const body: Record<string, unknown> = {
    source_KME_ID: kmeIds[0],
    target_KME_ID: kmeIds[1],
    master_SAE_ID: swapped ? slave : caller,
    slave_SAE_ID: swapped ? caller : slave,
    key_size: k.deviations.has('status-inconsistent') ? c.max_key_size + 8 : c.key_size,
    stored_key_count: k.deviations.has('constant-status') ? c.prefill : k.poolFor([slave]).keys(c.key_size),
    max_key_count: c.max_key_count,
    max_key_per_request: c.max_key_per_request,
    max_key_size: c.max_key_size,
    min_key_size: c.min_key_size,
    max_SAE_ID_count: c.max_SAE_ID_count,
  };
  if (k.deviations.has('status-incomplete')) delete body.max_SAE_ID_count;
  return { status: 200, body };
}
