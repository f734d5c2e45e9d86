// One mock KME: its state, its HTTPS server and the request pipeline — body (capped) → calling SAE
// (from the client certificate under the configured binding) → route → handler → answer → one log line.
// Every request is wrapped: a bug answers 503 with an Error body, never a crash. Clients let in without
// authentication (unauthenticated-served-*) and the key endpoints under a stall deviation get the hostile
// answers of hostile-answers.ts instead.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { DRAIN_MS, readBody } from './body.ts';
import type { MockConfig } from './config.ts';
import type { DeviationSwitch } from './deviation-switch.ts';
import { KmeError, unauthorized } from './errors.ts';
import type { FaultsFile } from './faults-file.ts';
import { decKeys } from './handlers/dec-keys.ts';
import { encKeys } from './handlers/enc-keys.ts';
import { status } from './handlers/status.ts';
import { HostileAnswers } from './hostile-answers.ts';
import { saeIdFromCertificate, type Binding } from './identity-binding.ts';
import { KmeState } from './kme-state.ts';
import type { KmsLink } from './kms-link.ts';
import type { QkdLink } from './qkd-link.ts';
import type { KmeName, SaeRegistry } from './registry.ts';
import { printable, requestLine, silentLog, type LogSink } from './request-log.ts';
import { render, writeAnswer, type Answer, type DeliveredKey } from './respond.ts';
import { route, type Operation } from './router.ts';
import { KmeServer } from './server.ts';
import { escrowKey } from '../../src/secrets/escrow.ts';

export interface MockKmeOptions {
  name: KmeName;
  config: MockConfig;
  registry: SaeRegistry;
  binding: Binding;
  qkd: QkdLink;
  link: KmsLink;
  deviations: DeviationSwitch;
  /** PEM of this KME's certificate and key, of the CA, and of the impostor certificate (kme-cert-mismatch). */
  tls: { cert: string | Buffer; key: string | Buffer; ca: string | Buffer; impostor?: { cert: string | Buffer; key: string | Buffer } };
  host: string;
  port: number;
  /** Log sink; it adds the timestamp (request-log.ts `timestamped`). */
  log: LogSink;
  /** Sees every key this KME delivers (tests that scan reports for leaked key material use it). */
  onDeliver?: DeliveryObserver;
  /** Lab-only runtime faults (`--faults-file`, docs/mock-kme.md): hang, unavailable. */
  faults?: FaultsFile<KmeFault>;
}

/** The faults a faults file can switch on at run time: `hang` (no answer at all), `unavailable` (enc_keys 503, pool empty). */
export const KME_FAULTS = ['hang', 'unavailable'] as const;
export type KmeFault = (typeof KME_FAULTS)[number];

export type DeliveryObserver = (kmeId: string, keys: ReadonlyArray<DeliveredKey>) => void;

/** Header naming the SAE when the transport does not authenticate it (deviations any-client-cert, plain-http). */
export const SAE_HEADER = 'x-sae-id';

/** The stall deviations, which act on the key endpoints only (Status stays answerable). */
const STALLS = ['stall-body', 'lying-content-length', 'slow-headers'] as const;

