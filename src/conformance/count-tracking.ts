// Whether a KME's stored_key_count tracks its deliveries (qkd014/5.2/5, clause 6.1 "number of stored
// keys"), decided from Status samples so that neither luck nor a fast refill decides it:
// - a quiet interval (no deliveries by this run) never shows the count fall — a count that is random or
//   drifts falls in about half of all steps, so a few short series expose it with near certainty;
// - a delivery of K keys makes the count fall by K, give or take the refill during the delivery, bounded
//   by the fastest refill seen over the quiet intervals (so a constant count fails); one refill burst
//   hiding one delivery among several that show is forgiven;
// - when that refill bound is not small against K (or unknown, because the pool sat at max_key_count),
//   the delivery says nothing: undecided, with the reason.

/** One Status answer: the count and when the request was sent and the answer arrived (ms, monotonic). */
export interface CountSample {
  count: number;
  sentAt: number;
  receivedAt: number;
}

/** K keys delivered between two samples (`before`: last of a quiet series, `after`: first of the next). */
export interface CountDelivery {
  keys: number;
  before: CountSample;
  after: CountSample;
}

export interface TrackingEvidence {
  /** Series of samples with no deliveries in between, in time order. */
  series: CountSample[][];
  deliveries: CountDelivery[];
  maxKeyCount: number;
}

export type TrackingVerdict =
  | { verdict: 'tracks'; reason: string }
  | { verdict: 'does-not-track'; reason: string }
  | { verdict: 'undecided'; reason: string };

/** Tolerated extra drop beyond the K keys delivered (rounding in a KME that counts in other units). */
export const overDropSlack = (keys: number): number => 2 + Math.ceil(keys / 16);

/**
 * The fastest refill seen in keys per ms: over each quiet series that stayed below max_key_count (a
 * capped series hides the refill), (rise + 1) over the shortest time the rise can have taken (+1 for the
 * whole-key rounding of the count). Undefined when every series touched max_key_count.
 */
export function refillBound(series: CountSample[][], maxKeyCount: number): number | undefined {
  let bound: number | undefined;
  for (const s of series) {
    if (s.length < 2 || s.some((x) => x.count >= maxKeyCount)) continue;
    const first = s[0]!;
    const last = s[s.length - 1]!;
    const rate = (Math.max(0, last.count - first.count) + 1) / Math.max(1, last.sentAt - first.receivedAt);
    bound = Math.max(bound ?? 0, rate);
  }
  return bound;
}

/**
 * The refill a delivery may hide: twice the bound over the longest time the delivery can have taken,
 * plus two keys of rounding. Infinity when the refill is unknown.
 */
export function refillAllowance(d: CountDelivery, perMs: number | undefined): number {
  return perMs === undefined ? Infinity : 2 * perMs * (d.after.receivedAt - d.before.sentAt) + 2;
}

/** A delivery decides only when the refill it may hide is at most half the keys delivered. */
export const decides = (d: CountDelivery, perMs: number | undefined): boolean => refillAllowance(d, perMs) <= d.keys / 2;

const perSecond = (perMs: number): string => `${Math.round(perMs * 1000 * 10) / 10}`;

/**
 * Hard evidence of a count that does not track: a fall over a quiet interval, or a fall well beyond the
 * keys delivered. Undefined when there is none (the sampling stops early on it).
 */
export function contradiction(e: TrackingEvidence): string | undefined {
  for (const s of e.series) {
    for (let i = 1; i < s.length; i++) {
      const [a, b] = [s[i - 1]!, s[i]!];
      if (b.count < a.count) return `stored_key_count fell from ${a.count} to ${b.count} within ${Math.round(b.receivedAt - a.sentAt)} ms while this run fetched no keys (a count that does not track deliveries, or another consumer of this pool)`;
    }
  }
  for (const d of e.deliveries) {
    const drop = d.before.count - d.after.count;
    if (drop > d.keys + overDropSlack(d.keys)) return `stored_key_count fell from ${d.before.count} to ${d.after.count} (by ${drop}) while ${d.keys} key(s) were delivered`;
  }
  return undefined;
}

/**
 * The decision rule of qkd014/5.2/5 (pure; see the file comment). Deliveries that did not show count
 * against the KME when all deciding ones missed or at least two did: one refill burst landing in one
 * delivery window does not fail a KME whose other deliveries show.
 */
export function judgeCountTracking(e: TrackingEvidence): TrackingVerdict {
  const hard = contradiction(e);
  if (hard) return { verdict: 'does-not-track', reason: hard };
  const perMs = refillBound(e.series, e.maxKeyCount);
  const deciding = e.deliveries.filter((d) => d.keys > 0 && decides(d, perMs));
  const missed = deciding.filter((d) => d.before.count - d.after.count < d.keys - refillAllowance(d, perMs));
  if (missed.length && (missed.length >= 2 || missed.length === deciding.length)) {
    const d = missed[0]!;
    const hide = Math.floor(refillAllowance(d, perMs));
    return {
      verdict: 'does-not-track',
      reason: `${missed.length} of ${deciding.length} deliveries did not show in stored_key_count: ${d.before.count} → ${d.after.count} across ${d.keys} key(s) delivered in ${Math.round(d.after.receivedAt - d.before.sentAt)} ms, where the refill (at most ${perSecond(perMs!)} keys/s over the quiet intervals) can hide at most ${hide}`,
    };
  }
  if (deciding.length) {
    const drops = deciding.map((d) => `${d.before.count - d.after.count} for ${d.keys}`).join(', ');
    const others = e.deliveries.length - deciding.length;
    const note = `${missed.length ? `; ${missed.length} delivery hidden by a refill burst` : ''}${others ? `; ${others} smaller delivery(ies) too small against the refill to decide` : ''}`;
    return { verdict: 'tracks', reason: `stored_key_count fell with the deliveries (by ${drops} key(s) delivered) and never fell in ${e.series.length} quiet intervals (refill at most ${perSecond(perMs!)} keys/s)${note}` };
  }
  const largest = e.deliveries.reduce<CountDelivery | undefined>((m, d) => (!m || d.keys > m.keys ? d : m), undefined);
  const tried = largest ? `${largest.keys} key(s) in ${Math.round(largest.after.receivedAt - largest.before.sentAt)} ms` : 'no delivery';
  if (perMs === undefined) {
    return { verdict: 'undecided', reason: `the pool stayed at max_key_count (${e.maxKeyCount}) in every quiet interval: the refill outpaces the fastest delivery this check may make (${tried}), so a delivery cannot be told from the refill` };
  }
  return { verdict: 'undecided', reason: `the refill (up to ${perSecond(perMs)} keys/s over the quiet intervals) is too fast against the fastest delivery this check may make (${tried}): the drop would be lost in the refill` };
}
