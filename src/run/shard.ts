// `--shard i/n`: one of n slices of a run, for CI jobs on several machines whose reports are merged
// afterwards (`report --merge`). Vitest slices the suite files of the conformance and PSK steps; the
// end-to-end suites of the main job are dealt out in turn (suite k goes to shard k mod n).
import { UsageError } from '../cli/exit.ts';

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

/** Parses `i/n` (1 ≤ i ≤ n). @throws UsageError (exit 2) saying what is wrong. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new UsageError(`--shard takes INDEX/COUNT such as 1/2, not "${text}"`);
  const [index, count] = [Number(m[1]), Number(m[2])];
  if (count < 1 || index < 1 || index > count) throw new UsageError(`--shard ${text}: the index must be between 1 and the count`);
  return { index, count };
}

export const shardText = (s: Shard): string => `${s.index}/${s.count}`;

/** The items of shard `s` when `items` are dealt out in turn. */
export const dealt = <T>(items: readonly T[], s: Shard): T[] => items.filter((_, k) => k % s.count === s.index - 1);
