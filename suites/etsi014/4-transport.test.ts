// ETSI GS QKD 014 clause 4: HTTPS with TLS 1.2 or higher and mutual authentication at connection set-up.
// Every KME of the profile (master's and slave's) is probed; a KME reached over plain HTTP fails the
// authentication requirements (nothing is checked) and skips the TLS-version ones (nothing to judge).
import { connect } from 'node:net';
import { check } from '../../src/conformance/check.ts';
import { defineClause } from '../../src/conformance/clause.ts';
import { CannotEvaluate, Failure, Skip, type CheckContext } from '../../src/conformance/context.ts';
import { expectJsonContentType } from '../../src/conformance/expect.ts';
import { KmeTransportError } from '../../src/kme/errors.ts';
import type { KmeClient } from '../../src/kme/client.ts';
import type { RawResponse } from '../../src/kme/transport.ts';
import { ephemeralOtherCaClient } from '../../src/conformance/tls.ts';

/** Sends one plain-HTTP request to the KME port and returns the first bytes of whatever answers. */
function plainHttpProbe(url: URL, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || (url.protocol === 'http:' ? 80 : 443)) });
    const chunks: Buffer[] = [];
    const done = (): void => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1').slice(0, 1024));
    };
    socket.setTimeout(timeoutMs, done);
    socket.on('connect', () => socket.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`));
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (Buffer.concat(chunks).length >= 1024) done();
    });
    socket.on('error', done);
    socket.on('end', done);
  });
}

const SERVER_CERT = new Set(['server-cert-untrusted', 'server-identity-mismatch', 'server-cert-expired', 'kme-id-mismatch']);
const UNREACHABLE = new Set(['connection-refused', 'host-not-found', 'protocol', 'network', 'server-cert-untrusted', 'server-identity-mismatch', 'server-cert-expired', 'kme-id-mismatch']);

/** One KME of the profile, seen from the role that uses it, with the peer SAE its Status names. */
interface Side {
  role: 'master' | 'slave';
  kme: string;
  url: URL;
  peer: string;
  plain: boolean;
}

/** The distinct KMEs of the master and the slave (one when both use the same KME). */
function sides(t: CheckContext): Side[] {
  const out: Side[] = [];
  for (const role of ['master', 'slave'] as const) {
    const rc = t.target.roles[role];
    if (out.some((s) => s.kme === rc.kmeName)) continue;
    const url = new URL(rc.client.baseUrl);
    out.push({ role, kme: rc.kmeName, url, peer: role === 'master' ? t.slaveId : t.masterId, plain: url.protocol === 'http:' });
  }
  return out;
}

const NO_TLS = 'the KME is reached over plain HTTP: no TLS at all, see qkd014/4/1';

/** The status of the answer head: from a response, or from a failure that came after one. */
async function headStatus(attempt: () => Promise<{ status: number }>): Promise<{ status: number; then?: string }> {
  try {
    return { status: (await attempt()).status };
  } catch (err) {
    if (err instanceof KmeTransportError && err.responseStatus !== undefined) return { status: err.responseStatus, ...(err.afterHead ? { then: err.afterHead } : {}) };
    throw err;
  }
}

/**
 * A refusal is a refusal: only a TLS-layer rejection (an alert or a close before any HTTP answer) or an
 * HTTP 4xx counts. Any 2xx/3xx head means the KME served the client, whatever happened to the body after.
 */
async function expectRefused(attempt: () => Promise<{ status: number }>, what: string): Promise<string> {
  let head: { status: number; then?: string };
  try {
    head = await headStatus(attempt);
  } catch (err) {
    if (!(err instanceof KmeTransportError)) throw err;
    if (err.kind === 'deadline') throw new Failure(`${what}: the KME neither served nor refused within the deadline`);
    if (UNREACHABLE.has(err.kind)) throw err; // says nothing about authentication: an error, not a pass
    return `refused at the TLS layer (${err.kind})`;
  }
  const then = head.then ? ` and then ${head.then}` : '';
  if (head.status < 400) throw new Failure(`${what}: the KME served the client with ${head.status}${then}`);
  if (head.status >= 500) throw new Failure(`${what}: the KME answered ${head.status}${then} instead of refusing`);
  return `refused at the HTTP layer with ${head.status}`;
}

/** Over plain HTTP no client certificate is ever checked: a finding for every authentication requirement. */
async function noCertificateCheck(t: CheckContext, side: Side, what: string): Promise<never> {
  const head = await headStatus(() => t.client(side.role).status(side.peer));
  const seen = head.status < 400 ? `a client without any certificate was served (${head.status})` : `a client without any certificate got ${head.status}, which is no certificate check`;
  throw new Failure(`${what}: KME ${side.kme} speaks plain HTTP (${side.url.origin}, see qkd014/4/1), so no client certificate is checked; ${seen}`);
}

/** Runs `probe` on every KME reached over TLS; plain-HTTP KMEs fail through noCertificateCheck. */
async function refusedEverywhere(t: CheckContext, what: string, client: (side: Side) => Promise<KmeClient>): Promise<{ pass: string }> {
  const notes: string[] = [];
  for (const side of sides(t)) {
    await t.soft(async () => {
      if (side.plain) return noCertificateCheck(t, side, what);
      const c = await client(side);
      notes.push(`KME ${side.kme}: ${await expectRefused(() => c.status(side.peer), `${what} at KME ${side.kme}`)}`);
    });
  }
  return { pass: notes.join('; ') };
}

/** JSON answers are labelled application/json; a body that is not JSON is judged elsewhere (5.3/11, 6.5/1), not its label. */
async function labelOfJson(t: CheckContext, raw: RawResponse, what: string, judged: string[]): Promise<void> {
  await t.soft(() => {
    if (raw.body.length === 0 || raw.json() === undefined) return;
    judged.push(what);
    expectJsonContentType(raw, what);
  });
}

await defineClause('4 Transport and mutual authentication', import.meta.url, [
  check('qkd014/4/1', async (t) => {
    for (const side of sides(t)) {
      await t.soft(async () => {
        if (side.plain) {
          const head = await headStatus(() => t.client(side.role).status(side.peer));
          throw new Failure(`KME ${side.kme} is reached over plain HTTP (${side.url.origin}): the API is served without TLS (GET status answered ${head.status})`);
        }
        const head = await plainHttpProbe(side.url, t.target.profile.timeout_ms);
        if (!head.startsWith('HTTP/')) return;
        // A TLS front end that answers a plain request with 400 "use HTTPS" (nginx, Envoy…) refuses it; only
        // an API answer over plain HTTP is a failure.
        if (/^HTTP\/1\.[01] 4\d\d /.test(head) && /https|ssl|tls/i.test(head.slice(head.indexOf('\r\n\r\n')))) return;
        throw new Failure(`the port of KME ${side.kme} (${side.url.host}) answered plain HTTP ("${head.split('\r\n')[0]}") instead of requiring TLS`);
      });
    }
  }),

  check('qkd014/4/2', async (t) => {
    const tls = sides(t).filter((s) => !s.plain);
    if (tls.length === 0) throw new Skip(NO_TLS);
    for (const side of tls) {
      await t.soft(async () => {
        try {
          const r = await t.variant(side.role, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }).status(side.peer);
          if (r.status !== 200) throw new Failure(`KME ${side.kme}: Status over TLS 1.2 answered ${r.status}`);
        } catch (err) {
          if (err instanceof KmeTransportError && err.kind === 'tls-protocol') throw new Failure(`KME ${side.kme}: a TLS 1.2 connection was refused (${err.code ?? err.kind}); SAEs that offer only TLS 1.2 cannot connect`);
          throw err;
        }
      });
    }
  }),

  check('qkd014/4/3', async (t) => {
    const tls = sides(t).filter((s) => !s.plain);
    if (tls.length === 0) throw new Skip(NO_TLS);
    const notes: string[] = [];
    for (const side of tls) {
      await t.soft(async () => {
        try {
          // Any answer head, whatever follows, means a TLS 1.1 session was established.
          const head = await headStatus(() => t.variant(side.role, { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }).status(side.peer));
          throw new Failure(`KME ${side.kme}: a TLS 1.1 connection was accepted and answered ${head.status}`);
        } catch (err) {
          if (!(err instanceof KmeTransportError) || UNREACHABLE.has(err.kind)) throw err;
          // Only a refusal by the server proves anything; a local failure says nothing about the KME.
          if (/NO_PROTOCOLS_AVAILABLE|NO_CIPHERS_AVAILABLE|NO_SUITABLE/.test(err.code ?? '')) throw new Skip(`this Node/OpenSSL cannot offer TLS 1.1 (${err.code})`);
          notes.push(`KME ${side.kme}: TLS 1.1 refused (${err.kind})`);
        }
      });
    }
    return { pass: notes.join('; ') };
  }),

  check('qkd014/4/4', async (t) => refusedEverywhere(t, 'a client without a certificate', async (s) => t.variant(s.role, { cert: undefined, key: undefined }))),

  check('qkd014/4/5', async (t) => refusedEverywhere(t, 'a client certificate from an untrusted CA', (s) => ephemeralOtherCaClient(t, s.role))),

  check('qkd014/4/6', async (t) => {
    const bad = t.target.negative.expired;
    const what = 'an expired client certificate';
    if (!bad) {
      // Plain-HTTP KMEs fail without one; KMEs over TLS need a certificate signed by the target CA.
      for (const side of sides(t).filter((s) => s.plain)) await t.soft(() => noCertificateCheck(t, side, what));
      throw new Skip('the target profile has no negative.expired_client certificate (one must be signed by the target CA)');
    }
    return refusedEverywhere(t, what, async (s) => t.variant(s.role, { cert: t.pem(bad.cert), key: t.pem(bad.key) }, bad));
  }),

  check('qkd014/4/7', async (t) => {
    // The role clients verify chain and host name; the configured KME ID is verified here only, so a
    // certificate without it is this requirement's finding and every other check still runs.
    const notes: string[] = [];
    for (const side of sides(t)) {
      await t.soft(async () => {
        if (side.plain) throw new Failure(`KME ${side.kme}: no certificate to verify (${NO_TLS})`);
        const kmeId = t.target.roles[side.role].client.identity.kmeId;
        try {
          // Any HTTP answer proves the handshake verified the certificate; the status is not this requirement's.
          await headStatus(() => t.variant(side.role, { verifyKmeId: true }).status(side.peer));
        } catch (err) {
          if (err instanceof KmeTransportError && SERVER_CERT.has(err.kind)) throw new Failure(`KME ${side.kme}: the certificate was not accepted: ${err.message}`);
          throw err;
        }
        notes.push(`KME ${side.kme}: ${kmeId ? `certificate verified, KME ID ${kmeId} confirmed` : 'certificate verified (no KME ID configured to confirm)'}`);
      });
    }
    return { pass: notes.join('; ') };
  }),

  check('qkd014/4/8', async (t) => {
    const judged: string[] = [];
    const st = await t.master.status(t.slaveId);
    await labelOfJson(t, st.raw, `GET status (${st.status})`, judged);
    const keys = await t.master.encKeys(t.slaveId, {});
    await labelOfJson(t, keys.raw, `POST enc_keys (${keys.status})`, judged);
    const bad = await t.master.raw({ method: 'POST', path: keys.raw.url, headers: { 'content-type': 'application/json' }, body: '{"number":' });
    await labelOfJson(t, bad, `malformed POST enc_keys (${bad.status})`, judged);
    if (judged.length === 0) throw new CannotEvaluate('no answer carried a JSON body, so no label could be judged (the bodies are qkd014/5.2/1, 5.3/1 and 6.5/1 findings)');
    return { pass: `labelled application/json: ${judged.join(', ')}` };
  }),
]);
