// qkd-harness command line. Each command lives in its own module and registers itself here.
import { Command, CommanderError } from 'commander';
import { EXIT, exitCodeFor } from './exit.ts';

const program = new Command('qkd-harness')
  .description('Conformance and interoperability test harness for QKD-secured VPNs')
  .showHelpAfterError()
  .exitOverride();

const commands = ['./psk.ts', './mock.ts', './conformance.ts', './list.ts', './run.ts', './lab.ts', './e2e.ts', './report.ts'];
for (const path of commands) {
  try {
    const mod = (await import(path)) as { register(p: Command): void };
    mod.register(program);
  } catch (err) {
    // A command module that does not exist yet is simply absent; any other failure is a bug.
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND' || !String(err).includes(path.slice(2))) throw err;
  }
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
