// The agent's handle on its PKCS#11 worker (token-worker.ts): requests go one at a time, each under a
// deadline. A PKCS#11 call is synchronous native code, and a module waiting on a dead link (a network HSM
// behind a cut tunnel) blocks its thread where neither a timer nor process.exit can reach it (see
// src/hsm/runner.ts). So the module lives only in the worker; when a request misses its deadline the
// worker's process group is killed, the request fails with HsmDeadlineError naming the PKCS#11 function
// it was waiting in, and the next request starts a fresh worker (which has no KEK: the next session
// between the agents runs the ceremony again). The agent's own event loop never waits on the module.
//
// The PIN goes to the worker over IPC only; PIN variables are removed from the worker's environment.
import { spawn, type ChildProcess } from 'node:child_process';
import { CannotRunError, UsageError } from '../../src/cli/exit.ts';
import { HsmDeadlineError } from '../../src/hsm/runner.ts';
import type { TokenLocation } from '../../src/hsm/operations.ts';
import { entryArgv } from '../../src/lab/node.ts';
import { CeremonyAborted } from './kek.ts';
import { KekMismatch } from './replicate.ts';
import type { OpArgs, OpResult, TokenOp } from './token-side.ts';
import type { WorkerMessage, WorkerRequest } from './token-worker.ts';

export { HsmDeadlineError };

/** An error the worker reported that has no class of its own here (e.g. Pkcs11CallError: "C_Login failed: CKR_PIN_INCORRECT"). */
export class TokenError extends Error {
  constructor(
    message: string,
    readonly kind: string,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

export interface TokenWorkerOptions {
  location: TokenLocation;
  pin: string;
  /** Extra environment for the module (e.g. SOFTHSM2_CONF of a lab site). */
  env?: Record<string, string>;
  /** Deadline of each request, from sending it to its answer (ms). */
  timeoutMs: number;
  /** How long the worker may take to start (tsx on a loaded machine is slow); not part of timeoutMs. */
  startupMs?: number;
  /** Worker life-cycle events for the agent's log. */
  onEvent?: (e: { ev: 'worker-started'; pid: number; token: string; generation: number } | { ev: 'worker-ended'; why: string }) => void;
}

interface Pending {
  id: number;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class TokenWorker {
  /** Incremented at each worker start: a KEK belongs to one generation. */
  generation = 0;
  /** The token's label (after the first successful open). */
  token: string | undefined;
  private child: ChildProcess | undefined;
  private pending: Pending | undefined;
  private lastCall = 'starting';
  private seq = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(readonly o: TokenWorkerOptions) {}

  /**
   * Runs `op` in the worker (starting it first when needed), after the requests before it.
   * @throws HsmDeadlineError (no answer in time; the worker was killed), CannotRunError (worker did not
   *         start or died), KekMismatch, CeremonyAborted, UsageError, TokenError (what the operation threw).
   */
  call<K extends TokenOp>(op: K, args: OpArgs<K>, timeoutMs = this.o.timeoutMs): Promise<OpResult<K>> {
    const run = this.queue.then(async () => {
      if (this.closed) throw new CannotRunError('the PKCS#11 worker is closed');
      await this.ensure();
      return (await this.exchange(op, args, timeoutMs)) as OpResult<K>;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Asks the worker to finalise the module and exit; kills its group if it does not within 3 s. */
  async close(): Promise<void> {
    this.closed = true;
    const c = this.child;
    if (!c) return;
    this.child = undefined; // its exit is expected now: not reported as a failure
    this.fail(new CannotRunError('the PKCS#11 worker is closing'));
    const exited = new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));
    try {
      c.send({ id: 0, op: 'close' } satisfies WorkerRequest);
    } catch {
      /* already gone */
    }
    const t = setTimeout(() => killGroup(c), 3_000);
    await exited;
    clearTimeout(t);
  }

  private async ensure(): Promise<void> {
    if (this.child) return;
    const env: NodeJS.ProcessEnv = { ...process.env, ...this.o.env };
    for (const k of Object.keys(env)) if (k.startsWith('QKD_HSM_PIN')) delete env[k];
    const [node, ...argv] = entryArgv('mocks/hsm-sync/token-worker.ts');
    const child = spawn(node!, argv, { detached: true, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced', env });
    this.child = child;
    this.lastCall = 'starting';
    let diagnostics = '';
    child.stderr!.on('data', (c: Buffer) => (diagnostics = (diagnostics + c.toString()).slice(-1000)));
    child.on('message', (m: WorkerMessage) => this.onMessage(child, m));
    child.on('error', () => undefined); // a send to a worker that just died: its 'exit' tells the rest
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      const why = `the PKCS#11 worker for ${this.o.location.module} ended (${signal ?? `exit ${code}`}) while in ${this.lastCall}${diagnostics.trim() ? `: ${diagnostics.trim().split('\n').slice(-2).join(' | ')}` : ''}`;
      this.o.onEvent?.({ ev: 'worker-ended', why });
      this.fail(new CannotRunError(why));
    });
    // Startup: the worker says 'ready' once its modules are loaded.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.kill('startup');
        reject(new CannotRunError(`the PKCS#11 worker for ${this.o.location.module} did not start within ${this.o.startupMs ?? 60_000} ms`));
      }, this.o.startupMs ?? 60_000);
      const onReady = (m: WorkerMessage) => {
        if (m.type !== 'ready') return;
        clearTimeout(timer);
        child.off('message', onReady);
        resolve();
      };
      child.on('message', onReady);
      child.once('exit', () => {
        clearTimeout(timer);
        reject(new CannotRunError(`the PKCS#11 worker for ${this.o.location.module} ended during startup${diagnostics.trim() ? `: ${diagnostics.trim().split('\n').slice(-2).join(' | ')}` : ''}`));
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        if (this.child === child) this.child = undefined;
        reject(new CannotRunError(`cannot start the PKCS#11 worker: ${e.message}`));
      });
    });
    let opened: OpResult<'open'>;
    try {
      opened = (await this.exchange('open', { location: this.o.location, pin: this.o.pin }, this.o.timeoutMs)) as OpResult<'open'>;
    } catch (err) {
      this.kill('the token could not be opened'); // the next request starts over
      throw err;
    }
    this.token = opened.token;
    this.generation++;
    this.o.onEvent?.({ ev: 'worker-started', pid: child.pid!, token: opened.token, generation: this.generation });
  }

