// PQC emulator process for one site (run inside its namespace). Rosenpass-style lines on stdout.
// Usage: main.ts --name alice --peer-name bob --listen HOST:PORT --peer HOST:PORT --key-out FILE
//                [--initiator] [--time-scale X] [--events FILE] [--half-written-ms N] [--faults-file FILE]
// Faults from the environment (QKDH_FAULT=stale-pqc|half-written-pqc, QKDH_FAULT_FROM, QKDH_FAULT_FOR),
// and at run time from --faults-file (stale, stop windows; the lab's pqc-stale / pqc-stop, src/lab/env-faults.ts).
import { parseArgs } from 'node:util';
import { FaultPlan } from '../keyctl/faults.ts';
import { PQC_CONTROL_FAULTS, PqcEmulator, type PqcControlFault } from './emulator.ts';
import { FaultsFile } from '../kme/faults-file.ts';
import { scaledTiming } from './timing.ts';
import { parseHostPort, type HostPort } from '../kme/host-port.ts';

function hostPort(v: string | undefined, what: string): HostPort {
  try {
    return parseHostPort(v ?? '', `--${what}`);
  } catch (err) {
    process.stderr.write(`pqc emulator: ${(err as Error).message}\n`);
    process.exit(2);
  }
}

const { values } = parseArgs({
  options: {
    name: { type: 'string', default: 'local' },
    'peer-name': { type: 'string', default: 'peer' },
    listen: { type: 'string' },
    peer: { type: 'string' },
    'key-out': { type: 'string' },
    initiator: { type: 'boolean', default: false },
    'time-scale': { type: 'string', default: '1' },
    events: { type: 'string' },
    'half-written-ms': { type: 'string', default: '5000' },
    'faults-file': { type: 'string' },
  },
});
if (!values['key-out']) {
  process.stderr.write('pqc emulator: --key-out FILE is required\n');
  process.exit(2);
}
const emulator = new PqcEmulator({
  name: values.name!,
  peerName: values['peer-name']!,
  listen: hostPort(values.listen, 'listen'),
  peer: hostPort(values.peer, 'peer'),
  keyOut: values['key-out'],
  initiator: values.initiator!,
  timing: scaledTiming(Number(values['time-scale'])),
  faults: FaultPlan.fromEnv(),
  halfWrittenMs: Number(values['half-written-ms']),
  events: values.events,
  control: values['faults-file'] ? new FaultsFile<PqcControlFault>(values['faults-file'], PQC_CONTROL_FAULTS, (l) => process.stderr.write(`${new Date().toISOString()} pqc emulator: ${l}\n`)).watch() : undefined,
});
emulator.start();
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => void emulator.stop().then(() => process.exit(0)));
