// Typed ETSI GS QKD 014 client for one SAE identity at one KME: every method and verb through the SDK
// generated from specs/etsi-qkd-014.yaml, plus raw requests for negative tests.
import { createClient, type Client } from '../../generated/etsi014-v1/sdk/client/index.js';
import * as sdk from '../../generated/etsi014-v1/sdk/sdk.gen.js';
import * as zod from '../../generated/etsi014-v1/sdk/zod.gen.js';
import type { ZodType } from 'zod';
import { KmeTransportError } from './errors.ts';
import type { KeyContainer, KeyIds, KeyRequest, Status, Error as EtsiError } from '../../generated/etsi014-v1/sdk/types.gen.js';
import { fetchBridge } from './fetch-bridge.ts';
import { summariseIssues } from '../util/zod-issues.ts';
import { normalizeBody, utf8Issue, type FormatIssue } from './normalize.ts';
import type { SaeIdentity } from './identity.ts';
import { exchange, type RawRequest, type RawResponse } from './transport.ts';
import { CURRENT } from './version.ts';

export type { KeyContainer, KeyIds, KeyRequest, Status, EtsiError, FormatIssue };

type SdkOptions = { client: Client; fetch: typeof fetch; throwOnError: false; parseAs: 'text'; responseValidator: undefined };

/** Outcome of a typed call: the HTTP answer always comes with the raw exchange as evidence. */
export interface CallResult<T> {
  status: number;
  /** The 200 body, when it is valid against the spec's schema. */
  data?: T;
  /** The error body (400/503 Error, or whatever else the KME sent), parsed when JSON. */
  error?: unknown;
  /** Set when a 200 body does not validate against the spec: what is wrong, per the generated schema. */
  schemaError?: string;
  /**
   * Presentation deviations undone before validation (null optional members, "Keys", invalid UTF-8):
   * `data` is then the normalised body, and the data-format requirements report each issue once.
   */
  formatIssues?: FormatIssue[];
  raw: RawResponse;
}

export class KmeClient {
  private readonly client: Client;

  constructor(
    readonly identity: SaeIdentity,
    readonly baseUrl: string,
    /** Sees every exchange this client completes (the conformance suite keeps them as evidence). */
    private readonly onExchange?: (raw: RawResponse) => void,
  ) {
    this.client = createClient({ baseUrl: baseUrl.replace(/\/+$/, '') });
  }

  /** SAE IDs go into paths URL-encoded (clause 5). */
  static path(saeId: string, method: 'status' | 'enc_keys' | 'dec_keys'): string {
    return `${CURRENT.basePath}/${encodeURIComponent(saeId)}/${method}`;
  }

  /**
   * Builds the request with the generated SDK, sends it through the bridge, and validates a 2xx body with
   * the generated zod schema ourselves: a body that is not JSON or violates the spec is a finding, and
   * parser messages (which quote the body, i.e. key material) never surface.
   */
  private async call<T>(schema: ZodType, shape: 'status' | 'key-container', invoke: (opts: SdkOptions) => Promise<unknown>): Promise<CallResult<T>> {
    let raw: RawResponse | undefined;
    let failure: KmeTransportError | undefined;
    const f = fetchBridge(this.identity, (r) => {
      if (r instanceof KmeTransportError) failure = r;
      else raw = r;
    });
    try {
      await invoke({ client: this.client, fetch: f, throwOnError: false, parseAs: 'text', responseValidator: undefined });
    } catch (err) {
      if (!raw) throw this.seen(failure ?? err);
    }
    if (failure) throw this.seen(failure);
    if (!raw) throw new KmeTransportError('network', 'the request failed before an answer arrived');
    this.onExchange?.(raw);
    const out: CallResult<T> = { status: raw.status, raw };
    const body = raw.json();
    const issues: FormatIssue[] = [];
    const utf8 = utf8Issue(raw.body);
    if (utf8) issues.push(utf8);
    if (raw.status >= 200 && raw.status < 300) {
      if (body === undefined) out.schemaError = 'the body is not JSON';
      else {
        const normal = normalizeBody(body, shape);
        issues.push(...normal.issues);
        const parsed = schema.safeParse(normal.body);
        if (parsed.success) out.data = normal.body as T;
        else out.schemaError = summariseIssues(parsed.error.issues);
      }
    } else if (raw.status >= 300) {
      out.error = body ?? raw.text();
      issues.push(...normalizeBody(body, 'error').issues); // a null `details` is qkd014/6/1's, not the Error format's
    }
    if (issues.length) out.formatIssues = issues;
    return out;
  }

  status(slaveSaeId: string): Promise<CallResult<Status>> {
    return this.call(zod.zGetStatusResponse, 'status', (o) => sdk.getStatus({ ...o, path: { slave_SAE_ID: slaveSaeId } }));
  }

  /** Get key, POST form (every request field). */
  encKeys(slaveSaeId: string, body: KeyRequest = {}): Promise<CallResult<KeyContainer>> {
    return this.call(zod.zGetKeyResponse, 'key-container', (o) => sdk.getKey({ ...o, path: { slave_SAE_ID: slaveSaeId }, body }));
  }

  /** Get key, GET form (only `number` and/or `size`). */
  encKeysGet(slaveSaeId: string, query: { number?: number; size?: number } = {}): Promise<CallResult<KeyContainer>> {
    return this.call(zod.zGetKeyGetResponse, 'key-container', (o) => sdk.getKeyGet({ ...o, path: { slave_SAE_ID: slaveSaeId }, query }));
  }

  /** Get key with key IDs, POST form (one or many IDs). */
  decKeys(masterSaeId: string, body: KeyIds | string[]): Promise<CallResult<KeyContainer>> {
    const ids: KeyIds = Array.isArray(body) ? { key_IDs: body.map((key_ID) => ({ key_ID })) } : body;
    return this.call(zod.zGetKeyWithKeyIdsResponse, 'key-container', (o) => sdk.getKeyWithKeyIds({ ...o, path: { master_SAE_ID: masterSaeId }, body: ids }));
  }

  /** Get key with key IDs, GET form (a single key_ID). */
  decKeysGet(masterSaeId: string, keyId: string): Promise<CallResult<KeyContainer>> {
    return this.call(zod.zGetKeyWithKeyIdsGetResponse, 'key-container', (o) => sdk.getKeyWithKeyIdsGet({ ...o, path: { master_SAE_ID: masterSaeId }, query: { key_ID: keyId } }));
  }

  /** Any method, path, query, headers and body bytes, under this identity's TLS settings and limits. */
  async raw(req: RawRequest): Promise<RawResponse> {
    const raw = await exchange(this.identity, this.baseUrl, req).catch((err: unknown) => {
      throw this.seen(err);
    });
    this.onExchange?.(raw);
    return raw;
  }

  /** A failure after the KME answered still shows the exchange so far to the observer (evidence). */
  private seen(err: unknown): unknown {
    if (err instanceof KmeTransportError && err.partial) this.onExchange?.(err.partial);
    return err;
  }

  /** The same identity and KME, reporting exchanges to another observer. */
  observed(onExchange: (raw: RawResponse) => void): KmeClient {
    return new KmeClient(this.identity, this.baseUrl, onExchange);
  }
}
