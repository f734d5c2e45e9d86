// The verdict model (docs/conformance.md): a check reports a finding; the requirement's level and the profile
// turn it into an outcome. An error (the harness could not evaluate) is never a pass.
import { tolerance as toleranceInfo, type Requirement, type Tolerance } from './catalogue.ts';
import type { Evidence } from './evidence.ts';

/** Every outcome, in the order tables show them. */
export const OUTCOMES = ['pass', 'fail', 'warn', 'info', 'skip', 'error'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** How many of `outcomes` are each outcome (every outcome present, 0 where none). */
export function outcomeCounts(outcomes: Iterable<Outcome> = []): Record<Outcome, number> {
  const counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
  for (const o of outcomes) counts[o]++;
  return counts;
}
export type ProfileName = 'strict' | 'lenient';

/** Thrown by a check: the target violates the requirement. `tolerance` names the kind of deviation. */
export class Failure extends Error {
  override name = 'Failure';
  constructor(
    message: string,
    readonly tolerance?: Tolerance,
    readonly evidence?: Evidence,
  ) {
    super(message);
  }
}

/** Thrown by a check: the requirement does not apply to this target (say why). */
export class Skip extends Error {
  override name = 'Skip';
}

/**
 * Thrown when the harness cannot judge the requirement: a prerequisite call failed, or a member the
 * check needs is missing or invalid. Always an `error` outcome that names the cause — never a verdict.
 */
export class CannotEvaluate extends Error {
  override name = 'CannotEvaluate';
}

/** What a check may return instead of throwing: a pass with a note, a warning, or information. */
export type Note = { pass: string } | { warn: string } | { info: string };

/** One deviation a check found, with the exchanges that show it. */
export interface Deviation {
  message: string;
  tolerance?: Tolerance;
  evidence?: Evidence[];
}

export interface Finding {
  kind: 'pass' | 'fail' | 'warn' | 'info' | 'skip' | 'error';
  message: string;
  tolerance?: Tolerance;
  evidence?: Evidence[];
  /** For a `fail`: every deviation the check found (a check runs all its probes), each with its evidence. */
  deviations?: Deviation[];
  /** For a `fail`: why the probes after the deviations could not be judged, when they could not. */
  unjudged?: string;
}

const SEVERITY: Record<Outcome, number> = { pass: 0, skip: 0, info: 1, warn: 2, fail: 3, error: 4 };

/** The outcome of one deviation under the requirement's level, whether it is implied, and the profile. */
function outcomeOf(req: Requirement, profile: ProfileName, d: Deviation): { outcome: Outcome; message: string } {
  if (req.level === 'MAY') return { outcome: 'info', message: d.message };
  if (req.implied) return { outcome: 'warn', message: `${d.message} (implied requirement: the harness's hardening advice, not a "shall" of the standard)` };
  if (profile === 'lenient') {
    if (d.tolerance) {
      const t = toleranceInfo(d.tolerance);
      return { outcome: 'warn', message: `${d.message} (tolerated deviation "${d.tolerance}" in the lenient profile; clause ${t.clause})` };
    }
    if (req.level === 'SHOULD') return { outcome: 'warn', message: `${d.message} (SHOULD, clause ${req.clause ?? '?'})` };
  }
  return { outcome: 'fail', message: d.message };
}

/** The deviations of a failing finding (a plain Failure is one deviation). */
export function deviationsOf(f: Finding): Deviation[] {
  return f.deviations?.length ? f.deviations : [{ message: f.message, ...(f.tolerance ? { tolerance: f.tolerance } : {}), ...(f.evidence ? { evidence: f.evidence } : {}) }];
}

/**
 * Level × implied × profile × finding → outcome. A failing finding with several deviations takes the
 * worst outcome among them, and its message lists each (numbered when there are several).
 */
export function decide(req: Requirement, profile: ProfileName, f: Finding): { outcome: Outcome; message: string } {
  if (f.kind !== 'fail') return { outcome: f.kind, message: f.message };
  const each = deviationsOf(f).map((d) => outcomeOf(req, profile, d));
  const outcome = each.reduce<Outcome>((worst, e) => (SEVERITY[e.outcome] > SEVERITY[worst] ? e.outcome : worst), 'info');
  const found = each.length === 1 ? each[0]!.message : `${each.length} deviations: ${each.map((e, i) => `(${i + 1}) ${e.message}`).join('; ')}`;
  return { outcome, message: f.unjudged ? `${found}; the rest could not be judged: ${f.unjudged}` : found };
}
