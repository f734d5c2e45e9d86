// The built-in key-control agent as a process: configured like Arnika 1.x through the environment
// (docs/lab.md), JSON-lines events on stdout (fingerprints only), stops on SIGTERM/SIGINT.
import { ConfigError, loadConfig } from './config.ts';
import { Agent } from './agent.ts';
import { FaultPlan } from './faults.ts';
import { Kms } from './kms.ts';

let config;
let faults;
try {
  config = loadConfig();
  faults = FaultPlan.fromEnv();
} catch (err) {
  process.stderr.write(`key-control: ${err instanceof ConfigError || err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}
const kms = new Kms(config, { noDeadline: faults.has('no-kms-deadline') });
const agent = new Agent(config, { kms, faults });
try {
  await agent.start();
} catch (err) {
  process.stderr.write(`key-control: cannot listen on ${config.listenAddress.host}:${config.listenAddress.port}: ${(err as NodeJS.ErrnoException).code ?? String(err)}\n`);
  process.exit(3);
}
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    void agent
      .stop()
      .then(() => kms.close())
      .finally(() => process.exit(0));
  });
}
