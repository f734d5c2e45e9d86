// The agent's ETSI GS QKD 014 calls, as Arnika makes them: GET only, `{KMS_URL}/enc_keys?number=1&size=256`
// and `{KMS_URL}/dec_keys?key_ID=<id>`, client certificate when configured, JSON `keys[0]` used, and
// KMS_BACKOFF_MAX_RETRIES retries with KMS_BACKOFF_BASE_DELAY·2ⁿ back-off.
import { setTimeout as sleep } from 'node:timers/promises';
import { KmeClient } from '../../src/kme/client.ts';
import { SaeIdentity } from '../../src/kme/identity.ts';
import type { AgentConfig } from './config.ts';

export interface KmsKey {
  keyId: string;
  /** Standard base64 as the KMS returned it. Never logged. */
  key: string;
}

export class KmsError extends Error {
  override name = 'KmsError';
}

export class Kms {
  private readonly client: KmeClient;
  /** When set, requests go to this base instead (the kms-outage fault: a closed port). */
  outage = false;

  /** `noDeadline`: the no-kms-deadline switch (mocks/keyctl/faults.ts): no KMS_HTTP_TIMEOUT, a hung KMS stalls the call for good. */
  constructor(
    readonly config: AgentConfig,
    o: { noDeadline?: boolean } = {},
  ) {
    const tls = config.tls;
    // KMS_HTTP_TIMEOUT bounds connect, headers and body of every call (src/kme/transport.ts); the switch
    // sets it beyond any lab run (setTimeout's largest delay, ~24 days).
    const timeoutMs = o.noDeadline ? 2_147_000_000 : config.kmsHttpTimeoutMs;
    const identity = tls
      ? SaeIdentity.fromFiles({ saeId: 'key-control', ca: tls.caCertificate, cert: tls.certificate, key: tls.privateKey, timeoutMs })
      : new SaeIdentity({ saeId: 'key-control', ca: '', timeoutMs });
    this.client = new KmeClient(identity, config.kmsUrl);
  }

  private url(path: string): string {
    const base = this.outage ? this.config.kmsUrl.replace(/^(https?:\/\/)[^/]+/, '$1127.0.0.1:1') : this.config.kmsUrl;
    return `${base}/${path}`;
  }

  private async once(path: string): Promise<KmsKey> {
    const res = await this.client.raw({ method: 'GET', path: this.url(path) });
    if (res.status !== 200) throw new KmsError(`GET ${path.split('?')[0]} answered ${res.status}`);
    const body = res.json() as { keys?: Array<{ key_ID?: unknown; key?: unknown }> } | undefined;
    const k = body?.keys?.[0];
    if (typeof k?.key_ID !== 'string' || typeof k.key !== 'string') throw new KmsError(`GET ${path.split('?')[0]}: the answer has no keys[0] with key_ID and key`);
    return { keyId: k.key_ID, key: k.key };
  }

  private async withBackoff(path: string): Promise<KmsKey> {
    let last: unknown;
    for (let attempt = 0; attempt <= this.config.kmsBackoffMaxRetries; attempt++) {
      if (attempt > 0) await sleep(this.config.kmsBackoffBaseDelayMs * 2 ** (attempt - 1));
      try {
        return await this.once(path);
      } catch (err) {
        last = err;
      }
    }
    throw new KmsError(`${this.config.kmsBackoffMaxRetries + 1} attempts failed; last: ${last instanceof Error ? last.message : String(last)}`);
  }

  encKey(): Promise<KmsKey> {
    return this.withBackoff('enc_keys?number=1&size=256');
  }

  decKey(keyId: string): Promise<KmsKey> {
    return this.withBackoff(`dec_keys?key_ID=${encodeURIComponent(keyId)}`);
  }

  async close(): Promise<void> {
    await this.client.identity.close();
  }
}
