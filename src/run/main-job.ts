// `qkd-harness run`: the whole mission in one command — conformance, PSK, then the lab (or the target's
// sites) — each step a child process under a deadline, progress while it runs, one report at the end
// (built whatever the outcome), and a table a person reads: per step pass / fail / warn / skip / error,
// and every unexpected outcome with its requirement ID and one line why.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PACKAGE_ROOT } from '../util/entry.js';
import { labUnavailable } from '../lab/prerequisites.ts';
import { mergeAllureResults } from '../report/merge-results.ts';
import { redactText } from '../secrets/redact.ts';
import { conformanceStep, e2eStep, MAIN_E2E_SUITES, pskStep, type StepPlan, type StepResult } from './steps.ts';
import { dealt, shardText, type Shard } from './shard.ts';
import { progress } from './progress.ts';
import { OUTCOMES, outcomeCounts } from '../conformance/verdict.ts';

export interface MainJobOptions {
  /** A target profile: conformance against its KMEs, the end-to-end suites against its sites. */
  target?: string;
  /** No lab / sites step. */
  quick?: boolean;
  reports: string;
  /** Where lines go (default stdout). */
  out?: NodeJS.WritableStream;
  /** Show each step's own output (redacted) as it comes. */
  verbose?: boolean;
  signal?: AbortSignal;
  /** One slice of the job (src/run/shard.ts); the shards' reports merge with `report --merge`. */
  shard?: Shard;
}

export type StepOutcome = 'ran' | 'skipped' | 'failed-to-run';

export interface StepSummary {
  name: StepPlan['name'];
  title: string;
  status: StepOutcome;
  /** Why the step was skipped or could not run. */
  why?: string;
  exitCode?: number | null;
  durationS: number;
  counts: Record<StepResult['outcome'], number>;
  unexpected: StepResult[];
}

export interface MainJobSummary {
  run: 'run';
  target: string;
  /** `i/n` when the job ran one shard. */
  shard?: string;
  started: string;
  finished: string;
  steps: StepSummary[];
  report?: string;
  reportError?: string;
}

/** Whether the lab / sites step runs, and why not. */
function e2eWhyNot(o: MainJobOptions): string | undefined {
  if (o.quick) return '--quick';
  if (o.shard && !dealt(MAIN_E2E_SUITES, o.shard).length) return `no end-to-end suite falls to shard ${shardText(o.shard)}`;
  if (o.target) return undefined; // the e2e command itself says when the profile has no sites
  const why = labUnavailable();
  return why ? `${why} — \`qkd-harness doctor\` lists what the lab needs (\`doctor --fix\` installs it as root)` : undefined;
}

// Plain JavaScript that ships as source: the same file whether this module runs compiled or not.
const STEP_GUARD = join(PACKAGE_ROOT, 'src', 'run', 'step-guard.mjs');

/** Runs one step's child; resolves with its exit code (null: killed at its deadline or by the signal). */
function runChild(step: StepPlan, signal: AbortSignal | undefined, log: (line: string) => void): Promise<number | null> {
  return new Promise((done) => {
    // Through the step guard: it ends the step's whole group should this job die without cleaning up.
    const child = spawn(process.execPath, [STEP_GUARD, String(process.pid), ...step.argv], {
      env: { ...process.env, ...step.env, VITEST: undefined, VITEST_POOL_ID: undefined, VITEST_WORKER_ID: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: stopping it stops what it started (mock KMEs, labs)
    });
    const stop = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        /* gone already */
      }
    };
    const deadline = setTimeout(() => {
      log(`${step.name}: no end after ${step.deadlineS} s, stopping it`);
      stop('SIGTERM');
      setTimeout(() => stop('SIGKILL'), 15_000).unref();
    }, step.deadlineS * 1000);
    const onAbort = () => stop('SIGTERM');
    signal?.addEventListener('abort', onAbort, { once: true });
    // The child's own lines (its table, its errors), redacted, indented under the step.
    for (const stream of [child.stdout, child.stderr]) {
      let rest = '';
      stream.on('data', (c: Buffer) => {
        const lines = (rest + c.toString()).split('\n');
        rest = lines.pop()!;
        for (const l of lines) if (l.trim()) log(`  │ ${redactText(l)}`);
      });
    }
    child.on('close', (code, sig) => {
      clearTimeout(deadline);
      signal?.removeEventListener('abort', onAbort);
      done(sig ? null : code);
    });
    child.on('error', (err) => {
      clearTimeout(deadline);
      log(`${step.name}: could not start: ${err.message}`);
      done(null);
    });
  });
}

