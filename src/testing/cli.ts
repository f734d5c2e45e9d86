// The CLI as tests run it: `bin/qkd-harness.js` as a child process with vitest's own variables removed
// (a nested vitest would otherwise take them for its parent's), and `qkd-harness mock` in the background.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'qkd-harness.js');

/** The test process's environment without vitest's worker variables. */
export const cliEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ ...process.env, VITEST: undefined, VITEST_POOL_ID: undefined, VITEST_WORKER_ID: undefined, ...extra });

const children: ChildProcess[] = [];

/** Ends every mock (and unfinished run) this file started; call from afterAll. */
export function stopCliChildren(): void {
  for (const c of children) c.kill('SIGTERM');
}

/** Runs `qkd-harness ARGS…` to its end. Never rejects: a signal ends it with code -1. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: cliEnv(env) });
    children.push(p);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** What `qkd-harness mock` prints first: its target profile and the SAEs' files. */
export interface MockLine {
  profile: string;
  saes: Record<string, { cert: string; key: string }>;
  ca: string;
}

/** Starts `qkd-harness mock ARGS…` and resolves with its first line. @throws when it exits first. */
export async function startMockCli(args: string[] = []): Promise<MockLine> {
  const p = spawn(process.execPath, [BIN, 'mock', ...args], { env: cliEnv() });
  children.push(p);
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: p.stdout }).once('line', resolve);
    p.once('exit', (code) => reject(new Error(`mock exited with ${code}`)));
  });
  return JSON.parse(line) as MockLine;
}
