// The agent's PKCS#11 worker process: holds the site's token session (and so the session-object KEK) and
// runs one request at a time from its agent over IPC (token-client.ts). Before each PKCS#11 call it
// reports the function's name, so the agent's deadline error can say where the module stopped
// answering. It leads its own process group (spawned detached): the agent kills the group when a call
// misses its deadline, taking along whatever the module started. Should the agent die first, a watchdog
// thread — which keeps running while the main thread is blocked inside the module — kills the group.
import { Worker } from 'node:worker_threads';
import { TokenSide, type TokenOp } from './token-side.ts';

export type WorkerRequest = { id: number; op: TokenOp; args: unknown } | { id: number; op: 'close' };
export type WorkerMessage = { type: 'ready' } | { type: 'call'; fn: string } | { type: 'result'; id: number; result: unknown } | { type: 'error'; id: number; name: string; message: string };

// The agent's PID is read here, not by the thread: a thread that starts late (loaded machine) would read the reaper's.
new Worker(`const { workerData: agent } = require('node:worker_threads'); setInterval(() => { if (process.ppid !== agent) process.kill(-process.pid, 'SIGKILL'); }, 500);`, { eval: true, workerData: process.ppid, execArgv: [] }).unref();

const send = (m: WorkerMessage): void => void process.send!(m);
let last = '';
const side = new TokenSide((fn) => {
  if (fn === last) return; // one report per run of calls to the same function keeps IPC light
  last = fn;
  send({ type: 'call', fn });
});

process.on('message', (m: WorkerRequest) => {
  if (m.op === 'close') {
    side.close();
    process.exit(0);
  }
  last = '';
  try {
    send({ type: 'result', id: m.id, result: side.run(m.op, m.args as never) });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    send({ type: 'error', id: m.id, name: e.name, message: e.message });
  }
});
// The agent is gone (its IPC channel closed): nothing will ask for anything any more.
process.on('disconnect', () => {
  side.close();
  process.exit(0);
});

send({ type: 'ready' });
