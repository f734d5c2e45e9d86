/** The property-test seed and run count for this process: fixed by default so runs are comparable. */
export const DEFAULT_SEED = 20190201; // ETSI GS QKD 014 V1.1.1 publication month, an arbitrary fixed value

export function propertySeed(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.FC_SEED;
  if (raw === undefined || raw === '') return DEFAULT_SEED;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`FC_SEED must be an integer, got "${raw}"`);
  return n;
}

export function propertyRuns(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.FC_NUM_RUNS;
  if (raw === undefined || raw === '') return 100;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`FC_NUM_RUNS must be a positive integer, got "${raw}"`);
  return n;
}
