// ETSI GS QKD 014 clause 4: HTTPS with TLS 1.2 or higher and mutual authentication at connection set-up.
import { connect } from 'node:net';
import { check } from '../../src/conformance/check.ts';
import { defineClause } from '../../src/conformance/clause.ts';
import { Failure, Skip } from '../../src/conformance/context.ts';
import { expectJsonContentType } from '../../src/conformance/expect.ts';
import { KmeTransportError } from '../../src/kme/errors.ts';
import { ephemeralOtherCaClient } from '../../src/conformance/tls.ts';

/** Sends one plain-HTTP request to the KME port and returns the first bytes of whatever answers. */
function plainHttpProbe(url: URL, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 443) });
    const chunks: Buffer[] = [];
    const done = (): void => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1').slice(0, 64));
    };
    socket.setTimeout(timeoutMs, done);
    socket.on('connect', () => socket.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`));
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (Buffer.concat(chunks).length >= 12) done();
    });
    socket.on('error', done);
    socket.on('end', done);
  });
}

const SERVER_CERT = new Set(['server-cert-untrusted', 'server-identity-mismatch', 'server-cert-expired', 'kme-id-mismatch']);
const UNREACHABLE = new Set(['connection-refused', 'host-not-found', 'protocol', 'network', 'server-cert-untrusted', 'server-identity-mismatch', 'server-cert-expired', 'kme-id-mismatch']);

/** A rejected connection (TLS alert, reset) or a 4xx is a refusal; a 2xx is not. */
async function expectRefused(attempt: () => Promise<{ status: number }>, what: string): Promise<{ pass: string }> {
  try {
    const r = await attempt();
    if (r.status >= 200 && r.status < 300) throw new Failure(`${what}: the KME served the request (${r.status})`);
    if (r.status >= 500) throw new Failure(`${what}: the KME answered ${r.status} instead of refusing`);
    return { pass: `refused at the HTTP layer with ${r.status}` };
  } catch (err) {
    if (!(err instanceof KmeTransportError)) throw err;
    if (err.kind === 'deadline') throw new Failure(`${what}: the KME neither served nor refused within the deadline`);
    if (UNREACHABLE.has(err.kind)) throw err; // says nothing about authentication: an error, not a pass
    return { pass: `refused at the TLS layer (${err.kind})` };
  }
}

await defineClause('4 Transport and mutual authentication', import.meta.url, [
  check('qkd014/4/1', async (t) => {
    const url = new URL(t.target.roles.master.client.baseUrl);
    const head = await plainHttpProbe(url, t.target.profile.timeout_ms);
    if (head.startsWith('HTTP/')) throw new Failure(`the KME port ${url.host} answered plain HTTP ("${head.split('\r\n')[0]}") instead of requiring TLS`);
  }),

  check('qkd014/4/2', async (t) => {
    try {
      const r = await t.variant('master', { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }).status(t.slaveId);
      if (r.status !== 200) throw new Failure(`Status over TLS 1.2 answered ${r.status}`);
    } catch (err) {
      if (err instanceof KmeTransportError && err.kind === 'tls-protocol') throw new Failure(`a TLS 1.2 connection was refused (${err.code ?? err.kind}); SAEs that offer only TLS 1.2 cannot connect`);
      throw err;
    }
  }),

  check('qkd014/4/3', async (t) => {
    try {
      const r = await t.variant('master', { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }).status(t.slaveId);
      throw new Failure(`a TLS 1.1 connection was accepted and answered ${r.status}`);
    } catch (err) {
      if (!(err instanceof KmeTransportError) || UNREACHABLE.has(err.kind)) throw err;
      // Only a refusal by the server proves anything; a local failure says nothing about the KME.
      if (/NO_PROTOCOLS_AVAILABLE|NO_CIPHERS_AVAILABLE|NO_SUITABLE/.test(err.code ?? '')) throw new Skip(`this Node/OpenSSL cannot offer TLS 1.1 (${err.code})`);
      return { pass: `TLS 1.1 refused (${err.kind})` };
    }
  }),

  check('qkd014/4/4', async (t) => expectRefused(() => t.variant('master', { cert: undefined, key: undefined }).status(t.slaveId), 'a client without a certificate')),

  check('qkd014/4/5', async (t) => {
    const other = await ephemeralOtherCaClient(t, 'master');
    return expectRefused(() => other.status(t.slaveId), 'a client certificate from an untrusted CA');
  }),

  check('qkd014/4/6', async (t) => {
    const bad = t.target.negative.expired;
    if (!bad) throw new Skip('the target profile has no negative.expired_client certificate (one must be signed by the target CA)');
    return expectRefused(() => t.variant('master', { cert: t.pem(bad.cert), key: t.pem(bad.key) }, bad).status(t.slaveId), 'an expired client certificate');
  }),

  check('qkd014/4/7', async (t) => {
    // Our client verifies chain, host name and (when configured) the KME ID on every connection.
    const r = await t.master.status(t.slaveId).catch((err: unknown) => {
      if (err instanceof KmeTransportError && SERVER_CERT.has(err.kind)) throw new Failure(`the KME certificate was not accepted: ${err.message}`);
      throw err;
    });
    if (r.status !== 200) throw new Failure(`Status answered ${r.status} over a verified connection`);
    const kmeId = t.target.roles.master.client.identity.kmeId;
    return { pass: kmeId ? `certificate verified, KME ID ${kmeId} confirmed` : 'certificate verified (no KME ID configured to confirm)' };
  }),

  check('qkd014/4/8', async (t) => {
    const st = await t.master.status(t.slaveId);
    expectJsonContentType(st.raw, 'GET status (200)');
    const keys = await t.master.encKeys(t.slaveId, {});
    expectJsonContentType(keys.raw, 'POST enc_keys (200)');
    const bad = await t.master.raw({ method: 'POST', path: keys.raw.url, headers: { 'content-type': 'application/json' }, body: '{"number":' });
    if (bad.body.length > 0) expectJsonContentType(bad, `malformed POST enc_keys (${bad.status})`);
  }),
]);
