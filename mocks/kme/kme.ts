// One mock KME: its state, its HTTPS server and the request pipeline — body (capped) → calling SAE
// (from the client certificate under the configured binding) → route → handler → answer → one log line.
// Every request is wrapped: a bug answers 503 with an Error body, never a crash.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { readBody } from './body.ts';
import type { MockConfig } from './config.ts';
import type { DeviationSwitch } from './deviation-switch.ts';
import { KmeError, unauthorized } from './errors.ts';
import { decKeys } from './handlers/dec-keys.ts';
import { encKeys } from './handlers/enc-keys.ts';
import { status } from './handlers/status.ts';
import { saeIdFromCertificate, type Binding } from './identity-binding.ts';
import { KmeState } from './kme-state.ts';
import type { KmsLink } from './kms-link.ts';
import type { QkdLink } from './qkd-link.ts';
import type { KmeName, SaeRegistry } from './registry.ts';
import { requestLine, silentLog, type LogSink } from './request-log.ts';
import { writeAnswer, type Answer, type DeliveredKey } from './respond.ts';
import { route } from './router.ts';
import { KmeServer } from './server.ts';

export interface MockKmeOptions {
  name: KmeName;
  config: MockConfig;
  registry: SaeRegistry;
  binding: Binding;
  qkd: QkdLink;
  link: KmsLink;
  deviations: DeviationSwitch;
  /** PEM of this KME's certificate and key, and of the CA. */
  tls: { cert: string | Buffer; key: string | Buffer; ca: string | Buffer };
  host: string;
  port: number;
  log: LogSink;
  /** Sees every key this KME delivers (tests that scan reports for leaked key material use it). */
  onDeliver?: DeliveryObserver;
}

export type DeliveryObserver = (kmeId: string, keys: ReadonlyArray<DeliveredKey>) => void;

/** Header naming the SAE when the transport does not authenticate it (deviations any-client-cert, plain-http). */
export const SAE_HEADER = 'x-sae-id';

export class MockKme {
  readonly state: KmeState;
  private server!: KmeServer;
  private readonly identities = new WeakMap<object, string | undefined>();

  private constructor(private readonly o: MockKmeOptions) {
    this.state = new KmeState({ name: o.name, config: o.config, registry: o.registry, qkd: o.qkd, link: o.link, deviations: o.deviations });
  }

  static async start(o: MockKmeOptions): Promise<MockKme> {
    const kme = new MockKme(o);
    kme.server = await KmeServer.start({
      host: o.host,
      port: o.port,
      tls: o.tls,
      timeouts: o.config.timeouts,
      deviations: o.deviations,
      handler: (req, res) => void kme.onRequest(req, res),
      log: (line) => o.log(`${new Date().toISOString()} ${kme.kmeId} ${line}`),
    });
    return kme;
  }

  get name(): KmeName {
    return this.o.name;
  }

  get kmeId(): string {
    return this.state.kmeId;
  }

  get port(): number {
    return this.server.port;
  }

  /** The calling SAE: from a verified client certificate; with a transport deviation also from a header or a default. */
  private identify(req: IncomingMessage): string | undefined {
    const socket = req.socket as TLSSocket;
    const tls = typeof socket.getPeerCertificate === 'function';
    if (tls && socket.authorized) {
      if (!this.identities.has(socket)) this.identities.set(socket, saeIdFromCertificate(socket.getPeerCertificate(), this.o.binding));
      return this.identities.get(socket);
    }
    const dev = this.o.deviations;
    if (!dev.has('any-client-cert') && !dev.has('plain-http')) return undefined;
    const header = req.headers[SAE_HEADER];
    if (typeof header === 'string' && header !== '') return header;
    const fromCert = tls ? saeIdFromCertificate(socket.getPeerCertificate(), this.o.binding) : undefined;
    return fromCert ?? this.o.registry.attachedTo(this.o.name)[0];
  }

  private async dispatch(req: IncomingMessage, caller: string | undefined, body: Buffer): Promise<Answer> {
    if (caller === undefined || !this.o.registry.isAttached(caller, this.o.name)) {
      throw unauthorized(caller === undefined ? 'the client certificate carries no SAE ID' : `the SAE of the client certificate is not registered at ${this.kmeId}`);
    }
    const r = route(req.method, req.url);
    const input = { method: r.method, query: r.query, body };
    switch (r.op) {
      case 'status':
        return status(this.state, caller, r.saeId);
      case 'enc_keys':
        return encKeys(this.state, caller, r.saeId, input);
      case 'dec_keys':
        return decKeys(this.state, caller, r.saeId, input);
    }
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    let caller: string | undefined;
    let answer: Answer;
    try {
      caller = this.identify(req);
      const body = await readBody(req, this.o.config.max_body_bytes);
      if (!body.ok) {
        if (!body.error) return; // the client went away
        answer = body.error;
      } else answer = await this.dispatch(req, caller, body.bytes);
    } catch (err) {
      answer = err instanceof KmeError ? err : new KmeError(503, 'internal', 'internal error in the mock KME');
      if (!(err instanceof KmeError)) this.o.log(`${new Date().toISOString()} ${this.kmeId} internal error: ${err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]!.slice(0, 200)}` : typeof err}`);
    }
    if (this.o.onDeliver && !(answer instanceof KmeError) && 'keys' in answer) this.o.onDeliver(this.kmeId, answer.keys);
    try {
      const written = await writeAnswer(req, res, answer, this.o.deviations, this.o.config.slow_answer_ms);
      if (this.o.log === silentLog) return;
      this.o.log(
        requestLine({
          kmeId: this.kmeId,
          method: req.method,
          url: req.url,
          status: written?.status ?? 'aborted',
          sae: caller,
          ms: performance.now() - started,
          keys: answer instanceof KmeError || !('keys' in answer) ? undefined : answer.keys,
        }),
      );
    } catch {
      res.destroy();
    }
  }

  async stop(): Promise<void> {
    await this.server.close();
  }
}
