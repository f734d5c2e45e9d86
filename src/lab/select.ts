// Which lab a command means when it is given no --run-id: the only one a person started with `lab up`.
// Labs that programs built (test suites, the harness's own runs: origin `api`) are never picked by
// default — a `lab down` typed in one shell must not tear down a CI run's lab in another.
import { UsageError } from '../cli/exit.ts';
import type { LabRecord } from './state.ts';

/**
 * The default lab among `records` (those a command could act on), or undefined when there is none at all.
 * @throws UsageError when several `lab up` labs are recorded, or only labs of programs are (naming their ids).
 */
export function defaultLab<T extends { record: LabRecord }>(records: T[]): T | undefined {
  const ids = (rs: T[]) => rs.map((r) => r.record.runId).join(', ');
  // Records written before `origin` existed came from `lab up` or tests alike: treated as `lab up`.
  const started = records.filter((r) => r.record.origin !== 'api');
  if (started.length === 1) return started[0];
  if (started.length > 1) throw new UsageError(`${started.length} labs started with \`lab up\` are recorded (${ids(started)}): give --run-id ID`);
  if (records.length) throw new UsageError(`no lab started with \`lab up\` is recorded; ${records.length} built by a program (a test run?) ${records.length === 1 ? 'is' : 'are'} (${ids(records)}): name one with --run-id ID`);
  return undefined;
}
