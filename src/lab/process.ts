// Processes the lab starts: each in its own process group (so a Ctrl-C reaches the lab, which then tears
// down in order), optionally inside a site namespace, stdout/stderr to a log file, recorded by pid and
// kernel start time before it can do anything.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive, procStart, type RecordedProcess } from './state.ts';

export interface StartSpec {
  name: string;
  site?: string;
  /** Network namespace to run in (through `ip netns exec`, which execs: the pid is the command's). */
  namespace?: string;
  argv: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout goes here, stderr to `<logFile>.err` unless `stderrFile` is given. */
  logFile: string;
  stderrFile?: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class LabProcess {
  readonly exited: Promise<Exit>;
  private exit: Exit | undefined;

  constructor(
    readonly spec: StartSpec,
    readonly child: ChildProcess,
    readonly id: RecordedProcess,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    return this.id.pid;
  }

  get running(): boolean {
    return this.exit === undefined && isAlive(this.id);
  }

  get exitStatus(): Exit | undefined {
    return this.exit;
  }

  signal(sig: NodeJS.Signals): void {
    signalGroup(this.id.pid, sig);
  }

  /**
   * `sig` to the process itself, not its group: a signal it handles (SIGUSR2 arms the mocks' faults) would
   * otherwise kill the children it runs at that moment (`wg show`, `wg set`) with the default action.
   */
  signalMain(sig: NodeJS.Signals): void {
    if (this.exit) return; // its pid may be someone else's by now
    try {
      process.kill(this.id.pid, sig);
    } catch {
      /* gone already */
    }
  }

  /** SIGTERM to its process group, then SIGKILL after `graceMs`. */
  async stop(graceMs = 3_000): Promise<void> {
    if (this.exit) return;
    this.signal('SIGTERM');
    const t = sleep(graceMs).then(() => 'timeout' as const);
    if ((await Promise.race([this.exited, t])) === 'timeout') {
      this.signal('SIGKILL');
      await Promise.race([this.exited, sleep(2_000)]);
    }
  }

  /** The log's text (stdout). */
  log(): string {
    try {
      return readFileSync(this.spec.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  errLog(): string {
    try {
      return readFileSync(this.spec.stderrFile ?? `${this.spec.logFile}.err`, 'utf8');
    } catch {
      return '';
    }
  }

  /** Waits for the first stdout line matching `test` (e.g. a JSON readiness line). */
  async waitForLine(test: (line: string) => boolean, timeoutMs: number): Promise<string> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const line = this.log()
        .split('\n')
        .find((l) => l.trim() && test(l));
      if (line) return line;
      if (this.exit) throw new Error(`${this.spec.name} exited (${this.exit.code ?? this.exit.signal}) before it was ready: ${lastLines(this.errLog() || this.log())}`);
      if (Date.now() > until) throw new Error(`${this.spec.name} was not ready within ${timeoutMs} ms: ${lastLines(this.errLog() || this.log())}`);
      await sleep(100);
    }
  }
}

export function lastLines(text: string, n = 3): string {
  return (
    text
      .trim()
      .split('\n')
      .slice(-n)
      .join(' | ')
      .slice(0, 600) || '(no output)'
  );
}

/** Signals a process group (falling back to the single process); a vanished process is fine. */
export function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

/** Starts a process and reports its identity through `record` synchronously after spawn. */
export function startProcess(spec: StartSpec, record: (p: RecordedProcess) => void): LabProcess {
  const argv = spec.namespace ? ['ip', 'netns', 'exec', spec.namespace, ...spec.argv] : spec.argv;
  const out = openSync(spec.logFile, 'a', 0o600);
  const err = openSync(spec.stderrFile ?? `${spec.logFile}.err`, 'a', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', out, err], env: spec.env ?? process.env, cwd: spec.cwd });
  } finally {
    closeSync(out);
    closeSync(err);
  }
  if (child.pid === undefined) throw new Error(`cannot start ${spec.name} (${argv[0]})`);
  const id: RecordedProcess = { name: spec.name, site: spec.site, pid: child.pid, start: procStart(child.pid) };
  record(id);
  child.on('error', () => undefined);
  return new LabProcess(spec, child, id);
}
