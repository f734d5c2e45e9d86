// WireGuard in a site: Debian's userspace wireguard-go (no kernel module here) configured with
// wireguard-tools, plus the UAPI socket for what `wg` cannot do (expiring the current session).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SiteDriver } from '../sites/driver.ts';

export const WG_SOCKET_DIR = '/var/run/wireguard';

export function socketPath(iface: string): string {
  return join(WG_SOCKET_DIR, `${iface}.sock`);
}

export interface WgKeyPair {
  privateKey: string;
  publicKey: string;
}

/** A Curve25519 key pair in `wg`'s base64 form. */
export function generateKeyPair(): WgKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const d = privateKey.export({ format: 'jwk' }).d!;
  const x = publicKey.export({ format: 'jwk' }).x!;
  return { privateKey: Buffer.from(d, 'base64url').toString('base64'), publicKey: Buffer.from(x, 'base64url').toString('base64') };
}

/** 32 random bytes as base64: the deliberately non-matching PSK a site starts with. */
export function randomKey(): string {
  return randomBytes(32).toString('base64');
}

/**
 * Waits until wireguard-go answers on the interface's control socket. The socket file appears at
 * bind(), before listen(): a `wg set` in that gap finds no userspace listener, falls back to the kernel
 * (absent here) and fails with "Protocol not supported" — so a UAPI `get` must be answered first.
 */
export async function waitForSocket(iface: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = 'no control socket yet';
  for (;;) {
    if (existsSync(socketPath(iface))) {
      try {
        await uapi(iface, 'get=1', Math.max(500, until - Date.now()));
        return;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
    }
    if (Date.now() > until) throw new Error(`wireguard-go did not answer on ${socketPath(iface)} within ${timeoutMs} ms (${last})`);
    await sleep(50);
  }
}

export interface WgPeerConfig {
  iface: string;
  privateKeyFile: string;
  listenPort: number;
  peerPublicKey: string;
  /** The initial PSK (base64): given to `wg` on stdin, never written to a file. */
  psk: string;
  endpoint: string;
  allowedIps: string;
  address: string;
  prefix: number;
}

/** `wg set` (key, port, peer, PSK on stdin, endpoint, allowed IPs), then address and link up. */
export async function configureInterface(site: SiteDriver, c: WgPeerConfig): Promise<void> {
  const args = ['set', c.iface, 'private-key', c.privateKeyFile, 'listen-port', String(c.listenPort), 'peer', c.peerPublicKey, 'preshared-key', '/dev/stdin', 'endpoint', c.endpoint, 'allowed-ips', c.allowedIps];
  await site.check(viaPipe(args), { input: `${c.psk}\n` });
  await site.check(['ip', 'addr', 'add', `${c.address}/${c.prefix}`, 'dev', c.iface]);
  await site.check(['ip', 'link', 'set', c.iface, 'up']);
}

/**
 * `wg ARGS…` with our stdin passed on through a real pipe: Node gives a child a socket as stdin, and
 * `wg` cannot open /dev/stdin on a socket (ENXIO), so `cat` relays it. The key is on no command line.
 */
export function viaPipe(args: string[], wg = 'wg'): string[] {
  return ['sh', '-c', 'cat | exec "$0" "$@"', wg, ...args];
}

/** One UAPI exchange (`set=1`/`get=1`) on the interface's socket; returns the reply without the blank line. */
export function uapi(iface: string, request: string, timeoutMs = 3_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath(iface));
    let reply = '';
    // On a busy event loop the timer and the answer can be due at once, and timers run first: look at
    // pending I/O once more (setImmediate runs after the poll phase) before calling it a timeout.
    const timer = setTimeout(() => {
      setImmediate(() => {
        if (reply.endsWith('\n\n')) return;
        sock.destroy();
        reject(new Error(`UAPI on ${iface}: no answer within ${timeoutMs} ms`));
      });
    }, timeoutMs);
    sock.on('connect', () => sock.write(request.endsWith('\n\n') ? request : `${request}\n\n`));
    sock.on('data', (b: Buffer) => {
      reply += b.toString('utf8');
      if (reply.endsWith('\n\n')) {
        clearTimeout(timer);
        sock.end();
        resolve(reply.trimEnd());
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`UAPI on ${iface}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    });
  });
}

/**
 * Expires the interface's current sessions so that the next packet starts a handshake with the
 * configured (new) PSK — what WireGuard does by itself at REKEY_AFTER_TIME, brought forward. Done by
 * setting a throw-away private key and the real one back in one UAPI transaction: wireguard-go expires
 * every peer's keypairs on a private-key change. Lab only: it needs the site's private key.
 */
export async function expireSessions(iface: string, privateKeyB64: string, timeoutMs = 3_000): Promise<void> {
  const hex = (b64: string) => Buffer.from(b64, 'base64').toString('hex');
  const reply = await uapi(iface, `set=1\nprivate_key=${hex(generateKeyPair().privateKey)}\nprivate_key=${hex(privateKeyB64)}\n\n`, timeoutMs);
  if (!/errno=0/.test(reply)) throw new Error(`UAPI on ${iface}: session expiry refused (${reply.replace(/\n/g, ' ')})`);
}

/** Removes a control socket left by a killed wireguard-go (a live one is removed by wireguard-go itself). */
export function removeSocket(path: string): void {
  rmSync(path, { force: true });
}
