// Installs a PSK with `wg set <if> peer <pk> preshared-key /dev/stdin`, the key written to wg's stdin
// through a pipe (relayed by `cat`: see viaPipe): it is never on a command line and never rests in a file (a key control killed
// mid-install leaves nothing behind, unlike Arnika's temporary file).
import { spawn } from 'node:child_process';
import { signalGroup } from '../../src/lab/process.ts';
import { viaPipe } from '../../src/lab/wireguard.ts';
import { escrowKey } from '../../src/secrets/escrow.ts';

export class InstallError extends Error {
  override name = 'InstallError';
}

/** Installs `pskBase64` (44 characters of base64) as the peer's PSK; rejects with InstallError (no key in the text) on failure or after `timeoutMs`. */
export async function installPsk(wg: string, iface: string, peerPublicKey: string, pskBase64: string, timeoutMs = 5_000): Promise<void> {
  escrowKey(pskBase64); // test-only (src/secrets/escrow.ts)
  const [cmd, ...args] = viaPipe(['set', iface, 'peer', peerPublicKey, 'preshared-key', '/dev/stdin'], wg);
  await runUnderDeadline(cmd!, args, { wg, what: `wg set ${iface} … preshared-key`, input: `${pskBase64}\n`, timeoutMs });
}

/**
 * Runs one `wg` command (or the viaPipe shell around it) in its own process group — on timeout the shell,
 * cat and wg go together, SIGKILLed — writing `input` to its stdin. Resolves with stdout, kept in memory
 * only (it may hold PSKs: never log it); rejects with InstallError naming `what`, never the input.
 */
function runUnderDeadline(cmd: string, args: string[], o: { wg: string; what: string; input?: string; timeoutMs: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], detached: true });
    let out = '';
    let err = '';
    const timer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), o.timeoutMs);
    if (o.input !== undefined) {
      child.stdin!.on('error', () => undefined); // wg gone before reading: its exit status says why
      child.stdin!.end(o.input);
    }
    child.stdout!.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.stderr!.on('data', (b: Buffer) => (err += b.toString('utf8')));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new InstallError(`cannot run ${o.wg}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new InstallError(`${o.what} failed (${signal ? `killed by ${signal}` : `exit ${code}`}): ${err.trim().slice(0, 200)}`));
    });
  });
}

/** Runs `wg <args>` under a deadline; stdout in memory only. */
const wgOutput = (wg: string, args: string[], timeoutMs: number): Promise<string> => runUnderDeadline(wg, args, { wg, what: `wg ${args.slice(0, 3).join(' ')}`, timeoutMs });

/**
 * The PSK configured for `peerPublicKey` (`wg show <if> preshared-keys`: base64, or undefined for `(none)`
 * or a missing peer). The key stays in memory: callers compare it and never log it.
 */
export async function readPeerPsk(wg: string, iface: string, peerPublicKey: string, timeoutMs = 3_000): Promise<string | undefined> {
  const out = await wgOutput(wg, ['show', iface, 'preshared-keys'], timeoutMs);
  for (const line of out.split('\n')) {
    const [peer, psk] = line.trim().split('\t');
    if (peer === peerPublicKey) return psk && psk !== '(none)' ? psk : undefined;
  }
  return undefined;
}

/** The public keys of every peer of the interface (`wg show <if> peers`). */
export async function listPeers(wg: string, iface: string, timeoutMs = 3_000): Promise<string[]> {
  return (await wgOutput(wg, ['show', iface, 'peers'], timeoutMs))
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}
