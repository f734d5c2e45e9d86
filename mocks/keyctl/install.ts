// Installs a PSK with `wg set <if> peer <pk> preshared-key /dev/stdin`, the key written to wg's stdin
// through a pipe (relayed by `cat`: see viaPipe): it is never on a command line and never rests in a file (a key control killed
// mid-install leaves nothing behind, unlike Arnika's temporary file).
import { spawn } from 'node:child_process';
import { signalGroup } from '../../src/lab/process.ts';
import { viaPipe } from '../../src/lab/wireguard.ts';

export class InstallError extends Error {
  override name = 'InstallError';
}

/** Installs `pskBase64` (44 characters of base64) as the peer's PSK; rejects with InstallError (no key in the text) on failure or after `timeoutMs`. */
export async function installPsk(wg: string, iface: string, peerPublicKey: string, pskBase64: string, timeoutMs = 5_000): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const [cmd, ...args] = viaPipe(['set', iface, 'peer', peerPublicKey, 'preshared-key', '/dev/stdin'], wg);
    // Own process group: on timeout the shell, cat and wg go together.
    const child = spawn(cmd!, args, { stdio: ['pipe', 'ignore', 'pipe'], detached: true });
    let err = '';
    const timer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), timeoutMs);
    child.stdin.on('error', () => undefined); // wg gone before reading: its exit status says why
    child.stdin.end(`${pskBase64}\n`);
    child.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new InstallError(`cannot run ${wg}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new InstallError(`wg set ${iface} … preshared-key failed (${signal ? `killed by ${signal}` : `exit ${code}`}): ${err.trim().slice(0, 200)}`));
    });
  });
}
