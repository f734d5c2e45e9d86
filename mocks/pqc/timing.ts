// Rosenpass's timing: the responder of the last exchange starts the next one after
// 120 s, the initiator after 130 s (so they do not collide), and a key older than 180 s is rejected:
// Rosenpass then writes a fresh random key marked stale. Scaled for the lab by a time scale.
export const ROSENPASS = { rekeyResponderS: 120, rekeyInitiatorS: 130, rejectAfterS: 180 } as const;

export interface PqcTiming {
  rekeyResponderMs: number;
  rekeyInitiatorMs: number;
  rejectAfterMs: number;
  /** Retry period for a failed exchange. */
  retryMs: number;
}

export function scaledTiming(scale = 1): PqcTiming {
  if (!(scale > 0)) throw new Error(`time scale must be positive, got ${scale}`);
  return {
    rekeyResponderMs: ROSENPASS.rekeyResponderS * 1000 * scale,
    rekeyInitiatorMs: ROSENPASS.rekeyInitiatorS * 1000 * scale,
    rejectAfterMs: ROSENPASS.rejectAfterS * 1000 * scale,
    retryMs: Math.max(200, Math.min(2_000, 2_000 * scale)),
  };
}
