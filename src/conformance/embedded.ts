// The embedded default target: a faithful mock KME pair started in this process, with its own PKI.
import { startMockPair } from '../../mocks/kme/index.ts';
import { loadTargetProfile } from '../target/load.ts';
import { targetFromProfile, type Target } from './context.ts';

export async function startEmbeddedTarget(opts: { strict: boolean; deviations?: string[]; timeoutMs?: number }): Promise<Target & { setDeviations(names: string[]): void }> {
  const mock = await startMockPair({ deviations: opts.deviations ?? [], log: false });
  const profile = loadTargetProfile(mock.profilePath);
  const target = targetFromProfile({ ...profile, name: 'embedded mock KME pair', ...(opts.timeoutMs ? { timeout_ms: opts.timeoutMs } : {}) }, { strict: opts.strict, allowExhaustion: true, onClose: () => mock.stop() });
  return Object.assign(target, { setDeviations: (names: string[]) => mock.setDeviations(names as never) });
}
