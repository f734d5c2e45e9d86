// Opening the target a suite runs against: a profile named by QKD_TARGET, or the embedded mock KME pair.
import { loadTargetProfile } from '../target/load.ts';
import { configureRunBudget } from '../kme/run-budget.ts';
import { configureExchangeLog } from '../kme/exchange-log.ts';
import { targetFromProfile, type Target } from './context.ts';

export const ENV = {
  target: 'QKD_TARGET', // target profile file; unset = embedded mock pair
  strict: 'QKD_STRICT', // 1 = strict profile, 0 = the profile file's choice (embedded default: strict)
  grep: 'QKD_GREP', // requirement ID prefix
  expectations: 'QKD_EXPECTATIONS', // expected outcomes file
  results: 'QKD_RESULTS_FILE', // JSON lines sink for the conformance command
  keyIds: 'QKD_KEY_IDS_FILE', // key_IDs received by the run's suite files (shared between processes; no key material)
  deviations: 'QKD_MOCK_DEVIATIONS', // comma-separated deviations for the embedded mock
  runStarted: 'QKD_RUN_STARTED', // epoch ms the conformance run started: its run_budget_s counts from here
  stalls: 'QKD_RUN_STALLS', // JSON-lines file of stalled endpoints shared by the run's processes
  exchanges: 'QKD_EXCHANGES_FILE', // JSON-lines file of every exchange's method, endpoint and status (no bodies)
} as const;

export async function openTarget(env: NodeJS.ProcessEnv = process.env): Promise<Target> {
  configureExchangeLog(env[ENV.exchanges]);
  const file = env[ENV.target];
  if (file) {
    const profile = loadTargetProfile(file, env);
    budgetRun(profile.run_budget_s, env);
    return targetFromProfile(profile, { strict: env[ENV.strict] === '1' } /* otherwise the profile file's choice */);
  }
  const { startEmbeddedTarget } = await import('./embedded.ts');
  const deviations = (env[ENV.deviations] ?? '').split(',').filter(Boolean);
  const target = await startEmbeddedTarget({ strict: env[ENV.strict] !== '0', deviations });
  budgetRun(target.profile.run_budget_s, env);
  return target;
}

/** Inside a conformance run (which sets the start time), every request of this process counts against its budget. */
function budgetRun(budgetS: number, env: NodeJS.ProcessEnv): void {
  const started = Number(env[ENV.runStarted]);
  if (Number.isFinite(started) && started > 0) configureRunBudget({ startedAt: started, budgetMs: budgetS * 1000, ...(env[ENV.stalls] ? { file: env[ENV.stalls] } : {}) });
}
