// The set of deviations a running mock KME (or pair) is switched into. Read on every request, so a switch
// takes effect at once; transport-level ones (plain-http, any-client-cert) apply to new connections.
import { DEVIATIONS, isDeviation, type DeviationName } from './deviations.ts';

export class UnknownDeviationError extends Error {
  override name = 'UnknownDeviationError';
}

/** Checks names against mocks/kme/deviations.ts; throws naming the first unknown one. */
export function parseDeviations(names: Iterable<string>): DeviationName[] {
  const out: DeviationName[] = [];
  for (const n of names) {
    if (!isDeviation(n)) throw new UnknownDeviationError(`unknown deviation "${n}" (known: ${Object.keys(DEVIATIONS).join(', ')})`);
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

export class DeviationSwitch {
  private active = new Set<DeviationName>();
  private readonly listeners: Array<(names: readonly DeviationName[]) => void> = [];

  constructor(names: Iterable<string> = []) {
    this.set(names);
  }

  has(name: DeviationName): boolean {
    return this.active.has(name);
  }

  /** Replaces the active set (an empty list = faithful). */
  set(names: Iterable<string>): void {
    this.active = new Set(parseDeviations(names));
    for (const l of this.listeners) l(this.list());
  }

  list(): DeviationName[] {
    return [...this.active];
  }

  onChange(listener: (names: readonly DeviationName[]) => void): void {
    this.listeners.push(listener);
  }
}
