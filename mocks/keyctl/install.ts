// Installs a PSK as Arnika does: `wg set <if> peer <pk> preshared-key <file>` with the key in a 0600
// file in a private directory, removed right after. The key never appears on a command line.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class InstallError extends Error {
  override name = 'InstallError';
}

export async function installPsk(wg: string, iface: string, peerPublicKey: string, pskBase64: string, timeoutMs = 5_000): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'qkdh-psk-'));
  const file = join(dir, 'psk');
  try {
    writeFileSync(file, `${pskBase64}\n`, { mode: 0o600 });
    await new Promise<void>((resolve, reject) => {
      const child = spawn(wg, ['set', iface, 'peer', peerPublicKey, 'preshared-key', file], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
      child.on('error', (e) => reject(new InstallError(`cannot run ${wg}: ${e.message}`)));
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new InstallError(`wg set ${iface} … preshared-key failed (exit ${code}): ${err.trim().slice(0, 200)}`));
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
