// Test servers' hostile answers: a body of many MiB, written with back-pressure so the server itself
// does not buffer it (the client's size cap is what is under test).
import type { ServerResponse } from 'node:http';

export function writeMiB(res: ServerResponse, mib: number, fill = 0x20): void {
  const chunk = Buffer.alloc(1 << 20, fill);
  let sent = 0;
  const push = (): void => {
    while (sent < mib && res.write(chunk)) sent++;
    if (sent < mib) res.once('drain', push);
    else res.end();
  };
  push();
}
