// Runs the real CLI (`node bin/qkd-harness.js …`) as a child process against a hostile target, with a
// kill bound (a child still running then has hung) and its memory measured: the peak resident set
// (VmHWM in /proc/<pid>/status) of the harness's main process and of every process it started (vitest
// workers), polled every 100 ms until it exits.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'qkd-harness.js');

/** The bound on the harness's resident memory. */
export const RSS_BOUND_MIB = 768;

export interface CliRun {
  /** Exit code; null when killed. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Killed at the bound: the run hung. */
  hung: boolean;
  stdout: string;
  stderr: string;
  elapsedMs: number;
  /** Peak RSS of the main process in MiB. */
  mainPeakMiB: number;
  /** Largest peak RSS of any descendant (vitest workers, engines) in MiB; 0 when there was none. */
  childPeakMiB: number;
  /** Processes of the tree that were measured. */
  measured: number;
}

/** VmHWM of a process in KiB, or undefined once it is gone. */
function peakKiB(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Every live descendant of `root` (by the parent PID in /proc/<pid>/stat). */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]); // comm may contain spaces
      parent.set(Number(name), ppid);
    } catch {
      /* gone meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [pid, pp] of parent) if (pp === p) out.push(pid), walk(pid);
  };
  walk(root);
  return out;
}

// Not inherited from a vitest run of this file: the child's own vitest must not think it is a worker.
const env = { ...process.env, VITEST: undefined, VITEST_POOL_ID: undefined, VITEST_WORKER_ID: undefined, NODE_OPTIONS: undefined };

/** Runs `qkd-harness <args>`; SIGKILLs the whole process group after `killAfterMs`. */
export function runCli(args: string[], killAfterMs: number): Promise<CliRun> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [BIN, ...args], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const pid = child.pid!;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout.length < 4 << 20 ? (stdout += c.toString()) : undefined));
    child.stderr.on('data', (c: Buffer) => (stderr.length < 4 << 20 ? (stderr += c.toString()) : undefined));
    const peaks = new Map<number, number>();
    const sample = (): void => {
      for (const p of [pid, ...descendants(pid)]) {
        const kib = peakKiB(p);
        if (kib !== undefined) peaks.set(p, Math.max(peaks.get(p) ?? 0, kib));
      }
    };
    sample();
    const poll = setInterval(sample, 100);
    let hung = false;
    const killer = setTimeout(() => {
      hung = true;
      try {
        process.kill(-pid, 'SIGKILL'); // the group: vitest workers go with it
      } catch {
        /* already gone */
      }
    }, killAfterMs);
    child.once('close', (code, signal) => {
      clearInterval(poll);
      clearTimeout(killer);
      try {
        process.kill(-pid, 'SIGKILL'); // a worker left behind would be a leak of ours, not a result
      } catch {
        /* none left */
      }
      const children = [...peaks].filter(([p]) => p !== pid).map(([, k]) => k);
      resolve({
        code,
        signal,
        hung,
        stdout,
        stderr,
        elapsedMs: Date.now() - started,
        mainPeakMiB: (peaks.get(pid) ?? 0) / 1024,
        childPeakMiB: Math.max(0, ...children) / 1024,
        measured: peaks.size,
      });
    });
  });
}

/** Signs of a crash rather than an outcome: a stack trace, an uncaught error, V8 running out of heap. */
export const CRASH = /\n\s+at .+[:(]\d+:\d+\)?|Uncaught|FATAL ERROR|heap out of memory|ERR_INTERNAL|Segmentation fault|Aborted/;