export class MockKme {
  readonly state: KmeState;
  /** Running hostile answers (stalls, oversized bodies); tests can check none outlives its connection. */
  readonly hostile = new HostileAnswers();
  private server!: KmeServer;
  private readonly identities = new WeakMap<object, string | undefined>();
  private stopping = false;

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
      log: (line) => o.log(`${kme.kmeId} ${line}`),
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
    const tls = typeof socket.getPeerX509Certificate === 'function';
    if (tls && socket.authorized) {
      if (!this.identities.has(socket)) this.identities.set(socket, saeIdFromCertificate(socket.getPeerX509Certificate(), this.o.binding));
      return this.identities.get(socket);
    }
    const dev = this.o.deviations;
    if (!dev.has('any-client-cert') && !dev.has('plain-http')) return undefined;
    const header = req.headers[SAE_HEADER];
    if (typeof header === 'string' && header !== '') return header;
    const fromCert = tls ? saeIdFromCertificate(socket.getPeerX509Certificate(), this.o.binding) : undefined;
    return fromCert ?? this.o.registry.attachedTo(this.o.name)[0];
  }

  /** The answer, and the method it answers when the path named one (stalls act on the key methods only). */
  private async dispatch(req: IncomingMessage, caller: string | undefined, body: Buffer): Promise<{ answer: Answer; op?: Operation; fault?: KmeFault }> {
    if (caller === undefined || !this.o.registry.isAttached(caller, this.o.name)) {
      throw unauthorized(caller === undefined ? 'the client certificate carries no SAE ID' : `the SAE of the client certificate is not registered at ${this.kmeId}`);
    }
    const r = route(req.method, req.url);
    const input = { method: r.method, query: r.query, body };
    switch (r.op) {
      case 'status':
        return { answer: status(this.state, caller, r.saeId), op: r.op };
      case 'enc_keys':
        // Faults file `unavailable`: the answer of an empty pool (enc-keys.ts), whatever the pool holds.
        if (this.o.faults?.active('unavailable')) return { answer: new KmeError(503, 'exhausted', 'not enough key material: the key pool is empty; keys are being replenished'), op: r.op, fault: 'unavailable' };
        return { answer: await encKeys(this.state, caller, r.saeId, input), op: r.op };
      case 'dec_keys':
        return { answer: decKeys(this.state, caller, r.saeId, input), op: r.op };
    }
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    const line = (status: number | string, sae?: string, keys?: DeliveredKey[]): void => {
      if (this.o.log !== silentLog) this.o.log(requestLine({ kmeId: this.kmeId, method: req.method, url: req.url, status, sae, ms: performance.now() - started, keys }));
    };
    const shape = this.server.unauthenticatedShape(req.socket);
    if (shape) {
      // deviations unauthenticated-served-*: the request is not even read
      req.resume();
      if (shape === 'oversized') this.hostile.oversized(res);
      else this.hostile.reset(req, res);
      line(`200 ${shape} (unauthenticated)`);
      return;
    }
    if (this.o.faults?.active('hang')) return this.hang(req, res, line);
    let caller: string | undefined;
    let answer: Answer;
    let op: Operation | undefined;
    let fault: KmeFault | undefined;
    try {
      caller = this.identify(req);
      const body = await readBody(req, this.o.config.max_body_bytes, Math.min(DRAIN_MS, this.o.config.timeouts.request_ms / 2)); // the 400 must beat the request timeout
      if (!body.ok) {
        if (!body.error) return; // the client went away
        answer = body.error;
      } else ({ answer, op, fault } = await this.dispatch(req, caller, body.bytes));
    } catch (err) {
      answer = err instanceof KmeError ? err : new KmeError(503, 'internal', 'internal error in the mock KME');
      if (!(err instanceof KmeError)) this.o.log(`${this.kmeId} internal error: ${err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]!.slice(0, 200)}` : typeof err}`);
    }
    const keys = answer instanceof KmeError || !('keys' in answer) ? undefined : answer.keys;
    if (this.o.onDeliver && keys) this.o.onDeliver(this.kmeId, keys);
    for (const k of keys ?? []) escrowKey(k.key); // test-only (src/secrets/escrow.ts)
    try {
      const stall = op === 'enc_keys' || op === 'dec_keys' ? STALLS.find((d) => this.o.deviations.has(d)) : undefined;
      if (stall) {
        const out = render(answer, this.o.deviations);
        if (stall === 'stall-body') this.hostile.stallBody(res, out);
        else if (stall === 'lying-content-length') this.hostile.lyingLength(res, out);
        else this.hostile.slowHeaders(req, out);
        line(`${out.status} ${stall}`, caller, keys);
        return;
      }
      const written = await writeAnswer(req, res, answer, this.o.deviations, this.o.config.slow_answer_ms);
      line(`${written?.status ?? 'aborted'}${fault ? ` (faults file: ${fault})` : ''}`, caller, keys);
    } catch {
      res.destroy();
    }
  }

  /**
   * Faults file `hang`: the request is read and never answered; its connection stays open (no idle
   * timeout) until the client closes it or the KME stops. Logged when taken and when the client leaves.
   */
  private hang(req: IncomingMessage, res: ServerResponse, line: (status: string) => void): void {
    const started = performance.now();
    req.resume();
    this.server.holdOpen(req.socket);
    line('hung (faults file: hang): no answer');
    res.once('close', () => {
      if (!this.stopping) this.o.log(`${this.kmeId} ${req.method ?? '?'} ${printable(req.url ?? '?')} hung request closed by the client after ${(performance.now() - started).toFixed(0)} ms`);
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.hostile.stopAll();
    await this.server.close();
  }
}
