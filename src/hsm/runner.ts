// Runs one HSM operation in a child process under a deadline. A PKCS#11 call is synchronous native
// code: a module waiting on a dead network link (a Luna appliance behind a cut tunnel, p11-kit's
// client) blocks its thread, and neither a timer nor process.exit can end a process stuck like that
// (exit waits for worker threads). So the module is only ever loaded in a child; when the deadline
// passes, the child's process group is killed with SIGKILL and the caller gets a CannotRunError naming
// the module and the PKCS#11 function it was waiting in.
//
// The PIN travels over the IPC channel only (not argv, not the environment, which other processes of
// the same user can read under /proc).
import { spawn, type ChildProcess } from 'node:child_process';
import { CannotRunError, EXIT, UsageError } from '../cli/exit.ts';
import { entryArgv } from '../lab/node.ts';
import type { HsmRequest, HsmResult, TokenLocation } from './operations.ts';

/** The environment variable that tells the child its parent's PID (runner-main.ts's watchdog). */
export const PARENT_PID_ENV = 'QKD_HSM_RUNNER_PARENT';

export type ParentMessage = { location: TokenLocation; pin?: string; request: HsmRequest };
export type ChildMessage = { type: 'ready' } | { type: 'call'; fn: string } | { type: 'result'; result: HsmResult } | { type: 'error'; exitCode: number; message: string };

export interface RunOptions {
  /** Deadline of the PKCS#11 work, from the child's start of work to its answer (ms). */
  timeoutMs: number;
  /** Extra environment for the module (e.g. SOFTHSM2_CONF of a lab site). */
  env?: Record<string, string>;
  /** How long the child may take to start (tsx on a loaded machine is slow); not part of timeoutMs. */
  startupMs?: number;
}

/** The deadline passed: the module did not answer. */
export class HsmDeadlineError extends CannotRunError {
  override name = 'HsmDeadlineError';
}

/** An error the child reported, with the exit code the CLI should use (read by exitCodeFor). */
class ChildError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

const live = new Set<ChildProcess>();

function killGroup(c: ChildProcess): void {
  try {
    process.kill(-c.pid!, 'SIGKILL');
  } catch {
    c.kill('SIGKILL');
  }
}

// While children run, SIGINT/SIGTERM of this process take them (and what their module started) along.
function onSignal(sig: NodeJS.Signals): void {
  for (const c of live) killGroup(c);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.kill(process.pid, sig);
}

/**
 * Runs `request` on the token at `location` in a child process.
 * @throws HsmDeadlineError after `timeoutMs`; UsageError/CannotRunError/Pkcs11 errors as the child reported them (message and exit code).
 */
export function runHsm(location: TokenLocation, pin: string | undefined, request: HsmRequest, o: RunOptions): Promise<HsmResult> {
  const [node, ...args] = entryArgv('src/hsm/runner-main.ts');
  const child = spawn(node!, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'advanced', env: { ...process.env, ...o.env, [PARENT_PID_ENV]: String(process.pid) } });
  if (live.size === 0) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  live.add(child);
  let diagnostics = '';
  const keep = (c: Buffer) => (diagnostics = (diagnostics + c.toString()).slice(-2000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let lastCall = 'starting';
  let timer: NodeJS.Timeout | undefined;
  return new Promise<HsmResult>((resolve, reject) => {
    const finish = (err: Error | undefined, result?: HsmResult) => {
      clearTimeout(timer);
      timer = undefined;
      if (err) {
        killGroup(child);
        reject(err);
        return;
      }
      // The worker exits by itself once its answer is out; one stuck in the module's exit handlers goes anyway.
      setTimeout(() => child.exitCode === null && child.signalCode === null && killGroup(child), 5_000).unref();
      resolve(result!);
    };
    timer = setTimeout(() => finish(new CannotRunError(`the PKCS#11 worker for ${location.module} did not start within ${o.startupMs ?? 60_000} ms`)), o.startupMs ?? 60_000);
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'ready') {
        clearTimeout(timer);
        timer = setTimeout(() => finish(new HsmDeadlineError(`no answer from the PKCS#11 module ${location.module} within ${o.timeoutMs} ms (waiting in ${lastCall}); the call was abandoned`)), o.timeoutMs);
        child.send({ location, pin, request } satisfies ParentMessage);
      } else if (m.type === 'call') lastCall = m.fn;
      else if (m.type === 'result') finish(undefined, m.result);
      else if (m.type === 'error') finish(m.exitCode === EXIT.usage ? new UsageError(m.message) : new ChildError(m.message, m.exitCode));
    });
    child.on('error', (err) => finish(new CannotRunError(`cannot start the PKCS#11 worker: ${err.message}`)));
    child.on('exit', (code, signal) => {
      live.delete(child);
      if (live.size === 0) {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      // After an answer this is the normal end; before one, the module crashed the process. 'exit' may
      // come before the last messages are read from the channel (the answer, sent just before the child
      // exits): judge once the channel is closed, so an answer is never taken for a crash.
      const judge = () => {
        if (timer) finish(new CannotRunError(`the PKCS#11 worker for ${location.module} ended (${signal ?? `exit ${code}`}) while in ${lastCall}${diagnostics.trim() ? `: ${diagnostics.trim().split('\n').slice(-3).join(' | ')}` : ''}`));
      };
      if (!timer) return;
      if (!child.connected) judge();
      else {
        child.once('disconnect', judge);
        setTimeout(judge, 2_000); // the channel's other end may be held open by a helper the module started
      }
    });
  });
}
