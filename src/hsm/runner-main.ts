// The child process of runner.ts: receives one request over IPC, runs it (operations.ts), answers
// over IPC and exits. It reports the name of each PKCS#11 function before calling it, so that the
// parent's deadline error can say where the module stopped answering.
//
// It is the leader of its own process group (spawned detached), so the parent can kill it together
// with anything the module started (p11-kit's transport command, for instance). Should the parent die
// first, a watchdog thread — which keeps running while the main thread is blocked inside the module —
// notices the new parent PID and kills the group.
import { Worker } from 'node:worker_threads';
import { exitCodeFor } from '../cli/exit.ts';
import { execute } from './operations.ts';
import type { ChildMessage, ParentMessage } from './runner.ts';

new Worker(`const first = process.ppid; setInterval(() => { if (process.ppid !== first) process.kill(-process.pid, 'SIGKILL'); }, 500);`, { eval: true }).unref();

const send = (m: ChildMessage): Promise<void> => new Promise((resolve) => process.send!(m, undefined, {}, () => resolve()));

process.once('message', (m: ParentMessage) => {
  let answer: ChildMessage;
  try {
    answer = { type: 'result', result: execute(m.location, m.pin, m.request, (fn) => void send({ type: 'call', fn })) };
  } catch (err) {
    answer = { type: 'error', exitCode: exitCodeFor(err), message: err instanceof Error ? err.message : String(err) };
  }
  void send(answer).then(() => process.exit(0));
});

void send({ type: 'ready' });
