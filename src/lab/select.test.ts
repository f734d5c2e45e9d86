// The lab a command means without --run-id: only one a person started with `lab up`, never a lab a
// program (a test run) built — `lab down` in one shell once tore down a CI run's lab this way.
import { describe, expect, it } from 'vitest';
import { defaultLab } from './select.ts';
import type { LabRecord } from './state.ts';

const rec = (runId: string, origin?: 'cli' | 'api') => ({ record: { runId, origin, owner: { pid: 1 }, createdAt: '', namespaces: [], sockets: [], processes: [], phase: 'up' } as LabRecord });

describe('defaultLab', () => {
  it('picks the only `lab up` lab beside labs of programs', () => {
    expect(defaultLab([rec('aaaaaa', 'api'), rec('bbbbbb', 'cli')])?.record.runId).toBe('bbbbbb');
  });
  it('never picks a lab a program built, and names it', () => {
    expect(() => defaultLab([rec('aaaaaa', 'api')])).toThrow(/no lab started with `lab up` is recorded; 1 built by a program .*aaaaaa.*--run-id/);
  });
  it('asks for --run-id when several `lab up` labs are recorded (records without origin count as such)', () => {
    expect(() => defaultLab([rec('aaaaaa', 'cli'), rec('bbbbbb')])).toThrow(/2 labs started with `lab up`.*aaaaaa, bbbbbb.*--run-id/);
  });
  it('none recorded: undefined (the caller says what that means)', () => {
    expect(defaultLab([])).toBeUndefined();
  });
});
