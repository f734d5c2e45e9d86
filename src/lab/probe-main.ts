// Probe process for one site (run inside its namespace): UDP echo on the overlay port and a prober
// towards the peer. Usage: probe-main.ts --target ADDR --port N --log FILE [--interval-ms N] [--timeout-ms N]
// `--instrument-fault always-replies` makes it blind on purpose (every datagram counts as answered):
// the lab's negative control must catch that (src/lab/negative-control.ts).
import { parseArgs } from 'node:util';
import { Prober, startEcho } from './probe.ts';

const { values } = parseArgs({
  options: {
    target: { type: 'string' },
    port: { type: 'string', default: '7' },
    log: { type: 'string' },
    'interval-ms': { type: 'string', default: '100' },
    'timeout-ms': { type: 'string', default: '1000' },
    'echo-port': { type: 'string' },
    'instrument-fault': { type: 'string' },
  },
});
if (!values.target || !values.log || (values['instrument-fault'] !== undefined && values['instrument-fault'] !== 'always-replies')) {
  process.stderr.write('usage: probe-main.ts --target ADDR --port N --log FILE [--interval-ms N] [--timeout-ms N] [--echo-port N] [--instrument-fault always-replies]\n');
  process.exit(2);
}
const echo = startEcho(Number(values['echo-port'] ?? values.port));
const prober = new Prober({ target: values.target, port: Number(values.port), intervalMs: Number(values['interval-ms']), timeoutMs: Number(values['timeout-ms']), log: values.log, alwaysReplies: values['instrument-fault'] === 'always-replies' });
prober.start();
process.stdout.write(JSON.stringify({ ready: true, pid: process.pid }) + '\n');
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    prober.stop();
    echo.close();
    process.exit(0);
  });
}
