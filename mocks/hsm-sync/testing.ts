// Test helpers for the replication agents: a TCP relay that stands for the link between the sites (and can
// be cut silently, as an underlay outage under WireGuard is: no RST, just nothing), and polling with a
// generous deadline (tests wait for events, they do not measure time).
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatHostPort, type HostPort } from '../kme/host-port.ts';

export class Relay {
  private cut = false;
  private readonly open = new Set<Socket>();
  /** Bytes passed on: `up` from the dialling side to the target, `down` back. */
  readonly bytes = { up: 0, down: 0 };

  private constructor(
    private readonly server: Server,
    public target: HostPort,
  ) {}

  /** A relay on 127.0.0.1 (a free port) to `target`. */
  static async start(target: HostPort): Promise<Relay> {
    const server = createServer();
    const relay = new Relay(server, target);
    server.on('connection', (c) => relay.accept(c));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return relay;
  }

  get address(): string {
    const a = this.server.address();
    return typeof a === 'object' && a ? formatHostPort({ host: a.address, port: a.port }) : '';
  }

  /** From now on nothing passes, in either direction, on old or new connections (which stay open). */
  cutLink(): void {
    this.cut = true;
  }

  /** Connections held during the cut are dropped (their peers gave up long ago); new ones pass again. */
  restore(): void {
    this.cut = false;
    for (const s of this.open) s.destroy();
    this.open.clear();
  }

  async close(): Promise<void> {
    for (const s of this.open) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private accept(client: Socket): void {
    this.open.add(client);
    client.on('close', () => this.open.delete(client));
    client.on('error', () => undefined);
    if (this.cut) return; // held: accepted, never answered
    const up = connect(this.target);
    this.open.add(up);
    up.on('close', () => {
      this.open.delete(up);
      client.destroy();
    });
    up.on('error', () => undefined);
    client.on('close', () => up.destroy());
    client.on('data', (d: Buffer) => void (this.cut || ((this.bytes.up += d.length), up.write(d))));
    up.on('data', (d: Buffer) => void (this.cut || ((this.bytes.down += d.length), client.write(d))));
  }
}

/** Polls `check` every 200 ms until it returns a value other than undefined/false, or `ms` pass. */
export async function until<T>(what: string, ms: number, check: () => T | undefined | false | Promise<T | undefined | false>, explain?: () => string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms${explain ? ` (${explain()})` : ''}`);
    await sleep(200);
  }
}
