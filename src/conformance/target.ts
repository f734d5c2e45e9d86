// Opening the target a suite runs against: a profile named by QKD_TARGET, or the embedded mock KME pair.
import { loadTargetProfile } from '../target/load.ts';
import { targetFromProfile, type Target } from './context.ts';

export const ENV = {
  target: 'QKD_TARGET', // target profile file; unset = embedded mock pair
  strict: 'QKD_STRICT', // 1 = strict profile, 0 = the profile file's choice (embedded default: strict)
  grep: 'QKD_GREP', // requirement ID prefix
  expectations: 'QKD_EXPECTATIONS', // expected outcomes file
  results: 'QKD_RESULTS_FILE', // JSON lines sink for the conformance command
  deviations: 'QKD_MOCK_DEVIATIONS', // comma-separated deviations for the embedded mock
} as const;

export async function openTarget(env: NodeJS.ProcessEnv = process.env): Promise<Target> {
  const file = env[ENV.target];
  if (file) {
    const profile = loadTargetProfile(file, env);
    return targetFromProfile(profile, { strict: env[ENV.strict] === '1' } /* otherwise the profile file's choice */);
  }
  const { startEmbeddedTarget } = await import('./embedded.ts');
  const deviations = (env[ENV.deviations] ?? '').split(',').filter(Boolean);
  return startEmbeddedTarget({ strict: env[ENV.strict] !== '0', deviations });
}
