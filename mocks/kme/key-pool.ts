// A KME's pool of raw key bits shared with its peer over the QKD link: filled at the link's key rate up
// to `max_key_count` keys of `key_size` bits, emptied by every reservation (ours at enc_keys, the peer's
// announced over the KMS↔KMS link). Both ends apply the same reservations, so their levels agree up to
// the reservations in flight. The bits themselves come from the lanes of qkd-link.ts.

export interface KeyPoolOptions {
  /** Capacity in bits (max_key_count × key_size). */
  capacityBits: number;
  /** Fill rate in bits per second (0: no refill). */
  rateBitsPerSecond: number;
  /** Bits available at start. */
  prefillBits: number;
  /** Milliseconds clock (tests may drive it). */
  clock?: () => number;
}

export class KeyPool {
  private bits: number;
  private last: number;
  private readonly clock: () => number;

  constructor(private readonly o: KeyPoolOptions) {
    this.clock = o.clock ?? (() => performance.now());
    this.bits = Math.min(o.prefillBits, o.capacityBits);
    this.last = this.clock();
  }

  private refill(): void {
    const now = this.clock();
    if (now > this.last) {
      this.bits = Math.min(this.o.capacityBits, this.bits + ((now - this.last) / 1000) * this.o.rateBitsPerSecond);
    }
    this.last = now;
  }

  /** Whole bits available now. */
  level(): number {
    this.refill();
    return Math.floor(this.bits);
  }

  /** Keys of `size` bits the pool can deliver now. */
  keys(size: number): number {
    return Math.floor(this.level() / size);
  }

  /** Takes `bits` if available; false (and nothing taken) otherwise. */
  tryTake(bits: number): boolean {
    this.refill();
    if (bits > this.bits) return false;
    this.bits -= bits;
    return true;
  }

  /** Gives back bits taken for a request that failed. */
  give(bits: number): void {
    this.refill();
    this.bits = Math.min(this.o.capacityBits, this.bits + bits);
  }

  /** The peer used `bits` of the shared stream (never below zero: the peer's view may be ahead). */
  drain(bits: number): void {
    this.refill();
    this.bits = Math.max(0, this.bits - bits);
  }
}
