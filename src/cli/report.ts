// `qkd-harness report`: the Allure 3 HTML report (a single file) from a run's allure-results, with
// history kept beside it so nightly runs show trends.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { mergeAllureResults } from '../report/merge-results.ts';
import { CannotRunError, UsageError } from './exit.ts';

const run = promisify(execFile);

export async function buildReport(reportsDir: string, name = 'qkd-harness'): Promise<string> {
  const dir = resolve(reportsDir);
  const results = join(dir, 'allure-results');
  if (!existsSync(results)) throw new UsageError(`${results} does not exist: run the tests or a conformance run with --reports ${reportsDir} first`);
  const output = join(dir, 'allure-report');
  const config = join(dir, 'allurerc.json');
  writeFileSync(config, JSON.stringify({ name, output, historyPath: join(dir, 'history.jsonl'), plugins: { awesome: { options: { singleFile: true, reportName: name } } } }, null, 2));
  // The package exports only its API (dist/index.js); its command line is cli.js beside dist/.
  const cli = join(dirname(createRequire(import.meta.url).resolve('allure')), '..', 'cli.js');
  try {
    await run(process.execPath, [cli, 'generate', results, '--config', config], { timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    throw new CannotRunError(`allure generate failed: ${(err as { stderr?: string }).stderr?.trim().split('\n').pop() ?? String(err)}`);
  }
  return join(output, 'index.html');
}

export function register(program: Command): void {
  program
    .command('report')
    .description('build the Allure HTML report (one file) from <reports>/allure-results, keeping history for trends')
    .option('--reports <dir>', 'the run output directory', 'reports')
    .option('--name <name>', 'report title', 'qkd-harness')
    .option('--merge <dir...>', "build the report from these runs' reports directories (their allure-results) together with the --reports one's")
    .action(async (o: { reports: string; name: string; merge?: string[] }) => {
      if (o.merge?.length) {
        for (const d of o.merge) if (!existsSync(join(d, 'allure-results'))) throw new UsageError(`--merge ${d}: it has no allure-results`);
        // The --reports directory's own results are kept: copied aside, then merged back with the others.
        const own = join(resolve(o.reports), 'allure-results');
        const aside = mkdtempSync(join(tmpdir(), 'qkdh-merge-'));
        try {
          if (existsSync(own)) cpSync(own, join(aside, 'allure-results'), { recursive: true });
          mergeAllureResults(resolve(o.reports), [aside, ...o.merge.map((d) => resolve(d))]);
        } finally {
          rmSync(aside, { recursive: true, force: true });
        }
      }
      process.stdout.write(`${await buildReport(o.reports, o.name)}\n`);
    });
}
