// The primary's journal: what changed on its token, in order, with sequence numbers. Each scan of the
// token is compared with the previous one: a key that is new or changed (another fingerprint, key type
// or usages under the same class + label + ID) becomes a `put`, a key that is gone a `delete` (a
// tombstone). The replica acknowledges sequence numbers; whatever lies after its acknowledgement is sent
// again when it returns, so a member that was unreachable catches up, and its idempotent import makes a
// repeated `put` harmless.
//
// The journal lives in the agent's memory with a random ID. A restarted primary starts a new journal
// whose first scan puts every key (the replica finds them present); deletes made while the primary was
// down are not seen. Entries are kept for the agent's life (a lab run makes a few hundred at most).
import { randomUUID } from 'node:crypto';
import { nameKey, versionOf } from './key-state.ts';
import type { KeyDescriptor, WireName } from './protocol.ts';

/** A change before it has a sequence number; `at`: when the scan saw it (ms since the epoch). */
type Change = { at: number; op: 'put'; key: KeyDescriptor } | { at: number; op: 'delete'; name: WireName; fingerprint: string };
export type JournalEntry = Change & { seq: number };

export class Journal {
  readonly id = randomUUID();
  private readonly known = new Map<string, KeyDescriptor>();
  private readonly entries: JournalEntry[] = [];

  /** The last sequence number given (0: none yet). */
  get seq(): number {
    return this.entries.at(-1)?.seq ?? 0;
  }

  /** Names the journal believes are on the token (after the last scan). */
  get size(): number {
    return this.known.size;
  }

  /**
   * Records the changes between the previous scan and `keys` (the replicable keys now on the token).
   * With `dropDeletes` (a fault switch) vanished keys are forgotten without a tombstone.
   * @returns the new entries, and the keys whose tombstone was dropped.
   */
  record(keys: KeyDescriptor[], o: { dropDeletes?: boolean; now?: number } = {}): { added: JournalEntry[]; dropped: KeyDescriptor[] } {
    const at = o.now ?? Date.now();
    const added: JournalEntry[] = [];
    const dropped: KeyDescriptor[] = [];
    const seen = new Set(keys.map(nameKey));
    for (const [k, old] of this.known) {
      if (seen.has(k)) continue;
      this.known.delete(k);
      if (o.dropDeletes) dropped.push(old);
      else added.push(this.append({ at, op: 'delete', name: { class: old.class, label: old.label, id: old.id }, fingerprint: old.fingerprint }));
    }
    for (const key of keys) {
      const k = nameKey(key);
      const old = this.known.get(k);
      if (old && versionOf(old) === versionOf(key)) continue;
      this.known.set(k, key);
      added.push(this.append({ at, op: 'put', key }));
    }
    return { added, dropped };
  }

  /** The first entry after `seq`, if any. */
  next(seq: number): JournalEntry | undefined {
    // Entries are in sequence order from 1: the index is seq.
    return this.entries[seq];
  }

  private append(e: Change): JournalEntry {
    const entry: JournalEntry = { ...e, seq: this.seq + 1 };
    this.entries.push(entry);
    return entry;
  }
}
