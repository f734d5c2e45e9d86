// Which test file shows each deviation switch. deviations.test.ts switches one shared pair at run time;
// the switches below act on connections, client certificates, authorisation or time (stalls) and are shown
// in deviations-transport.test.ts, with their own clients and log. Each file checks it covers exactly its share.
import type { DeviationName } from './deviations.ts';

export const TRANSPORT_DEVIATIONS = [
  'unauthenticated-served-oversized',
  'unauthenticated-served-reset',
  'dec-keys-ignores-master',
  'master-can-redeem',
  'unknown-slave-served',
  'stall-body',
  'lying-content-length',
  'slow-headers',
] as const satisfies readonly DeviationName[];

export type TransportDeviation = (typeof TRANSPORT_DEVIATIONS)[number];

export const isTransportDeviation = (name: string): name is TransportDeviation => (TRANSPORT_DEVIATIONS as readonly string[]).includes(name);
