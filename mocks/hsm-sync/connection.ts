// A framed TCP connection (protocol.ts) where every wait has a deadline: dialling, and each message
// awaited. A link cut silently (no RST, as when the underlay goes down under WireGuard) shows up as a
// missed deadline, never as a hang. Records both ends' addresses, so the route can be checked.
import { connect, type Socket } from 'node:net';
import { formatHostPort, type HostPort } from '../kme/host-port.ts';
import { encodeFrame, FrameDecoder, ProtocolError, type Message, type MessageOf, type Outgoing } from './protocol.ts';

/** A deadline passed, the peer closed, or the socket failed: the session is over (retry later). */
export class LinkDown extends Error {
  override name = 'LinkDown';
}

export interface Endpoints {
  /** This end's address and port (`HOST:PORT`): the address the connection was made from or accepted on. */
  local: string;
  remote: string;
}

export class FramedConnection implements Endpoints {
  readonly local: string;
  readonly remote: string;
  /** Resolves with the reason once the connection is closed (by either end, or a failure). */
  readonly closed: Promise<string>;
  private readonly decoder = new FrameDecoder();
  private readonly inbox: Message[] = [];
  private waiter: ((m: Message | Error) => void) | undefined;
  private failure: Error | undefined;
  private onClosed!: (why: string) => void;

  constructor(private readonly socket: Socket) {
    this.local = formatHostPort({ host: socket.localAddress ?? '?', port: socket.localPort ?? 0 });
    this.remote = formatHostPort({ host: socket.remoteAddress ?? '?', port: socket.remotePort ?? 0 });
    this.closed = new Promise((resolve) => (this.onClosed = resolve));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const m of this.decoder.push(chunk)) this.deliver(m);
      } catch (err) {
        // A peer that speaks something else: tell it why (a version mismatch is worth knowing), then close.
        const e = err as ProtocolError;
        this.send({ type: 'error', code: e.code ?? 'protocol', message: e.message, retry: false });
        this.fail(e);
        socket.end();
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => this.fail(new LinkDown(`connection with ${this.remote} failed (${e.code ?? e.message})`)));
    socket.on('close', () => this.fail(new LinkDown(`${this.remote} closed the connection`)));
  }

  /**
   * Connects to `target` within `timeoutMs` (optionally from `localAddress`).
   * @throws LinkDown naming the target and why (refused, unreachable, no answer within the deadline).
   */
  static dial(target: HostPort, timeoutMs: number, localAddress?: string): Promise<FramedConnection> {
    const where = formatHostPort(target);
    return new Promise((resolve, reject) => {
      const socket = connect({ host: target.host, port: target.port, ...(localAddress ? { localAddress } : {}) });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new LinkDown(`no connection to ${where} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new FramedConnection(socket));
      });
      socket.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new LinkDown(`cannot connect to ${where} (${e.code ?? e.message})`));
      });
    });
  }

  /** TCP payload bytes written to and read from this connection's socket so far (also after it closed). */
  bytes(): { sent: number; received: number } {
    return { sent: this.socket.bytesWritten, received: this.socket.bytesRead };
  }

  /** Whether the connection can still carry messages. */
  get open(): boolean {
    return this.failure === undefined;
  }

  send(m: Outgoing): void {
    if (this.failure === undefined && this.socket.writable) this.socket.write(encodeFrame(m));
  }

  /**
   * The next message, within `timeoutMs`. `what` names it in the deadline's error ("acknowledgement of #3").
   * An `error` message from the peer is thrown as LinkDown with its text.
   * @throws LinkDown (deadline, closed, peer error), ProtocolError (the peer sent garbage).
   */
  receive(timeoutMs: number, what: string): Promise<Message> {
    if (this.waiter) throw new Error('FramedConnection.receive: one receiver at a time');
    const queued = this.inbox.shift();
    if (queued) return Promise.resolve(queued).then(peerError);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new LinkDown(`no ${what} from ${this.remote} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (m) => {
        clearTimeout(timer);
        this.waiter = undefined;
        if (m instanceof Error) reject(m);
        else resolve(m);
      };
    }).then(peerError);
  }

  /** `receive`, requiring a message of `type`. @throws ProtocolError for another type. */
  async expect<T extends Message['type']>(type: T, timeoutMs: number, what: string): Promise<MessageOf<T>> {
    const m = await this.receive(timeoutMs, what);
    if (m.type !== type) {
      const e = new ProtocolError(`expected ${type}, ${this.remote} sent ${m.type}`);
      this.send({ type: 'error', code: 'protocol', message: e.message, retry: false });
      this.close(e.message);
      throw e;
    }
    return m as MessageOf<T>;
  }

  /** Closes the connection (idempotent); pending receives fail with LinkDown(`why`). */
  close(why = 'closed by this agent'): void {
    this.fail(new LinkDown(why));
    this.socket.destroy();
  }

  private deliver(m: Message): void {
    if (this.waiter) this.waiter(m);
    else this.inbox.push(m);
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    this.waiter?.(e);
    this.onClosed(e.message);
  }
}

function peerError(m: Message): Message {
  if (m.type === 'error') throw new LinkDown(`the peer reported ${m.code}: ${m.message}`);
  return m;
}
