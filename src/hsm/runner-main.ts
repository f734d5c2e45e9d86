// The child process of runner.ts: receives one request over IPC, runs it (operations.ts), answers
// over IPC and exits. It reports the name of each PKCS#11 function before calling it, so that the
// parent's deadline error can say where the module stopped answering.
//
// It is the leader of its own process group (spawned detached), so the parent can kill it together
// with anything the module started (p11-kit's transport command, for instance). Should the parent die
// first (SIGKILL leaves it no chance to clean up), a watchdog thread — which keeps running while the
// main thread is blocked inside the module — notices that this process has another parent and kills
// the group. The parent's PID comes from runner.ts rather than from process.ppid read by the watchdog:
// a watchdog that starts late (a loaded machine) would read the reaper's PID and never notice. And no
// PKCS#11 work starts before the watchdog is watching.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { EXIT, exitCodeFor } from '../cli/exit.ts';
import { execute } from './operations.ts';
import { PARENT_PID_ENV, type ChildMessage, type ParentMessage } from './runner.ts';

const parent = Number(process.env[PARENT_PID_ENV]) || process.ppid;
const killGroup = () => process.kill(-process.pid, 'SIGKILL');

// Plain JS without the parent's execArgv: no tsx loader to start in the thread.
const WATCHDOG = `const { workerData: parent, parentPort } = require('node:worker_threads');
const check = () => { if (process.ppid !== parent) process.kill(-process.pid, 'SIGKILL'); };
check();
setInterval(check, 250);
parentPort.postMessage('watching');`;

const send = (m: ChildMessage): Promise<void> => new Promise((resolve) => process.send!(m, undefined, {}, () => resolve()));

// The parent went while this process was idle (or between calls): nothing will ask for an answer.
process.on('disconnect', killGroup);

process.once('message', (m: ParentMessage) => {
  let answer: ChildMessage;
  try {
    answer = { type: 'result', result: execute(m.location, m.pin, m.request, (fn) => void send({ type: 'call', fn })) };
  } catch (err) {
    answer = { type: 'error', exitCode: exitCodeFor(err), message: err instanceof Error ? err.message : String(err) };
  }
  void send(answer).then(() => process.exit(0));
});

const watchdog = new Worker(WATCHDOG, { eval: true, workerData: parent, execArgv: [] });
watchdog.unref();
try {
  await once(watchdog, 'message');
  void send({ type: 'ready' });
} catch (err) {
  void send({ type: 'error', exitCode: EXIT.cannotRun, message: `the PKCS#11 worker cannot watch its parent: ${err instanceof Error ? err.message : String(err)}` }).then(() => process.exit(0));
}
