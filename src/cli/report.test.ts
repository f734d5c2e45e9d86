// `qkd-harness report --compare`: the faithful mock against one with deviation switches, side by side — the
// matrix (text, HTML, JSON) and one Allure report with an environment per implementation.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Matrix } from '../report/compare.ts';
import { runCli, startMockCli, stopCliChildren } from '../testing/cli.ts';

afterAll(stopCliChildren);

describe('qkd-harness report --compare', () => {
  it('puts the faithful mock and a deviating one side by side: differing rows listed, one Allure environment each', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'qkd-compare-cli-'));
    const [faithful, deviating] = await Promise.all([startMockCli(), startMockCli(['--deviation', 'keys-not-removed', '--deviation', '404-instead-of-400'])]);
    const a = join(tmp, 'faithful');
    const b = join(tmp, 'deviating');
    // Clause 5.4 only: the deviations show there, and it keeps the two runs short.
    await runCli(['conformance', '--target', faithful.profile, '--grep', 'qkd014/5.4', '--reports', a]);
    await runCli(['conformance', '--target', deviating.profile, '--grep', 'qkd014/5.4', '--reports', b]);
    const out = join(tmp, 'compare');
    const r = await runCli(['report', '--compare', a, b, '--reports', out]);
    expect(r.code, r.stderr).toBe(0);
    // Both mocks call themselves the same: the columns are told apart by their directories.
    expect(r.stdout).toMatch(/requirement\s+qkd-harness-mock \(faithful\)\s+qkd-harness-mock \(deviating\)/);
    expect(r.stdout).toMatch(/qkd014\/5\.4\/3\s+pass\s+fail/);
    expect(r.stdout).toMatch(/qkd014\/5\.4\/4\s+pass\s+warn/);
    expect(r.stdout).not.toMatch(/qkd014\/5\.4\/1\s/); // the same in both: not a difference
    const matrix = JSON.parse(readFileSync(join(out, 'matrix.json'), 'utf8')) as Matrix;
    expect(matrix.rows.find((x) => x.id === 'qkd014/5.4/1')).toMatchObject({ outcomes: ['pass', 'pass'], differs: false });
    expect(readFileSync(join(out, 'matrix.html'), 'utf8')).toMatch(/<tr class="differs"><td>qkd014\/5\.4\/3<\/td><td class="pass"[^>]*>pass<\/td><td class="fail"/);
    // The Allure report: every result in its implementation's environment.
    const html = r.stdout.trim().split('\n').pop()!;
    expect(html).toBe(join(out, 'allure-report', 'index.html'));
    const results = Object.values((JSON.parse(readFileSync(join(out, 'allure-report', 'test-results.json'), 'utf8')) as { byId: Record<string, { environment: string; name: string }> }).byId);
    const envs = new Map<string, number>();
    for (const x of results) envs.set(x.environment, (envs.get(x.environment) ?? 0) + 1);
    expect(Object.fromEntries(envs)).toEqual({ 'qkd-harness-mock (faithful)': matrix.rows.length, 'qkd-harness-mock (deviating)': matrix.rows.length });
  }, 300_000);

  it('refuses one directory, a directory without results, and writing over one it compares (exit 2)', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'qkd-compare-bad-'));
    const one = await runCli(['report', '--compare', tmp]);
    expect([one.code, one.stderr]).toEqual([2, expect.stringContaining('at least two reports directories')]);
    const none = await runCli(['report', '--compare', tmp, tmp, '--reports', join(tmp, 'out')]);
    expect([none.code, none.stderr]).toEqual([2, expect.stringContaining(`${tmp}: no summary.json`)]);
    const over = await runCli(['report', '--compare', tmp, join(tmp, 'x'), '--reports', tmp]);
    expect([over.code, over.stderr]).toEqual([2, expect.stringContaining('it is also the output directory')]);
    expect(existsSync(join(tmp, 'allure-results'))).toBe(false);
  });
});