  private exchange(op: TokenOp, args: unknown, timeoutMs: number): Promise<unknown> {
    const child = this.child;
    if (!child) return Promise.reject(new CannotRunError('the PKCS#11 worker is not running'));
    return new Promise((resolve, reject) => {
      const id = ++this.seq;
      this.lastCall = `the ${op} request`;
      const timer = setTimeout(() => {
        const where = this.lastCall;
        this.kill('deadline');
        // kill() failed the pending request with a generic reason; this one is the real one.
        reject(new HsmDeadlineError(`no answer from the PKCS#11 module ${this.o.location.module} within ${timeoutMs} ms (waiting in ${where}); the call was abandoned`));
      }, timeoutMs);
      this.pending = { id, resolve, reject, timer };
      child.send({ id, op, args } as WorkerRequest);
    });
  }

  private onMessage(child: ChildProcess, m: WorkerMessage): void {
    if (child !== this.child) return;
    if (m.type === 'call') this.lastCall = m.fn;
    else if ((m.type === 'result' || m.type === 'error') && this.pending?.id === m.id) {
      const p = this.pending;
      this.pending = undefined;
      clearTimeout(p.timer);
      if (m.type === 'result') p.resolve(m.result);
      else p.reject(workerError(m.name, m.message));
    }
  }

  /** Kills the worker's process group; a pending request fails (its deadline error, if that is why). */
  private kill(why: string): void {
    const c = this.child;
    if (!c) return;
    this.child = undefined;
    killGroup(c);
    this.o.onEvent?.({ ev: 'worker-ended', why: `killed (${why}) while in ${this.lastCall}` });
    if (why !== 'deadline') this.fail(new CannotRunError(`the PKCS#11 worker was killed (${why})`));
    else if (this.pending) {
      clearTimeout(this.pending.timer);
      this.pending = undefined; // the deadline timer rejects it
    }
  }

  private fail(e: Error): void {
    const p = this.pending;
    this.pending = undefined;
    if (!p) return;
    clearTimeout(p.timer);
    p.reject(e);
  }
}

function killGroup(c: ChildProcess): void {
  try {
    process.kill(-c.pid!, 'SIGKILL');
  } catch {
    c.kill('SIGKILL');
  }
}

function workerError(name: string, message: string): Error {
  if (name === 'KekMismatch') return new KekMismatch(message);
  if (name === 'CeremonyAborted') return new CeremonyAborted(message);
  if (name === 'UsageError') return new UsageError(message);
  return new TokenError(message, name);
}
