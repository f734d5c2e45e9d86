// The verdict model: level × profile × finding → outcome, and expectations → what fails a run.
import { describe, expect, it } from 'vitest';
import type { Requirement } from './catalogue.ts';
import { decide } from './verdict.ts';
import { judge } from './expectations.ts';

const req = (level: Requirement['level'], implied = false): Requirement => ({ id: 'qkd014/9/9', clause: '9', level, summary: 's', implied });
const fail = { kind: 'fail' as const, message: 'm', tolerance: 'status-code' as const };
const plain = { kind: 'fail' as const, message: 'm' };

describe('verdicts', () => {
  it('a MUST failure fails in strict; lenient tolerates a common deviation kind in every requirement alike', () => {
    expect(decide(req('MUST'), 'strict', fail).outcome).toBe('fail');
    expect(decide(req('MUST'), 'lenient', fail)).toMatchObject({ outcome: 'warn', message: expect.stringContaining('tolerated deviation "status-code"') });
    expect(decide(req('MUST'), 'lenient', plain).outcome).toBe('fail');
  });

  it('an implied requirement (hardening advice) is at most a warning, in either profile', () => {
    for (const p of ['strict', 'lenient'] as const) expect(decide(req('MUST', true), p, plain)).toMatchObject({ outcome: 'warn', message: expect.stringContaining('implied requirement') });
  });

  it('a check with several deviations reports each, and the worst decides', () => {
    const f = { kind: 'fail' as const, message: 'a; b', deviations: [{ message: 'a', tolerance: 'status-code' as const }, { message: 'b' }] };
    expect(decide(req('MUST'), 'lenient', f)).toMatchObject({ outcome: 'fail', message: expect.stringMatching(/2 deviations: \(1\) a .*; \(2\) b/) });
    expect(decide(req('MUST'), 'lenient', { ...f, deviations: [f.deviations[0]!] }).outcome).toBe('warn');
    expect(decide(req('MUST'), 'strict', { ...f, unjudged: 'GET status stalled' }).message).toMatch(/\(2\) b; the rest could not be judged: GET status stalled$/);
  });

  it('a SHOULD failure fails in strict and warns in lenient; a MAY failure is information', () => {
    expect(decide(req('SHOULD'), 'strict', fail).outcome).toBe('fail');
    expect(decide(req('SHOULD'), 'lenient', fail).outcome).toBe('warn');
    expect(decide(req('MAY'), 'strict', fail).outcome).toBe('info');
  });

  it('an error is never a pass, in any profile', () => {
    for (const p of ['strict', 'lenient'] as const) expect(decide(req('MAY'), p, { kind: 'error', message: 'x' }).outcome).toBe('error');
    expect(judge('a/1', 'error', undefined).unexpected).toBe(true);
  });

  it('without expectations, fail and error are unexpected; pass, warn, info and skip are not', () => {
    expect(['pass', 'fail', 'warn', 'info', 'skip', 'error'].map((o) => judge('a/1', o as never, undefined).unexpected)).toEqual([false, true, false, false, false, true]);
  });

  it('with expectations only differences count, and a fixed expected failure is reported as stale', () => {
    const exp = new Map([['a/1', { outcome: 'fail' as const }], ['a/2', { outcome: 'pass' as const }]]);
    expect(judge('a/1', 'fail', exp)).toMatchObject({ unexpected: false, stale: false });
    expect(judge('a/1', 'pass', exp)).toMatchObject({ unexpected: false, stale: true });
    expect(judge('a/2', 'warn', exp)).toMatchObject({ unexpected: true });
    expect(judge('a/1', 'error', exp)).toMatchObject({ unexpected: true });
  });
});
