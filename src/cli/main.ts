// qkd-harness command line. Each command lives in its own module and registers itself here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { EXIT, exitCodeFor } from './exit.ts';
import { PACKAGE_ROOT } from '../util/entry.js';

// A reader that stops early (`qkd-harness list --json | head`) is not an error of ours.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
  throw err;
});

const { version } = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };

const program = new Command('qkd-harness')
  .description('Conformance and interoperability test harness for QKD-secured VPNs')
  .version(version, '-V, --version', 'print the version')
  .showHelpAfterError()
  .exitOverride();

// Each command's module is named after it. Only the one invoked is loaded (`psk derive` need not load the
// lab or the mock); help and unknown commands load them all so the listing is complete.
const COMMANDS = ['run', 'doctor', 'psk', 'mock', 'conformance', 'list', 'lab', 'e2e', 'report', 'hsm', 'kpi'];
const invoked = process.argv[2];
// `--version` needs no command at all: loading all eleven took a second of the start.
const wanted = invoked === '-V' || invoked === '--version' ? [] : COMMANDS.includes(invoked ?? '') ? [invoked!] : COMMANDS;
for (const name of wanted) {
  const mod = (await import(`./${name}.ts`)) as { register(p: Command): void };
  mod.register(program);
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    process.stderr.write(`qkd-harness: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = exitCodeFor(err);
  }
}