export async function mainJob(o: MainJobOptions, buildReport: (dir: string) => Promise<string>): Promise<MainJobSummary> {
  const reports = resolve(o.reports);
  mkdirSync(reports, { recursive: true });
  for (const f of ['summary.json', 'allure-results', 'conformance', 'psk', 'e2e']) rmSync(join(reports, f), { recursive: true, force: true });
  const out = o.out ?? process.stdout;
  const started = new Date();
  const plans = [conformanceStep(join(reports, 'conformance'), o.target, o.shard), pskStep(join(reports, 'psk'), o.shard), e2eStep(join(reports, 'e2e'), o.target, o.shard)];
  const steps: StepSummary[] = [];
  const p = progress(out, { verbose: o.verbose === true });
  for (const [i, plan] of plans.entries()) {
    const head = `[${i + 1}/${plans.length}] ${plan.title}`;
    const whyNot = plan.name === 'e2e' ? e2eWhyNot(o) : undefined;
    if (o.signal?.aborted) {
      steps.push({ name: plan.name, title: plan.title, status: 'skipped', why: 'interrupted', durationS: 0, counts: outcomeCounts(), unexpected: [] });
      continue;
    }
    if (whyNot) {
      p.line(`${head}: skipped (${whyNot})`);
      steps.push({ name: plan.name, title: plan.title, status: 'skipped', why: whyNot, durationS: 0, counts: outcomeCounts(), unexpected: [] });
      continue;
    }
    mkdirSync(plan.reports, { recursive: true });
    const t0 = Date.now();
    const task = p.start(head, plan.estimateS);
    const code = await runChild(plan, o.signal, (l) => task.log(l));
    const durationS = Math.round((Date.now() - t0) / 100) / 10;
    const s: StepSummary = { name: plan.name, title: plan.title, status: 'ran', exitCode: code, durationS, counts: outcomeCounts(), unexpected: [] };
    try {
      const results = plan.read(plan.reports);
      s.counts = outcomeCounts(results.map((r) => r.outcome));
      s.unexpected = results.filter((r) => r.unexpected).map((r) => ({ ...r, ...(r.message ? { message: redactText(r.message) } : {}) }));
      if (!results.length) throw new Error('it judged nothing');
      // A child that failed without any unexpected result (exit 2/3, a crash) is an error of the step, not a pass.
      if (code !== 0 && !s.unexpected.length) throw new Error(`it exited ${code ?? 'by signal'}`);
    } catch (err) {
      s.status = 'failed-to-run';
      s.why = code === null ? (o.signal?.aborted ? 'interrupted' : `stopped at its ${plan.deadlineS} s deadline`) : `${(err as Error).message} (exit ${code})`;
    }
    task.end(s.status === 'ran' && code === 0 ? 'ok' : 'fail', `${head}: ${s.status === 'ran' ? countsText(s.counts) : `could not run: ${s.why}`} (${durationS} s)`);
    steps.push(s);
  }
  const summary: MainJobSummary = { run: 'run', target: o.target ?? 'embedded default (mock KME pair, lab)', ...(o.shard ? { shard: shardText(o.shard) } : {}), started: started.toISOString(), finished: '', steps };
  // The report comes from whatever ran: a failing run needs it most.
  mergeAllureResults(reports, plans.map((p) => p.reports));
  try {
    summary.report = await buildReport(reports);
  } catch (err) {
    summary.reportError = (err as Error).message;
  }
  summary.finished = new Date().toISOString();
  writeFileSync(join(reports, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

export function countsText(c: StepSummary['counts']): string {
  return OUTCOMES.filter((o) => c[o] || o === 'pass' || o === 'fail').map((o) => `${c[o]} ${o}`).join(', ');
}

/** The closing table: one row per step, then every unexpected outcome with its ID and one line why. */
export function formatMainJob(s: MainJobSummary, reportsDir: string): string {
  const rows = s.steps.map((st) => [st.name, st.status === 'ran' ? 'ran' : st.status, ...OUTCOMES.map((o) => (st.status === 'ran' ? String(st.counts[o]) : '–')), `${st.durationS} s`]);
  const head = ['step', 'status', ...OUTCOMES, 'time'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const lines = ['', fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)];
  for (const st of s.steps) {
    if (st.status !== 'ran') lines.push(`${st.name} ${st.status}: ${st.why}`);
    for (const g of byCause(st.unexpected)) {
      const ids = g.ids.length > 3 ? `${g.ids.slice(0, 3).join(', ')} (+${g.ids.length - 3} more)` : g.ids.join(', ');
      lines.push(`${st.name} ${g.outcome.toUpperCase()} ${ids}: ${g.message.slice(0, 160)}`);
    }
  }
  lines.push('', s.report ? `report: ${s.report}` : `report: not built (${s.reportError})`, `summary: ${join(reportsDir, 'summary.json')}`);
  return lines.join('\n');
}

/**
 * Unexpected outcomes grouped by cause: one root cause (a spent run budget, an unreachable KME) is one
 * line naming every requirement it hit, not one line each. The cause is the message without the
 * request it concerned (method, URL), its wrapper ("could not evaluate", "prerequisite … failed") and numbers.
 */
export function byCause(results: StepResult[]): Array<{ outcome: StepResult['outcome']; message: string; ids: string[] }> {
  const groups = new Map<string, { outcome: StepResult['outcome']; message: string; ids: string[] }>();
  for (const r of results) {
    const message = (r.message ?? '').split('\n')[0]!;
    const core = message
      .replace(/^((could not evaluate|prerequisite [^:]+ failed): )+/, '')
      .replace(/\bdeadline: /g, '')
      .replace(/\b(GET|POST|PUT|DELETE|HEAD) \S+ at \S+: /g, '')
      .split(';')[0]!;
    const cause = `${r.outcome} ${core.replace(/\d+/g, '#').slice(0, 120)}`;
    const g = groups.get(cause);
    if (g) g.ids.push(r.id);
    else groups.set(cause, { outcome: r.outcome, message, ids: [r.id] });
  }
  return [...groups.values()];
}

/** 0 every step ran and nothing unexpected · 1 unexpected outcomes · 3 a step could not run. */
export function mainJobExit(s: MainJobSummary): 0 | 1 | 3 {
  if (s.steps.some((st) => st.status === 'failed-to-run')) return 3;
  return s.steps.some((st) => st.unexpected.length) ? 1 : 0;
}
