// The KMS↔KMS link: the master's KME announces each reservation to the slave's KME and waits for its
// acknowledgement before answering enc_keys, so the slave can call dec_keys at once. Two transports:
// an in-memory channel for two KMEs in one process, and mutual-TLS TCP (kms-link-tcp.ts) between
// processes or network namespaces.
import type { ReservationMessage } from './reservations.ts';

/** Why a reservation could not be confirmed; enc_keys answers 503 with this text. */
export class LinkError extends Error {
  override name = 'LinkError';
}

/** Applies a reservation from the peer; throws (with a reason for the peer) to refuse it. */
export type ReservationHandler = (msg: ReservationMessage) => void;

export interface KmsLink {
  /** Sends a reservation; resolves when the peer acknowledged it, rejects with a LinkError otherwise. */
  reserve(msg: ReservationMessage): Promise<void>;
  /** Installs the handler for the peer's reservations. */
  onReservation(handler: ReservationHandler): void;
  /** Whether the peer can be reached now. */
  isUp(): boolean;
  close(): Promise<void>;
}

/** Both ends of an in-memory link, plus a switch that simulates the peer being down. */
export interface MemoryLinkPair {
  A: KmsLink;
  B: KmsLink;
  /** false: every reservation fails as if the peer KME were unreachable. */
  setUp(up: boolean): void;
}

export function createMemoryLinkPair(): MemoryLinkPair {
  let up = true;
  const handlers: { A?: ReservationHandler; B?: ReservationHandler } = {};
  const end = (self: 'A' | 'B', peer: 'A' | 'B'): KmsLink => ({
    async reserve(msg) {
      await Promise.resolve(); // like a network: never synchronous
      const handler = handlers[peer];
      if (!up || !handler) throw new LinkError(`the KMS link to the peer KME is down`);
      // A deep copy: the peer must not share objects with us (it would not across processes).
      const copy = JSON.parse(JSON.stringify(msg)) as ReservationMessage;
      try {
        handler(copy);
      } catch (err) {
        throw new LinkError(`the peer KME refused the reservation: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
    onReservation(handler) {
      handlers[self] = handler;
    },
    isUp: () => up && handlers[peer] !== undefined,
    async close() {
      delete handlers[self];
    },
  });
  return {
    A: end('A', 'B'),
    B: end('B', 'A'),
    setUp(value) {
      up = value;
    },
  };
}
