/** Exit codes (README): every outcome as expected, unexpected outcomes, usage/config, could not run. */
export const EXIT = { ok: 0, unexpected: 1, usage: 2, cannotRun: 3 } as const;

/** A mistake in what the user gave us (flags, profile, input): exit 2 with one sentence. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The harness could not run (prerequisite missing, target unreachable): exit 3 with one sentence. */
export class CannotRunError extends Error {
  override name = 'CannotRunError';
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof Error && (err as { exitCode?: unknown }).exitCode === EXIT.usage) return EXIT.usage;
  return EXIT.cannotRun;
}
