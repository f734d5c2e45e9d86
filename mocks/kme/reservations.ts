// Keys a KME holds for slave SAEs: reserved by a master's enc_keys (here or at the peer, announced over the
// KMS↔KMS link), delivered once to each named slave attached to this KME, then gone (clause 5.4).

/** One key as the KMS↔KMS link carries it: where in which lane its bits are, not the bits. */
export interface ReservedKey {
  key_ID: string;
  /** Byte offset in the master KME's lane. */
  offset: number;
  /** Size in bits. */
  size: number;
}

/** A reservation as sent from the master's KME to the slave's KME. */
export interface ReservationMessage {
  master_kme: string;
  epoch: string;
  master_SAE_ID: string;
  /** Every slave named at enc_keys: the path slave first, then the additional ones. */
  slave_SAE_IDs: string[];
  keys: ReservedKey[];
  /** Bits the master's KME took from the shared pool (the slave's KME takes the same). */
  pool_bits: number;
}

export interface StoredKey extends ReservedKey {
  masterKme: string;
  epoch: string;
  masterSae: string;
  slaves: readonly string[];
  /** Slaves attached to this KME that have not retrieved the key yet. */
  pending: Set<string>;
}

/** `each-slave`: every named slave at this KME gets the key once; `once`: the first retrieval removes it. */
export type MultiSlaveDelivery = 'each-slave' | 'once';

export class ReservationStore {
  private readonly keys = new Map<string, StoredKey>();

  constructor(
    private readonly delivery: MultiSlaveDelivery,
    /** Most keys held for slaves; beyond it the oldest are dropped (a KME's key store is finite). */
    private readonly capacity = Number.POSITIVE_INFINITY,
    /** Deviation drop-uncollected-keys, read at every reservation: a new one replaces the master's uncollected keys. */
    private readonly dropUncollected: () => boolean = () => false,
  ) {}

  /** Stores the keys of a reservation for the slaves attached here (a key_ID reused by a buggy master replaces the old key). */
  add(msg: ReservationMessage, localSlaves: readonly string[]): void {
    if (this.dropUncollected()) this.forgetPending(msg.master_SAE_ID, localSlaves);
    for (const k of msg.keys) {
      this.keys.delete(k.key_ID); // re-insert at the end (Map order = age)
      this.keys.set(k.key_ID, {
        ...k,
        masterKme: msg.master_kme,
        epoch: msg.epoch,
        masterSae: msg.master_SAE_ID,
        slaves: msg.slave_SAE_IDs,
        pending: new Set(localSlaves),
      });
    }
    for (const oldest of this.keys.keys()) {
      if (this.keys.size <= this.capacity) break;
      this.keys.delete(oldest);
    }
  }

  /** deviation drop-uncollected-keys: the keys `master` obtained earlier stop waiting for `slaves`. */
  private forgetPending(master: string, slaves: readonly string[]): void {
    for (const [id, k] of this.keys) {
      if (k.masterSae !== master) continue;
      for (const s of slaves) k.pending.delete(s);
      if (k.pending.size === 0) this.keys.delete(id);
    }
  }

  get(keyId: string): StoredKey | undefined {
    return this.keys.get(keyId);
  }

  /** Marks a key delivered to `saeId`; removes it when no slave here waits for it any more. */
  delivered(keyId: string, saeId: string): void {
    const k = this.keys.get(keyId);
    if (!k) return;
    k.pending.delete(saeId);
    if (this.delivery === 'once' || k.pending.size === 0) this.keys.delete(keyId);
  }

  remove(keyId: string): void {
    this.keys.delete(keyId);
  }

  get size(): number {
    return this.keys.size;
  }
}
