// The step guard of the main job: a step passes its exit code and signal through, and a job killed with
// SIGKILL (no chance to clean up) leaves no step process behind.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { pidAlive as alive } from '../testing/processes.ts';

const GUARD = fileURLToPath(new URL('./step-guard.mjs', import.meta.url));

describe('step guard', () => {
  it('exits as the step did: its code, or its signal', () => {
    const code = spawnSync(process.execPath, [GUARD, String(process.pid), process.execPath, '-e', 'process.exit(3)'], { timeout: 20_000 });
    expect(code.status).toBe(3);
    const sig = spawnSync(process.execPath, [GUARD, String(process.pid), process.execPath, '-e', "process.kill(process.pid, 'SIGTERM'); setTimeout(() => {}, 5000)"], { timeout: 20_000 });
    expect(sig.signal).toBe('SIGTERM');
  });

  it('a job killed with SIGKILL takes its step (and what the step started) with it', async () => {
    // A stand-in job: starts the guard like the main job does (detached), prints the step's PID, waits.
    const job = spawn(process.execPath, ['-e', `
      const { spawn } = require('node:child_process');
      const g = spawn(process.execPath, [${JSON.stringify(GUARD)}, String(process.pid), process.execPath, '-e', "console.log(process.pid); setInterval(() => {}, 1000)"], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
      g.stdout.pipe(process.stdout);
      setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const step = Number(await new Promise<string>((resolve) => createInterface({ input: job.stdout! }).once('line', resolve)));
    expect(alive(step)).toBe(true);
    job.kill('SIGKILL');
    await expect.poll(() => alive(step), { timeout: 10_000, interval: 100 }).toBe(false);
  }, 30_000);
});
