// Running one check against a target and turning what happened into a Result.
import { requirement, type Level } from './catalogue.ts';
import { CheckContext, type Target } from './context.ts';
import { formatEvidenceList, type Evidence } from './evidence.ts';
import { decide, Failure, Skip, type Finding, type Note, type Outcome } from './verdict.ts';
import { KmeTransportError } from '../kme/errors.ts';

export interface CheckDef {
  id: string;
  run(t: CheckContext): Promise<Note | void>;
  /** Per-check deadline in ms (default 30 s); a check that overruns is an error. */
  timeoutMs?: number;
  /** Empties the key pool: runs after every other check against a shared target. */
  destructive?: boolean;
}

export interface Result {
  id: string;
  level: Level;
  summary: string;
  outcome: Outcome;
  message: string;
  evidence?: Evidence[];
  durationMs: number;
}

export const check = (id: string, run: CheckDef['run'], opts: { timeoutMs?: number; destructive?: boolean } = {}): CheckDef => ({ id, run, ...opts });

async function findingOf(def: CheckDef, t: CheckContext): Promise<Finding> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = def.timeoutMs ?? 30_000;
  try {
    const note = await Promise.race([
      def.run(t),
      new Promise<never>((_r, reject) => {
        timer = setTimeout(() => reject(new Error(`the check did not finish within ${deadline} ms`)), deadline);
      }),
    ]);
    if (!note) return { kind: 'pass', message: 'as required' };
    if ('pass' in note) return { kind: 'pass', message: note.pass };
    if ('warn' in note) return { kind: 'warn', message: note.warn, evidence: t.evidence() };
    return { kind: 'info', message: note.info };
  } catch (err) {
    if (err instanceof Failure) return { kind: 'fail', message: err.message, ...(err.tolerance ? { tolerance: err.tolerance } : {}), evidence: err.evidence ? [err.evidence] : t.evidence() };
    if (err instanceof Skip) return { kind: 'skip', message: err.message };
    const why = err instanceof KmeTransportError ? `${err.kind}: ${err.message}` : err instanceof Error ? err.message : String(err);
    return { kind: 'error', message: `could not evaluate: ${why}`, evidence: t.evidence() };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a check and returns what it found, before level and profile turn it into an outcome. */
export async function evaluate(def: CheckDef, target: Target): Promise<{ finding: Finding; durationMs: number }> {
  const t = new CheckContext(target);
  const started = performance.now();
  try {
    return { finding: await findingOf(def, t), durationMs: Math.round(performance.now() - started) };
  } finally {
    await t.close();
  }
}

export async function runCheck(def: CheckDef, target: Target): Promise<Result> {
  const req = requirement(def.id);
  const { finding, durationMs } = await evaluate(def, target);
  const { outcome, message } = decide(req, target.profileName, finding);
  return {
    id: def.id,
    level: req.level,
    summary: req.summary,
    outcome,
    message,
    ...(finding.evidence?.length && outcome !== 'pass' ? { evidence: finding.evidence } : {}),
    durationMs,
  };
}

export function describeResult(r: Result): string {
  const head = `${r.id} [${r.level}] ${r.outcome}: ${r.message}`;
  return r.evidence?.length ? `${head}\n${formatEvidenceList(r.evidence)}` : head;
}
