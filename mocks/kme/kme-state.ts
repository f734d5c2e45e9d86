// Everything one KME knows, without HTTP: its configuration, the SAE registry, the link's pool shared with
// the peer and its own pool for local pairs, the keys it holds for slaves and the keys it made, its lane of
// the QKD link and the KMS↔KMS link to its peer. Handlers work on this.
import type { MockConfig } from './config.ts';
import { poolParameters } from './config.ts';
import type { DeviationSwitch } from './deviation-switch.ts';
import { keyMaker } from './key-material.ts';
import { KeyPool } from './key-pool.ts';
import type { KmsLink } from './kms-link.ts';
import { newEpoch, type Lane, type QkdLink } from './qkd-link.ts';
import { peerOf, type KmeName, type SaeRegistry } from './registry.ts';
import { ReservationStore, type ReservationMessage } from './reservations.ts';

export interface KmeStateOptions {
  name: KmeName;
  config: MockConfig;
  registry: SaeRegistry;
  qkd: QkdLink;
  link: KmsLink;
  deviations: DeviationSwitch;
}

export class KmeState {
  readonly name: KmeName;
  readonly kmeId: string;
  readonly peerKmeId: string;
  readonly config: MockConfig;
  readonly registry: SaeRegistry;
  /** The QKD link's key material, shared with the peer: deliveries that cross the link and the peer's reservations take from it. */
  readonly pool: KeyPool;
  /**
   * Key material for a master and slaves all attached here (M12): such keys never cross the QKD link, so
   * they leave the link's pool — and with it both ends' stored_key_count — alone. Same limits and rate.
   */
  readonly localPool: KeyPool;
  /** Keys held here for the slaves attached to this KME. */
  readonly store: ReservationStore;
  /**
   * Keys this KME made at enc_keys (key_ID → master, slaves, lane position; `pending` = the master), so
   * that dec_keys can answer the master itself 401 (clause 5.4) rather than "not found". Bounded like the store.
   */
  readonly issued: ReservationStore;
  readonly qkd: QkdLink;
  readonly lane: Lane;
  readonly link: KmsLink;
  readonly deviations: DeviationSwitch;
  /** Next unused byte of this KME's lane. */
  cursor = 0;

  constructor(o: KmeStateOptions) {
    this.name = o.name;
    this.config = o.config;
    this.registry = o.registry;
    this.kmeId = o.registry.kmeIds[o.name];
    this.peerKmeId = o.registry.kmeIds[peerOf(o.name)];
    this.pool = new KeyPool(poolParameters(o.config));
    this.localPool = new KeyPool(poolParameters(o.config));
    this.issued = new ReservationStore('once', Math.max(o.config.max_key_count, 10_000));
    this.store = new ReservationStore(o.config.multi_slave_delivery, Math.max(o.config.max_key_count, 10_000), () => o.deviations.has('drop-uncollected-keys'));
    this.qkd = o.qkd;
    this.lane = o.qkd.lane(this.kmeId, newEpoch());
    this.link = o.link;
    this.deviations = o.deviations;
    o.link.onReservation((msg) => this.acceptReservation(msg));
  }

  /** A reservation from the peer's KME: checked (it is authenticated, but still input), stored, counted. */
  acceptReservation(msg: ReservationMessage): void {
    const m = msg as unknown as Record<string, unknown>;
    if (m === null || typeof m !== 'object') throw new Error('the reservation is not an object');
    if (m.master_kme !== this.peerKmeId) throw new Error(`the reservation comes from ${String(m.master_kme)}, not from the peer ${this.peerKmeId}`);
    if (typeof m.epoch !== 'string' || !/^[0-9a-f]{1,64}$/.test(m.epoch)) throw new Error('the reservation has no valid epoch');
    if (typeof m.master_SAE_ID !== 'string') throw new Error('the reservation names no master SAE');
    const slaves = m.slave_SAE_IDs;
    if (!Array.isArray(slaves) || slaves.some((s) => typeof s !== 'string')) throw new Error('the reservation has no valid slave list');
    const local = (slaves as string[]).filter((s) => this.registry.isAttached(s, this.name));
    if (local.length === 0) throw new Error(`none of the slaves is attached to ${this.kmeId}`);
    const keys = m.keys;
    if (!Array.isArray(keys) || keys.length > 100_000) throw new Error('the reservation has no valid key list');
    for (const k of keys as Array<Record<string, unknown>>) {
      const ok =
        k !== null &&
        typeof k === 'object' &&
        typeof k.key_ID === 'string' &&
        k.key_ID.length >= 1 &&
        k.key_ID.length <= 256 &&
        Number.isSafeInteger(k.offset) &&
        (k.offset as number) >= 0 &&
        Number.isInteger(k.size) &&
        (k.size as number) >= 1 &&
        (k.size as number) <= 1 << 20;
      if (!ok) throw new Error('the reservation has a malformed key entry');
    }
    const bits = typeof m.pool_bits === 'number' && Number.isFinite(m.pool_bits) && m.pool_bits >= 0 ? m.pool_bits : 0;
    this.store.add(msg, local);
    this.pool.drain(bits);
  }

  /** The pool that pays for keys shared with these slaves: the link's when one of them is at the peer, else the local one. */
  poolFor(slaves: readonly string[]): KeyPool {
    const peer = peerOf(this.name);
    return slaves.some((s) => this.registry.isAttached(s, peer)) ? this.pool : this.localPool;
  }

  /** The bytes of a stored key, derived from the master KME's lane (as the master's KME made them: key-material.ts). */
  keyBytes(k: { key_ID: string; masterKme: string; epoch: string; offset: number; size: number }): Buffer {
    return keyMaker(this.deviations)(this.qkd.lane(k.masterKme, k.epoch), k);
  }
}
