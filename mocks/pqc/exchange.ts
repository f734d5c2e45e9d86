// One post-quantum key exchange between the two sites over the underlay: the initiator sends a fresh
// ML-KEM-768 public key, the responder encapsulates to it and answers with the ciphertext; both end
// with the same 32-byte shared secret. JSON lines over TCP. (Rosenpass also authenticates both peers
// with static keys; the lab underlay is closed, so the emulator does not.)
import { createServer, connect, type Server, type Socket } from 'node:net';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';

export interface Exchanged {
  key: Uint8Array;
  epoch: number;
}

const MAX_LINE = 8192;

function readLine(sock: Socket, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => done(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const onData = (b: Buffer) => {
      buf += b.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(undefined, buf.slice(0, nl));
      else if (buf.length > MAX_LINE) done(new Error('message too long'));
    };
    const onEnd = () => done(new Error('connection closed'));
    const onError = (e: Error) => done(e);
    function done(err?: Error, line?: string) {
      clearTimeout(timer);
      sock.off('data', onData).off('end', onEnd).off('error', onError);
      if (err) reject(err);
      else resolve(line!);
    }
    sock.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');
const unb64 = (s: unknown, what: string): Uint8Array => {
  if (typeof s !== 'string') throw new Error(`${what} missing`);
  return new Uint8Array(Buffer.from(s, 'base64'));
};

/** Initiates an exchange with the peer at host:port. */
export async function initiate(host: string, port: number, epoch: number, timeoutMs = 2_000): Promise<Exchanged> {
  const { publicKey, secretKey } = ml_kem768.keygen();
  const sock = connect({ host, port });
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`cannot connect to ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
      sock.once('connect', () => (clearTimeout(t), resolve()));
      sock.once('error', (e) => (clearTimeout(t), reject(e)));
    });
    sock.write(JSON.stringify({ v: 1, t: 'init', epoch, pk: b64(publicKey) }) + '\n');
    const reply = JSON.parse(await readLine(sock, timeoutMs)) as { v?: number; t?: string; ct?: string; epoch?: number };
    if (reply.t !== 'resp') throw new Error(`unexpected answer ${String(reply.t)}`);
    const key = ml_kem768.decapsulate(unb64(reply.ct, 'ciphertext'), secretKey);
    return { key, epoch: typeof reply.epoch === 'number' ? reply.epoch : epoch };
  } finally {
    sock.destroy();
  }
}

/** Serves exchanges: `onKey` gets each shared secret (after the answer was sent); `accept` may refuse. */
export function serve(port: number, host: string, onKey: (x: Exchanged) => void | Promise<void>, nextEpoch: (proposed: number) => number, accept: () => boolean = () => true): Server {
  const server = createServer((sock) => {
    sock.on('error', () => undefined);
    readLine(sock, 2_000)
      .then(async (line) => {
        if (!accept()) return void sock.destroy();
        const msg = JSON.parse(line) as { t?: string; pk?: string; epoch?: number };
        if (msg.t !== 'init') throw new Error('not an init');
        const { cipherText, sharedSecret } = ml_kem768.encapsulate(unb64(msg.pk, 'public key'));
        const epoch = nextEpoch(typeof msg.epoch === 'number' ? msg.epoch : 0);
        await new Promise<void>((resolve) => sock.end(JSON.stringify({ v: 1, t: 'resp', epoch, ct: b64(cipherText) }) + '\n', () => resolve()));
        await onKey({ key: sharedSecret, epoch });
      })
      .catch(() => sock.destroy());
  });
  server.listen(port, host);
  return server;
}
