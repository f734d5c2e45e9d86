// The HTML report as a person sees it: a real conformance run's report opened in headless Chromium (the
// Debian package, driven by puppeteer-core) shows the counts of that run's summary.json per Allure
// status, and its tree by standard → clause → requirement; a screenshot stays in the reports directory. The same
// results minus one failed result show one fewer: the count check can fail.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import puppeteer, { type Page } from 'puppeteer-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { Summary } from '../conformance/summary.ts';
import { runCli, startMockCli, stopCliChildren } from '../testing/cli.ts';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
// CI installs chromium (.ci/apt-packages) and sets QKD_REQUIRE_LAB=1: there a missing browser fails.
const skip = CHROMIUM || process.env.QKD_REQUIRE_LAB === '1' ? undefined : 'no Chromium (Debian: apt install chromium)';

afterAll(stopCliChildren);

/** The Allure status each outcome is filed under (src/report/allure-requirement.ts). */
const STATUS: Record<string, string> = { pass: 'Passed', warn: 'Passed', info: 'Passed', fail: 'Failed', error: 'Broken', skip: 'Skipped' };

/** The report's text once its tree has rendered (the single file renders its data after load). */
async function rendered(page: Page, reportsDir: string): Promise<string> {
  await page.goto(pathToFileURL(join(reportsDir, 'allure-report', 'index.html')).href, { waitUntil: 'load', timeout: 120_000 });
  // Expressions as strings: functions compiled here can carry helpers the page does not have.
  await page.waitForFunction('/qkd014\\/5\\.4\\/1 /.test(document.body.innerText)', { timeout: 120_000, polling: 250 });
  return (await page.evaluate('document.body.innerText')) as string;
}

/** The counts the report shows per status, as "Failed 3" lines of its text. */
function shownCounts(text: string): Record<string, number> {
  const shown: Record<string, number> = {};
  for (const m of text.matchAll(/^(Total|Failed|Broken|Passed|Skipped) (\d+)$/gm)) shown[m[1]!] ??= Number(m[2]);
  return shown;
}

describe.skipIf(Boolean(skip))(`the HTML report in a browser${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('shows the run\'s counts per status and its requirements grouped by standard and clause; a screenshot is kept', async () => {
    if (!CHROMIUM) throw new Error('Chromium is missing: install the Debian package chromium');
    const mock = await startMockCli(['--deviation', 'keys-not-removed', '--deviation', '404-instead-of-400']);
    const reports = mkdtempSync(join(tmpdir(), 'qkd-browser-'));
    await runCli(['conformance', '--target', mock.profile, '--grep', 'qkd014/5.4', '--reports', reports]);
    const built = await runCli(['report', '--reports', reports]);
    expect(built.code, built.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(reports, 'summary.json'), 'utf8')) as Summary;
    const want: Record<string, number> = { Total: summary.results.length };
    for (const r of summary.results) want[STATUS[r.outcome]!] = (want[STATUS[r.outcome]!] ?? 0) + 1;
    expect(want.Failed, 'the run must show more than one status').toBeGreaterThan(0);

    // The failing side: the same results with one failed result removed must show one Failed and one
    // Total fewer than this summary, or the count check could not catch a report that drops results.
    const tampered = mkdtempSync(join(tmpdir(), 'qkd-browser-tampered-'));
    cpSync(join(reports, 'allure-results'), join(tampered, 'allure-results'), { recursive: true });
    const dropped = readdirSync(join(tampered, 'allure-results')).find((f) => {
      if (!f.endsWith('-result.json')) return false;
      const r = JSON.parse(readFileSync(join(tampered, 'allure-results', f), 'utf8')) as { status: string; name: string };
      return r.status === 'failed' && !r.name.startsWith('qkd014/5.4/1 '); // 5.4/1 is what rendered() waits for
    });
    expect(dropped, 'a failed result to drop').toBeDefined();
    rmSync(join(tampered, 'allure-results', dropped!));
    expect((await runCli(['report', '--reports', tampered])).code).toBe(0);

    const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 120_000, protocolTimeout: 120_000 });
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 1400, height: 1000 });
      const text = await rendered(page, reports);
      expect(shownCounts(text)).toEqual(want);
      // Standard → clause → requirement, not the file the checks live in.
      const order = ['ETSI GS QKD 014 V1.1.1 (2019-02)\n', '5.4 Get key with key IDs\n', 'qkd014/5.4/1 '].map((x) => text.indexOf(x));
      expect(order.every((x, i) => x >= 0 && (i === 0 || x > order[i - 1]!)), text.slice(0, 800)).toBe(true);
      expect(text).not.toContain('5.4-get-key-with-key-ids.test.ts');
      const shot = join(reports, 'allure-report-screenshot.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(10_000);

      const short = shownCounts(await rendered(page, tampered));
      expect(short).not.toEqual(want);
      const fewer: Record<string, number> = { ...want, Total: want.Total! - 1, Failed: want.Failed! - 1 };
      if (fewer.Failed === 0) delete fewer.Failed; // the report shows no line for a status without results
      expect(short).toEqual(fewer);
    } finally {
      await browser.close();
    }
    expect(spawnSync('pgrep', ['-f', `${reports}`]).status, 'no browser process left').not.toBe(0);
  }, 420_000);
});
