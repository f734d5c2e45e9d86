// Process checks for tests that make sure nothing outlives what started it.

/** Whether a process with this PID exists (signal 0: nothing is sent). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
