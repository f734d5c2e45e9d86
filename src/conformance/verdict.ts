// The verdict model of design.md: a check reports a finding; the requirement's level and the profile
// turn it into an outcome. An error (the harness could not evaluate) is never a pass.
import type { Requirement, Tolerance } from './catalogue.ts';
import type { Evidence } from './evidence.ts';

export type Outcome = 'pass' | 'fail' | 'warn' | 'info' | 'skip' | 'error';
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

/** What a check may return instead of throwing: a pass with a note, a warning, or information. */
export type Note = { pass: string } | { warn: string } | { info: string };

export interface Finding {
  kind: 'pass' | 'fail' | 'warn' | 'info' | 'skip' | 'error';
  message: string;
  tolerance?: Tolerance;
  evidence?: Evidence[];
}

export function decide(req: Requirement, profile: ProfileName, f: Finding): { outcome: Outcome; message: string } {
  if (f.kind !== 'fail') return { outcome: f.kind, message: f.message };
  if (req.level === 'MAY') return { outcome: 'info', message: f.message };
  if (profile === 'lenient') {
    if (req.level === 'SHOULD') return { outcome: 'warn', message: `${f.message} (SHOULD, clause ${req.clause ?? '?'})` };
    if (f.tolerance && req.tolerates.includes(f.tolerance)) {
      return { outcome: 'warn', message: `${f.message} (tolerated deviation "${f.tolerance}" in the lenient profile; clause ${req.clause ?? '?'})` };
    }
  }
  return { outcome: 'fail', message: f.message };
}
