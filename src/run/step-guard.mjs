// Runs one step of the main job and ties it to the job: `node step-guard.mjs PARENT_PID CMD ARGS…`.
// It is the leader of the step's process group (the job spawns it detached) and runs CMD in that group.
// When the job dies without a chance to clean up (SIGKILL), this process is re-parented: it notices
// within half a second and ends the whole group (SIGTERM, SIGKILL 15 s later), so no mock KME, lab or
// vitest outlives the job. Signals the job sends to the group reach CMD directly; this process waits for
// CMD to end and exits as it did. Plain JavaScript: no TypeScript loader to start first.
import { spawn } from 'node:child_process';

const [parentArg, cmd, ...args] = process.argv.slice(2);
const parent = Number(parentArg);
if (!parent || !cmd) {
  process.stderr.write('usage: step-guard.mjs PARENT_PID CMD [ARGS…]\n');
  process.exit(2);
}

const child = spawn(cmd, args, { stdio: 'inherit' });
// The group gets the job's signals; CMD handles them, this process stays to report how CMD ended.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => undefined);

const endGroup = () => {
  try {
    process.kill(-process.pid, 'SIGTERM');
  } catch {
    /* the group is gone */
  }
  setTimeout(() => {
    try {
      process.kill(-process.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 15_000).unref();
};
const watch = setInterval(() => {
  if (process.ppid !== parent) {
    clearInterval(watch);
    endGroup();
  }
}, 500);

child.on('error', (err) => {
  process.stderr.write(`step-guard: cannot start ${cmd}: ${err.message}\n`);
  process.exit(127);
});
child.on('exit', (code, signal) => {
  clearInterval(watch);
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  }
  process.exit(code ?? 1);
});
