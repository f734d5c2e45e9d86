// Runs commands on a site: this host (`exec: []`), a network namespace (`[ip, netns, exec, NS]`) or
// any command prefix such as `[ssh, -o, BatchMode=yes, ops@app01, sudo]`. Every call has a deadline.
import { spawn, type ChildProcess } from 'node:child_process';

export interface RunOptions {
  /** Deadline for the whole command in milliseconds (default 10 s); on expiry it is killed. */
  timeoutMs?: number;
  /** Bytes written to the command's standard input (then closed). */
  input?: string | Uint8Array;
  env?: NodeJS.ProcessEnv;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  elapsedMs: number;
}

export class SiteCommandError extends Error {
  override name = 'SiteCommandError';
  constructor(
    message: string,
    readonly result?: RunResult,
  ) {
    super(message);
  }
}

export const DEFAULT_DEADLINE_MS = 10_000;

/** Quotes one word for a POSIX shell (ssh joins its arguments into a remote shell command). */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export class SiteDriver {
  /** `prefix` is the target profile's `exec`: the words put before every command. */
  constructor(
    readonly name: string,
    readonly prefix: readonly string[] = [],
  ) {}

  static local(name = 'local'): SiteDriver {
    return new SiteDriver(name, []);
  }

  static netns(name: string, namespace: string): SiteDriver {
    return new SiteDriver(name, ['ip', 'netns', 'exec', namespace]);
  }

  /** True when the prefix goes through ssh, whose remote side re-parses the command with a shell. */
  get viaSsh(): boolean {
    return /(^|\/)ssh$/.test(this.prefix[0] ?? '');
  }

  /** The argv actually executed for `argv` on this site. */
  argv(argv: readonly string[]): string[] {
    if (this.viaSsh) return [...this.prefix, argv.map(shellQuote).join(' ')];
    return [...this.prefix, ...argv];
  }

  describe(argv: readonly string[]): string {
    return this.argv(argv).map(shellQuote).join(' ');
  }

  /** Runs a command to completion or to its deadline; never throws for a non-zero exit. */
  run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const full = this.argv(argv);
    const deadline = opts.timeoutMs ?? DEFAULT_DEADLINE_MS;
    const started = performance.now();
    return new Promise((resolve) => {
      let child: ChildProcess;
      try {
        child = spawn(full[0]!, full.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
      } catch (err) {
        resolve({ code: null, signal: null, stdout: '', stderr: String(err), timedOut: false, elapsedMs: 0 });
        return;
      }
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
        // A grandchild (a shell's `sleep`) may hold the pipes open after the kill: stop waiting for it.
        setTimeout(() => [child.stdout, child.stderr].forEach((s) => s?.destroy()), 1_000).unref();
      }, deadline);
      child.stdout!.on('data', (b: Buffer) => out.push(b));
      child.stderr!.on('data', (b: Buffer) => err.push(b));
      child.stdin!.on('error', () => undefined);
      child.on('error', (e) => err.push(Buffer.from(String(e))));
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({
          code,
          signal,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          timedOut,
          elapsedMs: performance.now() - started,
        });
      });
      if (opts.input !== undefined) child.stdin!.end(opts.input);
      else child.stdin!.end();
    });
  }

  /** Runs a command and returns its stdout; a non-zero exit or the deadline throws (stderr trimmed). */
  async check(argv: readonly string[], opts: RunOptions = {}): Promise<string> {
    const r = await this.run(argv, opts);
    if (r.timedOut) throw new SiteCommandError(`${this.name}: \`${argv.join(' ')}\` did not finish within ${opts.timeoutMs ?? DEFAULT_DEADLINE_MS} ms`, r);
    if (r.code !== 0) {
      throw new SiteCommandError(`${this.name}: \`${argv.join(' ')}\` failed (exit ${r.code ?? r.signal}): ${r.stderr.trim().split('\n').slice(-2).join(' ') || 'no message'}`, r);
    }
    return r.stdout;
  }

  /** Starts a long-running command (e.g. a probe); the caller owns it and must stop it. */
  start(argv: readonly string[], opts: { env?: NodeJS.ProcessEnv } = {}): ChildProcess {
    const full = this.argv(argv);
    return spawn(full[0]!, full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  }
}
