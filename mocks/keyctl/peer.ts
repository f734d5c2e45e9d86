// Arnika 1.x's peer protocol: the master dials its peer and sends the key_ID followed by "\n"; the
// receiver answers "ACK\n". Dial timeout 100 ms, ACK wait at most 500 ms, no TLS, no retry.
import { connect, createServer, type Server } from 'node:net';

export const DIAL_TIMEOUT_MS = 100;
export const ACK_TIMEOUT_MS = 500;
const MAX_KEY_ID = 1024;

/** Sends one key_ID; resolves when ACKed, rejects (one sentence) otherwise. Never retries. */
export function sendKeyId(host: string, port: number, keyId: string, o: { dialMs?: number; ackMs?: number } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    let stage: 'dial' | 'ack' = 'dial';
    let buf = '';
    let timer = setTimeout(() => fail(`no connection to ${host}:${port} within ${o.dialMs ?? DIAL_TIMEOUT_MS} ms`), o.dialMs ?? DIAL_TIMEOUT_MS);
    function fail(msg: string) {
      clearTimeout(timer);
      sock.destroy();
      reject(new Error(msg));
    }
    sock.on('connect', () => {
      clearTimeout(timer);
      stage = 'ack';
      timer = setTimeout(() => fail(`no ACK from ${host}:${port} within ${o.ackMs ?? ACK_TIMEOUT_MS} ms`), o.ackMs ?? ACK_TIMEOUT_MS);
      sock.write(`${keyId}\n`);
    });
    sock.on('data', (b: Buffer) => {
      buf += b.toString('utf8');
      if (buf.includes('\n')) {
        clearTimeout(timer);
        sock.destroy();
        if (buf.startsWith('ACK\n')) resolve();
        else reject(new Error(`the peer answered something other than ACK (${buf.length} bytes)`));
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => fail(`${stage === 'dial' ? 'cannot connect to' : 'connection lost with'} ${host}:${port} (${e.code ?? e.message})`));
    sock.on('end', () => stage === 'ack' && fail(`${host}:${port} closed the connection without ACK`));
  });
}

/** Accepts key_IDs: each valid line is ACKed at once and handed to `onKeyId`. */
export function listenForKeyIds(host: string, port: number, onKeyId: (keyId: string, from: string) => void): Promise<Server> {
  const server = createServer((sock) => {
    let buf = '';
    sock.setTimeout(2_000, () => sock.destroy());
    sock.on('error', () => undefined);
    sock.on('data', (b: Buffer) => {
      buf += b.toString('utf8');
      if (buf.length > MAX_KEY_ID) return void sock.destroy();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const keyId = buf.slice(0, nl).trim();
      if (!keyId) return void sock.destroy();
      sock.end('ACK\n');
      onKeyId(keyId, `${sock.remoteAddress}:${sock.remotePort}`);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
