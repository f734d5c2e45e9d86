// `qkd-harness mock`, run for real: one JSON line on stdout, a target profile the harness loads, request
// logs without key material on stderr, a clean exit on SIGTERM, exit 2 on bad flags or configuration, and
// two single-KME processes linked over TCP.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { closeClients, clientFor } from '../../src/target/clients.ts';
import { loadTargetProfile } from '../../src/target/load.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'qkd-mock-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Kme = { url: string; kme_id: string; port: number; link?: string };
type Sae = { kme: string | null; cert: string; key: string };
interface Line {
  kmes: { A: Kme; B: Kme };
  ca: string;
  saes: { SAE_A: Sae; SAE_B: Sae; SAE_C: Sae };
  profile: string | null;
  pki: string;
  deviations: string[];
}

interface Running {
  child: ChildProcessWithoutNullStreams;
  line: Line;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

function start(args: string[]): Promise<Running> {
  const child = spawn(process.execPath, ['bin/qkd-harness.js', 'mock', ...args], { cwd: root });
  let out = '';
  let err = '';
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no JSON line within 20 s; stderr: ${err}`)), 20_000);
    let done = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0 && !done) {
        done = true;
        clearTimeout(timer);
        resolve({ child, line: JSON.parse(out.slice(0, nl)), stdout: () => out, stderr: () => err, exit });
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    void exit.then((code) => {
      clearTimeout(timer);
      if (!done) reject(new Error(`exited with ${code} before its JSON line; stderr: ${err}`));
    });
  });
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/qkd-harness.js', 'mock', ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });

describe('qkd-harness mock', () => {
  it('prints one JSON line, serves the profile it wrote, logs without key material, exits 0 on SIGTERM with its ports closed', async () => {
    const m = await start([]);
    const line = m.line;
    expect(Object.keys(line.kmes)).toEqual(['A', 'B']);
    expect(line.kmes.A).toMatchObject({ url: expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+$/), kme_id: 'KME_A' });
    expect(line.kmes.B.kme_id).toBe('KME_B');
    expect(line.saes.SAE_A).toMatchObject({ kme: 'A', cert: expect.any(String), key: expect.any(String) });
    expect(line.saes.SAE_B.kme).toBe('B');
    expect(line.saes.SAE_C.kme).toBe('B');
    expect(line.ca).toMatch(/ca\.pem$/);

    const profile = loadTargetProfile(line.profile!);
    expect(profile.saes.master).toMatchObject({ id: 'SAE_A', kme: 'A' });
    expect(profile.saes.slave).toMatchObject({ id: 'SAE_B', kme: 'B' });
    expect(profile.saes.outsider).toMatchObject({ id: 'SAE_C', kme: 'B' });
    expect(profile.profile).toBe('lenient');
    const master = clientFor(profile, 'master')!;
    const slave = clientFor(profile, 'slave')!;
    const outsider = clientFor(profile, 'outsider')!;
    const keys: string[] = [];
    try {
      const r = await master.client.encKeys(slave.saeId, { number: 2 });
      expect(r.status).toBe(200);
      keys.push(...r.data!.keys.map((k) => k.key));
      expect((await outsider.client.decKeys(master.saeId, [r.data!.keys[0]!.key_ID])).status).toBe(401);
      const d = await slave.client.decKeys(master.saeId, r.data!.keys.map((k) => k.key_ID));
      expect(d.data!.keys).toEqual(r.data!.keys);
    } finally {
      await closeClients([master, slave, outsider]);
    }

    m.child.kill('SIGTERM');
    expect(await m.exit).toBe(0);
    expect(m.stdout().trimEnd().split('\n')).toHaveLength(1);
    const log = m.stderr();
    expect(log).toMatch(/KME_A POST \/api\/v1\/keys\/SAE_B\/enc_keys 200 sae=SAE_A .*keys=.*sha256:[0-9a-f]{8}/);
    expect(log).toMatch(/KME_B POST \/api\/v1\/keys\/SAE_A\/dec_keys 401 sae=SAE_C/);
    for (const k of keys) {
      expect(log).not.toContain(k);
      expect(log).not.toContain(Buffer.from(k, 'base64').toString('hex'));
    }
    expect(await refused(line.kmes.A.port)).toBe(true);
    expect(await refused(line.kmes.B.port)).toBe(true);
  });

  it('--deviation, --host, --port-a and a reused --pki directory', async () => {
    const pki = join(dir, 'shared');
    const first = await start(['--pki', pki, '--quiet']);
    first.child.kill('SIGINT');
    expect(await first.exit).toBe(0);
    const m = await start(['--pki', pki, '--deviation', 'keys-capitalised', '--deviation', 'constant-status', '--host', '127.0.0.1', '--port-b', '0', '--quiet']);
    try {
      expect(m.line.deviations).toEqual(['keys-capitalised', 'constant-status']);
      expect(m.line.ca).toBe(first.line.ca);
      expect(m.line.saes.SAE_A.cert).toBe(first.line.saes.SAE_A.cert);
    } finally {
      m.child.kill('SIGTERM');
      expect(await m.exit).toBe(0);
    }
    expect(m.stderr()).toBe('');
  });

  it('bad flags or configuration: one line on stderr, exit 2, nothing on stdout', async () => {
    const badConfig = join(dir, 'bad.yaml');
    writeFileSync(badConfig, 'key_size: 12\nmin_key_size: 64\n');
    const unknownField = join(dir, 'unknown.yaml');
    writeFileSync(unknownField, 'colour: blue\n');
    const cases: Record<string, { args: string[]; says: RegExp }> = {
      'unknown deviation': { args: ['--deviation', 'no-such-deviation'], says: /unknown deviation "no-such-deviation"/ },
      'bad port': { args: ['--port-a', 'http'], says: /--port-a must be a port number/ },
      'missing config': { args: ['--config', join(dir, 'missing.yaml')], says: /missing\.yaml: cannot be read/ },
      'invalid config': { args: ['--config', badConfig], says: /bad\.yaml: field key_size/ },
      'unknown config field': { args: ['--config', unknownField], says: /unknown: colour/ },
      'link flag without --only': { args: ['--link-listen', '127.0.0.1:0'], says: /go with --only/ },
      'single KME without seed': { args: ['--only', 'A', '--pki', join(dir, 'noseed')], says: /--link-seed/ },
      'bad seed': { args: ['--only', 'A', '--link-seed', 'xyz'], says: /--link-seed must be 32 to 128 hex digits/ },
    };
    const results = await Promise.all(Object.values(cases).map((c) => run(c.args)));
    Object.entries(cases).forEach(([what, c], i) => {
      const r = results[i]!;
      expect(r.code, `${what}: ${r.stderr}`).toBe(2);
      expect(r.stdout, what).toBe('');
      expect(r.stderr.trimEnd().split('\n'), `${what}: ${r.stderr}`).toHaveLength(1);
      expect(r.stderr, what).toMatch(c.says);
    });
  });

  it('two single-KME processes linked over TCP on 127.0.0.1 give identical keys', async () => {
    const pki = join(dir, 'lab');
    const seed = 'c3'.repeat(32);
    const b = await start(['--only', 'B', '--pki', pki, '--link-listen', '127.0.0.1:0', '--link-seed', seed]);
    expect(Object.keys(b.line.kmes)).toEqual(['B']);
    expect(b.line.kmes.B.link).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(b.line.profile).toBeNull();
    const a = await start(['--only', 'A', '--pki', pki, '--link-peer', b.line.kmes.B.link!, '--link-seed', seed, '--peer-url', b.line.kmes.B.url]);
    const profile = loadTargetProfile(a.line.profile!);
    const master = clientFor(profile, 'master')!;
    const slave = clientFor(profile, 'slave')!;
    try {
      let r = await master.client.encKeysGet(slave.saeId, { number: 3 });
      for (let i = 0; i < 50 && r.status === 503; i++) {
        await new Promise((ok) => setTimeout(ok, 100)); // the link comes up a moment after start
        r = await master.client.encKeysGet(slave.saeId, { number: 3 });
      }
      expect(r.status).toBe(200);
      const d = await slave.client.decKeys(master.saeId, r.data!.keys.map((k) => k.key_ID));
      expect(d.data!.keys).toEqual(r.data!.keys);
      const back = await slave.client.encKeysGet(master.saeId);
      expect((await master.client.decKeysGet(slave.saeId, back.data!.keys[0]!.key_ID)).data!.keys).toEqual(back.data!.keys);
    } finally {
      await closeClients([master, slave]);
      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
    }
    expect(await a.exit).toBe(0);
    expect(await b.exit).toBe(0);
    expect(a.stderr()).toMatch(/KMS link to KME_B up/);
  });
});
