// The reproduction command reproduces: each negative TLS client of clause 4 gets a curl line with its own
// TLS limits and certificate, and that line, run with the system's curl against a running mock pair,
// is served where the harness was served and refused where the harness was refused.
import { execFile, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockPair, type DeviationName, type MockPair } from '../../mocks/kme/index.ts';
import { KmeTransportError } from '../kme/errors.ts';
import type { RawResponse } from '../kme/transport.ts';
import { loadTargetProfile } from '../target/load.ts';
import { CheckContext, targetFromProfile, type Target } from './context.ts';
import { curlFor } from './evidence.ts';
import { ephemeralOtherCaClient, untrustedCertFiles } from './tls.ts';
import type { KmeClient } from '../kme/client.ts';

const RAW = { method: 'GET', url: 'https://kme.example:8443/api/v1/keys/SAE_B/status', requestHeaders: {} } as unknown as RawResponse;

describe('curlFor', () => {
  it('carries the TLS limits as curl flags', () => {
    expect(curlFor(RAW, { ca: 'ca.pem', cert: 'a.pem', key: 'a.key', tls: { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } })).toMatch(/^curl -sS -i --tlsv1\.2 --tls-max 1\.2 -X GET --cert 'a\.pem'/);
    const v11 = curlFor(RAW, { ca: 'ca.pem', tls: { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' } });
    expect(v11).toContain("--tlsv1.1 --tls-max 1.1 --ciphers 'DEFAULT@SECLEVEL=0'");
    expect(v11).not.toContain('--cert');
    expect(curlFor(RAW, { ca: 'ca.pem', tls: { minVersion: 'TLSv1', maxVersion: 'TLSv1' } })).toContain('--tlsv1.0 --tls-max 1.0');
    expect(curlFor(RAW, { ca: 'ca.pem', cert: 'a.pem', key: 'a.key' })).not.toMatch(/--tls/);
  });

  it('runs the setup first for a throw-away certificate, with the SAE ID quoted for shell and OpenSSL', () => {
    const line = curlFor(RAW, { ca: 'ca.pem', ...untrustedCertFiles("SAE/o'k") });
    expect(line).toMatch(/^openssl req -x509 -newkey ec .* -subj '\/CN=SAE\\\/o'\\''k' .* && curl .*--cert \S+\.pem' --key \S+\.key'/);
    expect(line).not.toMatch(/PRIVATE KEY|BEGIN/);
  });

  it('keeps the URL out of the comment that names a binary body', () => {
    const raw = { ...RAW, method: 'POST', requestBody: new Uint8Array([0xff, 0xfe, 0x00]) } as RawResponse;
    const line = curlFor(raw, { ca: 'ca.pem' });
    expect(line.indexOf(RAW.url)).toBeLessThan(line.indexOf('#'));
  });
});

const HAVE_TOOLS = ['curl', 'openssl'].every((c) => spawnSync(c, ['--version'], { timeout: 10_000 }).status === 0 || spawnSync(c, ['version'], { timeout: 10_000 }).status === 0);

/** Runs a reproduction line with sh; resolves to what curl printed and its exit code (killed after 20 s). */
function runLine(line: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', line], { timeout: 20_000 }, (err, stdout) => resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, out: stdout }));
  });
}

interface Case {
  name: string;
  /** Deviations under which the mock serves this client, and under which it refuses it. */
  served: DeviationName[];
  refused: DeviationName[];
  client(t: CheckContext): KmeClient | Promise<KmeClient>;
  /** What the line must show of the client. */
  shows: RegExp;
}

const CASES: Case[] = [
  { name: 'TLS 1.2 only (qkd014/4/2)', served: [], refused: ['tls-1.3-only'], client: (t) => t.variant('master', { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }), shows: /--tlsv1\.2 --tls-max 1\.2 .*--cert / },
  { name: 'no client certificate (qkd014/4/4)', served: ['any-client-cert'], refused: [], client: (t) => t.variant('master', { cert: undefined, key: undefined }), shows: /^curl (?!.*--cert)/ },
  { name: 'certificate from an untrusted CA (qkd014/4/5)', served: ['any-client-cert'], refused: [], client: (t) => ephemeralOtherCaClient(t, 'master'), shows: /^openssl req .*CN=SAE_A.* && curl .*--cert '\/tmp\/qkd-harness-untrusted\.pem'/ },
  {
    name: 'expired client certificate (qkd014/4/6)',
    served: ['any-client-cert'],
    refused: [],
    client: (t) => {
      const bad = t.target.negative.expired!;
      return t.variant('master', { cert: t.pem(bad.cert), key: t.pem(bad.key) }, bad);
    },
    shows: /--cert '[^']*expired[^']*'/,
  },
  {
    name: 'TLS 1.1 (qkd014/4/3)',
    served: ['tls-1.1-accepted'],
    refused: [],
    client: (t) => t.variant('master', { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
    shows: /--tlsv1\.1 --tls-max 1\.1 --ciphers 'DEFAULT@SECLEVEL=0'/,
  },
];

describe.skipIf(!HAVE_TOOLS)(HAVE_TOOLS ? 'reproduction lines run against the mock' : 'reproduction lines run against the mock — skipped: curl or openssl is not installed (.ci/apt-packages lists both)', () => {
  let pair: MockPair;
  let target: Target;
  beforeAll(async () => {
    pair = await startMockPair({ log: false });
    target = targetFromProfile({ ...loadTargetProfile(pair.profilePath), timeout_ms: 5000 });
  });
  afterAll(async () => {
    await target?.close();
    await pair?.stop();
    rmSync(untrustedCertFiles('x').cert!, { force: true });
    rmSync(untrustedCertFiles('x').key!, { force: true });
  });

  /** The harness's own answer to this client: the HTTP status, or 'refused' when no HTTP answer came. */
  async function harness(c: Case): Promise<{ status: number | 'refused'; line?: string }> {
    const t = new CheckContext(target);
    try {
      const r = await (await c.client(t)).status(t.slaveId);
      return { status: r.status, line: t.evidence()[0]?.curl };
    } catch (err) {
      if (err instanceof KmeTransportError && err.kind !== 'deadline') return { status: 'refused' };
      throw err;
    } finally {
      await t.close();
    }
  }

  it.for(CASES)('$name: served → the line is served; refused → the line is refused', { timeout: 60_000 }, async (c, ctx) => {
    pair.setDeviations(c.served);
    const served = await harness(c);
    expect(served.status).toBe(200);
    const line = served.line!;
    expect(line).toMatch(c.shows);
    const curlServed = await runLine(line);
    if (c.name.startsWith('TLS 1.1') && curlServed.code !== 0 && !curlServed.out) ctx.skip('the system curl/OpenSSL cannot offer TLS 1.1 (the Node client could)');
    expect(curlServed.out).toMatch(/^HTTP\/[\d.]+ 200/);
    expect(curlServed.code).toBe(0);

    pair.setDeviations(c.refused);
    expect((await harness(c)).status).toBe('refused');
    const curlRefused = await runLine(line);
    expect(curlRefused.code).not.toBe(0);
    expect(curlRefused.out).not.toMatch(/^HTTP\//);
  });
});
