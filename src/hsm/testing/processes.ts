// What runs on this machine, for tests that check a killed command left no helper behind.
import { spawn } from 'node:child_process';

/** The command lines of every process (`ps -eo args`), one per line. */
export function processes(): Promise<string> {
  return new Promise<string>((resolve) => {
    const p = spawn('ps', ['-eo', 'args']);
    let s = '';
    p.stdout.on('data', (c: Buffer) => (s += c.toString()));
    p.on('close', () => resolve(s));
  });
}
