// Which SAE is attached to which KME. Every KME knows the whole map (both processes of a lab load the
// same configuration), so it can tell a slave at its peer from an SAE nobody knows.
export type KmeName = 'A' | 'B';
export const KME_NAMES: readonly KmeName[] = ['A', 'B'];

export class SaeRegistry {
  private readonly attachment = new Map<string, KmeName>();

  constructor(
    /** SAE IDs attached to each KME. */
    saes: Record<KmeName, readonly string[]>,
    /** KME ID of each KME. */
    readonly kmeIds: Record<KmeName, string>,
  ) {
    for (const name of KME_NAMES) {
      for (const id of saes[name]) {
        if (this.attachment.has(id)) throw new Error(`SAE ${id} is attached to two KMEs`);
        this.attachment.set(id, name);
      }
    }
  }

  /** The KME an SAE is attached to, or undefined when it is not registered anywhere. */
  kmeOf(saeId: string): KmeName | undefined {
    return this.attachment.get(saeId);
  }

  isAttached(saeId: string, kme: KmeName): boolean {
    return this.attachment.get(saeId) === kme;
  }

  attachedTo(kme: KmeName): string[] {
    return [...this.attachment].filter(([, k]) => k === kme).map(([id]) => id);
  }
}

export const peerOf = (kme: KmeName): KmeName => (kme === 'A' ? 'B' : 'A');
