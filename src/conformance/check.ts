// Running one check against a target and turning what happened into a Result.
import { requirement, type Level } from './catalogue.ts';
import { CheckContext, type Target } from './context.ts';
import { formatEvidenceList, type Evidence } from './evidence.ts';
import { CannotEvaluate, decide, Failure, Skip, type Finding, type Note, type Outcome } from './verdict.ts';
import { KmeTransportError } from '../kme/errors.ts';
import { refusalMark, refusalSince } from '../kme/run-budget.ts';

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
  /** The harness's hardening advice rather than a "shall" (reported at most as warn). */
  implied?: boolean;
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
        timer = setTimeout(() => reject(new CannotEvaluate(`the check did not finish within ${deadline} ms`)), deadline);
      }),
    ]);
    // Deviations recorded by probes that went on (t.soft) decide the verdict; a note only adds to a pass.
    if (t.deviations.length) return failed(t);
    if (!note) return { kind: 'pass', message: 'as required' };
    if ('pass' in note) return { kind: 'pass', message: note.pass };
    if ('warn' in note) return { kind: 'warn', message: note.warn, evidence: t.evidence() };
    return { kind: 'info', message: note.info };
  } catch (err) {
    if (err instanceof Failure) {
      t.record(err);
      return failed(t);
    }
    if (err instanceof Skip && !t.deviations.length) return { kind: 'skip', message: err.message };
    // The harness could not judge the rest; what it did find still counts, the error is named beside it.
    const why = err instanceof KmeTransportError ? `${err.kind}: ${err.message}` : err instanceof Error ? err.message : String(err);
    const message = err instanceof CannotEvaluate ? why : `could not evaluate: ${why}`;
    if (t.deviations.length) return { ...failed(t), unjudged: message };
    return { kind: 'error', message, evidence: t.evidence() };
  } finally {
    clearTimeout(timer);
  }
}

/** A failing finding from every deviation the check recorded. */
function failed(t: CheckContext): Finding {
  const [first] = t.deviations;
  return { kind: 'fail', message: t.deviations.map((d) => d.message).join('; '), ...(t.deviations.length === 1 && first?.tolerance ? { tolerance: first.tolerance } : {}), evidence: t.deviations.flatMap((d) => d.evidence ?? []).slice(0, 6), deviations: t.deviations };
}

/** Runs a check and returns what it found, before level and profile turn it into an outcome. */
export async function evaluate(def: CheckDef, target: Target): Promise<{ finding: Finding; durationMs: number }> {
  const t = new CheckContext(target);
  const started = performance.now();
  const mark = refusalMark();
  try {
    const finding = await findingOf(def, t);
    // A request refused by the run budget (or cut short by it) leaves the check unjudged, whatever it made of that.
    const cut = refusalSince(mark);
    if (cut && finding.kind !== 'error') return { finding: { kind: 'error', message: `could not evaluate: ${cut}${finding.kind === 'fail' ? `; recorded before: ${finding.message}` : ''}`, evidence: t.evidence() }, durationMs: Math.round(performance.now() - started) };
    return { finding, durationMs: Math.round(performance.now() - started) };
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
    ...(req.implied ? { implied: true } : {}),
    summary: req.summary,
    outcome,
    message,
    ...(finding.evidence?.length && outcome !== 'pass' ? { evidence: finding.evidence } : {}),
    durationMs,
  };
}

export function describeResult(r: Result): string {
  const head = `${r.id} [${r.level}${r.implied ? ', implied' : ''}] ${r.outcome}: ${r.message}`;
  return r.evidence?.length ? `${head}\n${formatEvidenceList(r.evidence)}` : head;
}
