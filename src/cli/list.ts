// `qkd-harness list [--json]`: the requirement catalogues as a traceability matrix — each requirement
// with the tests that cover it; a requirement without a test is flagged (exit 1).
import type { Command } from 'commander';
import { traceability } from '../conformance/traceability.ts';
import { EXIT } from './exit.ts';

export function register(program: Command): void {
  program
    .command('list')
    .description('print the requirement catalogue with the tests covering each requirement')
    .option('--json', 'machine-readable output')
    .action((o: { json?: boolean }) => {
      const rows = traceability();
      if (o.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      else {
        const idW = Math.max(...rows.map((r) => r.id.length));
        for (const r of rows) {
          const where = r.tests.length ? r.tests.map((t) => t.file).join(', ') : 'NO TEST';
          process.stdout.write(`${r.id.padEnd(idW)}  ${(r.implied ? `${r.level}*` : r.level).padEnd(7)}  ${r.summary}\n${' '.repeat(idW + 11)}↳ ${where}\n`);
        }
        const missing = rows.filter((r) => r.tests.length === 0);
        if (rows.some((r) => r.implied)) process.stdout.write('\n* implied: the harness\'s hardening advice, not a "shall" of the standard (at most a warning)\n');
        process.stdout.write(`\n${rows.length} requirements, ${missing.length} without a test${missing.length ? `: ${missing.map((r) => r.id).join(', ')}` : ''}\n`);
      }
      if (rows.some((r) => r.tests.length === 0)) process.exitCode = EXIT.unexpected;
    });
}
