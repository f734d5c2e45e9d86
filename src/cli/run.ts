// `qkd-harness run` (also `npm start`): the main job against the embedded default. For now: the ETSI 014
// conformance suite, strict, against the mock KME pair the command starts and stops itself.
import type { Command } from 'commander';
import { conformance } from './conformance.ts';

export function register(program: Command): void {
  program
    .command('run')
    .description('everything against the embedded default (today: ETSI 014 conformance against the mock KME pair, strict)')
    .option('--reports <dir>', 'where reports go', 'reports')
    .action(async (o: { reports: string }) => {
      process.exitCode = await conformance({ strict: true, reports: o.reports });
    });
}
