// The replication agent as a process, one per site (the stand-in for Luna's HA client): `--role primary`
// on site A (scans its token, sends to the replica's tunnel address), `--role replica` on site B
// (listens on its tunnel address, imports). Options: config.ts. Like the lab's other mocks: once ready,
// one JSON status line on stdout; events as JSON lines on stderr (fingerprints only); the state in
// --status FILE; SIGTERM/SIGINT stop it cleanly (exit 0). Exit 2: usage (options, PIN, faults);
// exit 3: cannot run (token not usable, address not bindable).
import { EXIT, UsageError } from '../../src/cli/exit.ts';
import { formatHostPort } from '../kme/host-port.ts';
import { parseAgentArgs, type AgentConfig } from './config.ts';
import { PrimaryAgent } from './primary.ts';
import { ReplicaAgent } from './replica.ts';
import { StatusBoard, stderrLog } from './status.ts';
import { TokenWorker } from './token-client.ts';

let config: AgentConfig;
try {
  config = parseAgentArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`hsm-sync: ${(err as Error).message}\n`);
  process.exit(err instanceof UsageError ? EXIT.usage : EXIT.cannotRun);
}

const log = stderrLog(config.site, config.role);
const board = new StatusBoard({ role: config.role, site: config.site, faults: [...config.faults] }, config.status);
const worker = new TokenWorker({
  location: config.location,
  pin: config.pin,
  timeoutMs: config.hsmTimeoutMs,
  startupMs: config.startupMs,
  onEvent: (e) => {
    log(e.ev, e.ev === 'worker-started' ? { pid: e.pid, token: e.token, generation: e.generation } : { why: e.why });
    if (e.ev === 'worker-started') board.update((s) => (s.hsm.generation = e.generation));
  },
});
const agent =
  config.role === 'primary'
    ? new PrimaryAgent({ site: config.site, peer: config.peer!, ...(config.peerUnderlay ? { peerUnderlay: config.peerUnderlay } : {}), ...(config.bind ? { bind: config.bind } : {}), scanMs: config.scanMs, netTimeoutMs: config.netTimeoutMs, hsmTimeoutMs: config.hsmTimeoutMs, pingMs: config.pingMs, retryMaxMs: config.retryMaxMs, faults: config.faults }, worker, board, log)
    : new ReplicaAgent({ site: config.site, listen: config.listen, netTimeoutMs: config.netTimeoutMs, idleMs: config.idleMs, faults: config.faults }, worker, board, log);

try {
  await agent.start();
} catch (err) {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`hsm-sync: cannot start the ${config.role} agent: ${message}\n`);
  await worker.close();
  process.exit(err instanceof UsageError || /CKR_PIN_(INCORRECT|INVALID|LEN_RANGE)|no token with/.test(message) ? EXIT.usage : EXIT.cannotRun);
}

const ready = {
  ready: true,
  role: config.role,
  site: config.site,
  pid: process.pid,
  token: worker.token ?? null,
  ...(agent instanceof ReplicaAgent ? { listen: agent.addresses } : { peer: formatHostPort(config.peer!), journal: (agent as PrimaryAgent).journal.id }),
  status: config.status ?? null,
  faults: [...config.faults],
};
process.stdout.write(`${JSON.stringify(ready)}\n`);
log('start', { ...ready, ready: undefined });

let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    log('stop', { signal: sig });
    void agent.stop().finally(() => process.exit(0));
  });
}
