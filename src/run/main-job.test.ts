// The main job's closing table: one line per root cause, naming every requirement it hit.
import { describe, expect, it } from 'vitest';
import { byCause, mainJobExit, type MainJobSummary, type StepSummary } from './main-job.ts';

const spent = (path: string, port: number) => `could not evaluate: deadline: GET ${path} at 127.0.0.1:${port}: not sent: the run budget of 180 s is spent`;

describe('main job summary', () => {
  it('groups unexpected outcomes by cause: the request and the wrapper differ, the cause does not', () => {
    const groups = byCause([
      { id: 'qkd014/4/2', outcome: 'error', unexpected: true, message: spent('/api/v1/keys/SAE_B/status', 35459) },
      { id: 'qkd014/5.3/1', outcome: 'error', unexpected: true, message: `prerequisite GET status failed: ${spent('/api/v1/keys/SAE_B/enc_keys', 33215)}` },
      { id: 'qkd014/5.4/3', outcome: 'fail', unexpected: true, message: 'a consumed key_ID was served again' },
      { id: 'qkd014/5.4/4', outcome: 'error', unexpected: true, message: 'a consumed key_ID was served again' },
    ]);
    expect(groups.map((g) => [g.outcome, g.ids])).toEqual([
      ['error', ['qkd014/4/2', 'qkd014/5.3/1']],
      ['fail', ['qkd014/5.4/3']],
      ['error', ['qkd014/5.4/4']],
    ]);
  });

  it('exit: 3 when a step could not run, else 1 on unexpected outcomes, else 0', () => {
    const step = (o: Partial<StepSummary>): StepSummary => ({ name: 'psk', title: 'x', status: 'ran', durationS: 1, counts: { pass: 1, fail: 0, warn: 0, info: 0, skip: 0, error: 0 }, unexpected: [], ...o });
    const job = (steps: StepSummary[]): MainJobSummary => ({ run: 'run', target: 't', started: '', finished: '', steps });
    expect(mainJobExit(job([step({}), step({ status: 'skipped', why: '--quick' })]))).toBe(0);
    expect(mainJobExit(job([step({ unexpected: [{ id: 'psk/1', outcome: 'fail', unexpected: true }] })]))).toBe(1);
    expect(mainJobExit(job([step({ status: 'failed-to-run', why: 'exit 3' }), step({ unexpected: [{ id: 'psk/1', outcome: 'fail', unexpected: true }] })]))).toBe(3);
  });
});
