// `qkd-harness report`: the Allure 3 HTML report (a single file) from a run's allure-results, with
// history kept beside it so nightly runs show trends.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { buildMatrix, loadColumns, matrixHtml, matrixText, type Column } from '../report/compare.ts';
import { IMPLEMENTATION_LABEL, mergeAllureResults } from '../report/merge-results.ts';
import { CannotRunError, UsageError } from './exit.ts';

const run = promisify(execFile);

/**
 * Builds `<reportsDir>/allure-report/index.html` from `<reportsDir>/allure-results`. With `environments`
 * (implementation names), each becomes an Allure environment holding the results labelled with it.
 * @throws UsageError without allure-results; CannotRunError when Allure fails.
 */
export async function buildReport(reportsDir: string, name = 'qkd-harness', environments?: string[]): Promise<string> {
  const dir = resolve(reportsDir);
  const results = join(dir, 'allure-results');
  if (!existsSync(results)) throw new UsageError(`${results} does not exist: run the tests or a conformance run with --reports ${reportsDir} first`);
  const output = join(dir, 'allure-report');
  // The tree: standard or concern (epic) → clause or suite (feature) → requirement, not the file path.
  const settings = { name, output, historyPath: join(dir, 'history.jsonl'), plugins: { awesome: { options: { singleFile: true, reportName: name, groupBy: ['epic', 'feature'] } } } };
  let config = join(dir, 'allurerc.json');
  rmSync(join(dir, 'allurerc.mjs'), { force: true });
  if (environments?.length) {
    // Environments pick their results with a function: a module configuration, not JSON.
    config = join(dir, 'allurerc.mjs');
    const envs = environments.map((e, i) => `    ${JSON.stringify(`impl-${i + 1}`)}: { name: ${JSON.stringify(e)}, matcher: ({ labels }) => labels.some((l) => l.name === ${JSON.stringify(IMPLEMENTATION_LABEL)} && l.value === ${JSON.stringify(e)}) },`);
    writeFileSync(config, `export default {\n  ...${JSON.stringify(settings)},\n  environments: {\n${envs.join('\n')}\n  },\n};\n`);
  } else writeFileSync(config, JSON.stringify(settings, null, 2));
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
    .option('--compare <dir...>', 'vendor matrix: one column per implementation (reports directories of run, conformance or e2e), written to --reports (default reports/compare) with one Allure environment each')
    .action(async (o: { reports: string; name: string; merge?: string[]; compare?: string[] }, cmd: Command) => {
      if (o.compare) {
        const out = cmd.getOptionValueSource('reports') === 'default' ? join(o.reports, 'compare') : o.reports;
        await compare(o.compare, out, o.name === 'qkd-harness' ? 'qkd-harness vendor matrix' : o.name);
        return;
      }
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

/** `report --compare`: matrix.html, matrix.json and the Allure report with one environment per implementation. */
async function compare(dirs: string[], out: string, title: string): Promise<void> {
  if (dirs.length < 2) throw new UsageError('--compare needs at least two reports directories');
  const outDir = resolve(out);
  for (const d of dirs) if (resolve(d) === outDir) throw new UsageError(`--compare ${d}: it is also the output directory (--reports); write the comparison elsewhere`);
  let columns: Column[];
  try {
    columns = loadColumns(dirs);
  } catch (err) {
    throw new UsageError(`--compare: ${(err as Error).message}`);
  }
  mkdirSync(outDir, { recursive: true });
  const matrix = buildMatrix(columns);
  writeFileSync(join(outDir, 'matrix.json'), JSON.stringify(matrix, null, 2) + '\n');
  writeFileSync(join(outDir, 'matrix.html'), matrixHtml(matrix, title));
  mergeAllureResults(outDir, dirs.map((d) => resolve(d)), columns.map((c) => c.name));
  process.stdout.write(matrixText(matrix));
  process.stdout.write(`matrix: ${join(outDir, 'matrix.html')}\n`);
  process.stdout.write(`${await buildReport(outDir, title, columns.map((c) => c.name))}\n`);
}
