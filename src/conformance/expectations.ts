// Expected outcomes per implementation (fixtures/expectations/<name>.yaml): a run fails only on outcomes
// that differ from the expectation; an expected failure that now passes is reported as stale.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { OUTCOMES, type Outcome } from './verdict.ts';
import { requirement } from './catalogue.ts';
import { UsageError } from '../cli/exit.ts';

const OutcomeSchema = z.enum(OUTCOMES, { error: `must be one of ${OUTCOMES.join(', ')}` });
const Entry = z.union([OutcomeSchema, z.strictObject({ outcome: OutcomeSchema, reason: z.string().optional() })], { error: `must be one of ${OUTCOMES.join(', ')}, or { outcome, reason }` });
const FileSchema = z.strictObject({ implementation: z.string().optional(), outcomes: z.record(z.string().regex(/^[a-z0-9]+\//, 'must be a requirement ID'), Entry) });

export type Expectations = Map<string, { outcome: Outcome; reason?: string }>;

export function loadExpectations(file: string): Expectations {
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`expectations ${file}: cannot be read or parsed (${(err as Error).message.split('\n')[0]})`);
  }
  const parsed = FileSchema.safeParse(doc);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new UsageError(`expectations ${file}: field ${i.path.join('.') || '(top level)'} ${i.message}`);
  }
  // A typo in an ID would silently expect nothing: every ID must be in a catalogue.
  for (const id of Object.keys(parsed.data.outcomes)) {
    try {
      requirement(id);
    } catch {
      throw new UsageError(`expectations ${file}: outcomes.${id} names no catalogued requirement (qkd-harness list shows them)`);
    }
  }
  return new Map(Object.entries(parsed.data.outcomes).map(([id, e]) => [id, typeof e === 'string' ? { outcome: e } : e]));
}

export interface Judgement {
  expected?: Outcome;
  /** The outcome counts against the run. */
  unexpected: boolean;
  /** An expected failure (or warning) that no longer happens: the expectation file needs updating. */
  stale: boolean;
}

const OK_WITHOUT_EXPECTATION: ReadonlySet<Outcome> = new Set(['pass', 'warn', 'info', 'skip']);

export function judge(id: string, outcome: Outcome, exp: Expectations | undefined): Judgement {
  const e = exp?.get(id);
  if (!e) return { unexpected: !OK_WITHOUT_EXPECTATION.has(outcome), stale: false };
  if (e.outcome === outcome) return { expected: e.outcome, unexpected: false, stale: false };
  const improved = (e.outcome === 'fail' || e.outcome === 'warn' || e.outcome === 'error') && (outcome === 'pass' || outcome === 'info');
  return { expected: e.outcome, unexpected: !improved, stale: improved };
}
