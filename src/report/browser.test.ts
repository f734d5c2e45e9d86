// The HTML report as a person sees it: a real conformance run's report opened in headless Chromium (the
// Debian package, driven by puppeteer-core) shows the counts of that run's summary.json per Allure
// status, and its tree by standard → clause → requirement; a screenshot stays in the reports directory.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import puppeteer from 'puppeteer-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { Summary } from '../conformance/summary.ts';
import { runCli, startMockCli, stopCliChildren } from '../testing/cli.ts';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
// CI installs chromium (.ci/apt-packages) and sets QKD_REQUIRE_LAB=1: there a missing browser fails.
const skip = CHROMIUM || process.env.QKD_REQUIRE_LAB === '1' ? undefined : 'no Chromium (Debian: apt install chromium)';

afterAll(stopCliChildren);

/** The Allure status each outcome is filed under (src/report/allure-requirement.ts). */
const STATUS: Record<string, string> = { pass: 'Passed', warn: 'Passed', info: 'Passed', fail: 'Failed', error: 'Broken', skip: 'Skipped' };

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

    const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 120_000, protocolTimeout: 120_000 });
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 1400, height: 1000 });
      await page.goto(pathToFileURL(join(reports, 'allure-report', 'index.html')).href, { waitUntil: 'load', timeout: 120_000 });
      // The single-file report renders its data after load: wait for the tree. (Expressions as strings:
      // functions compiled here can carry helpers the page does not have.)
      await page.waitForFunction('/qkd014\\/5\\.4\\/1 /.test(document.body.innerText)', { timeout: 120_000, polling: 250 });
      const text = (await page.evaluate('document.body.innerText')) as string;
      const shown: Record<string, number> = {};
      for (const m of text.matchAll(/^(Total|Failed|Broken|Passed|Skipped) (\d+)$/gm)) shown[m[1]!] ??= Number(m[2]);
      expect(shown).toEqual(want);
      // Standard → clause → requirement, not the file the checks live in.
      const order = ['ETSI GS QKD 014 V1.1.1 (2019-02)\n', '5.4 Get key with key IDs\n', 'qkd014/5.4/1 '].map((x) => text.indexOf(x));
      expect(order.every((x, i) => x >= 0 && (i === 0 || x > order[i - 1]!)), text.slice(0, 800)).toBe(true);
      expect(text).not.toContain('5.4-get-key-with-key-ids.test.ts');
      const shot = join(reports, 'allure-report-screenshot.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(10_000);
    } finally {
      await browser.close();
    }
    expect(spawnSync('pgrep', ['-f', `${reports}`]).status, 'no browser process left').not.toBe(0);
  }, 420_000);
});
