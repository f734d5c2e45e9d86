// The profile path of the HSM suite: two SoftHSM2 tokens described as the two sites of a target profile,
// each reached through a command prefix (`[ip netns exec NS] env SOFTHSM2_CONF=… qkd-harness hsm … --json
// --pin-stdin`), the way a Luna deployment's sites are reached through ssh. Through remoteSiteClient:
// generate on A, inventories of both, encrypt/decrypt and sign/verify across the sites after a replica is
// made, the extraction attempt on a faithful and an unfaithful copy, destroy;
// `hsm compare --target F --site a --site b` identical after a faithful copy and exit 1 naming the
// differences after an unfaithful one. Hostile "sites" (garbage, a wrong shape, silence, a failure) give
// a clear error within the deadline. The PIN never appears in any output or error.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CannotRunError, UsageError } from '../cli/exit.ts';
import type { Comparison } from '../hsm/compare.ts';
import type { HsmResult } from '../hsm/operations.ts';
import { HsmDeadlineError } from '../hsm/runner.ts';
import type { HsmSiteClient } from '../hsm/site-client.ts';
import { SoftHsmStore, softhsmModule } from '../hsm/softhsm.ts';
import { hsmGate, titled } from '../hsm/testing/gate.ts';
import { copyObject, sharedKek } from '../hsm/testing/replicate.ts';
import { inStore, TEST_PIN } from '../hsm/testing/tokens.ts';
import { parseTargetProfile } from '../target/load.ts';
import { SiteDriver } from './driver.ts';
import { profileHsmClients, remoteSiteClient, scrub } from './hsm-remote.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'qkd-harness.js');
const PIN_VAR = 'QKDH_REMOTE_TEST_PIN';
const gate = hsmGate();

const cleanups: Array<() => void> = [];
afterAll(() => cleanups.reverse().forEach((c) => c()));
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'qkdh-hsm-remote-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
};

/** Every output and error of these tests goes through here: the PIN must never be in it. */
const clean = (text: string): string => {
  expect(text, 'the PIN appeared').not.toContain(TEST_PIN);
  return text;
};
async function fails(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(
    () => new Error('expected a failure'),
    (e: Error) => e,
  );
  clean(err.message);
  return err;
}

/** The CLI on the operator's machine (no SOFTHSM2_CONF here: the tokens are only found through the sites' prefixes). */
function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, VITEST: undefined, VITEST_POOL_ID: undefined, VITEST_WORKER_ID: undefined, QKD_HSM_PIN: undefined, SOFTHSM2_CONF: undefined, ...env }, timeout: 240_000 });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.stdin.end();
    p.on('close', (code) => resolve({ code: code ?? -1, stdout: clean(stdout), stderr: clean(stderr) }));
  });
}

// As root each site is also a network namespace of its own (`ip netns exec NS …`, as the lab's sites
// are); otherwise the prefix is `env …` alone.
const NETNS = process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list'], { timeout: 10_000 }).status === 0;
const namespaces: string[] = [];
afterAll(() => namespaces.forEach((ns) => spawnSync('ip', ['netns', 'del', ns], { timeout: 10_000 })));
function namespace(site: string): string[] {
  if (!NETNS) return [];
  const ns = `hsmr${process.pid}${site}`;
  if (!namespaces.includes(ns)) {
    const r = spawnSync('ip', ['netns', 'add', ns], { timeout: 10_000, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip netns add ${ns}: ${r.stderr}`);
    namespaces.push(ns);
  }
  return ['ip', 'netns', 'exec', ns];
}

/** What a site runs before the harness: its namespace, its own SoftHSM2 configuration, and none of the test runner's variables (the PIN comes on stdin only). */
const sitePrefix = (site: string, conf: string): string[] => [...namespace(site), 'env', '-u', 'VITEST', '-u', 'VITEST_POOL_ID', '-u', 'VITEST_WORKER_ID', '-u', 'QKD_HSM_PIN', `SOFTHSM2_CONF=${conf}`];

function profileYaml(conf: string, module: string): string {
  const site = (token: string, role: string) => `
    exec: ${JSON.stringify(sitePrefix(token.slice(-1), conf))}
    wireguard: { interface: wg0 }
    hsm: { module: ${module}, token: ${token}, pin: "\${${PIN_VAR}}", role: ${role}, harness: ${JSON.stringify([process.execPath, BIN])} }`;
  return `name: two-softhsm-sites
kmes: { A: { url: "http://127.0.0.1:1" } }
saes: { master: { id: SAE_A, kme: A }, slave: { id: SAE_B, kme: A } }
sites:
  b:${site('site-b', 'replica')}
  a:${site('site-a', 'primary')}
`;
}

/** The member of HsmResult for op K (encrypt and decrypt share one). */
type ResultOf<K, R = HsmResult> = R extends { op: infer O } ? (K extends O ? R : never) : never;
const op = <K extends HsmResult['op']>(r: HsmResult, k: K): ResultOf<K> => {
  expect(r.op).toBe(k);
  return r as ResultOf<K>;
};

describe.skipIf(Boolean(gate.skip))(titled('hsm on two profile sites reached through command prefixes (SoftHSM2)', gate), () => {
  it('generate on A, objects on both, encrypt on A → decrypt on B, sign on B → verify on A, compare identical then different, destroy', async () => {
    if (gate.fail) throw new Error(gate.fail);
    const store = SoftHsmStore.create();
    cleanups.push(() => store.remove());
    store.initToken('site-a', TEST_PIN);
    store.initToken('site-b', TEST_PIN);
    const dir = tempDir();
    const file = join(dir, 'target.yaml');
    writeFileSync(file, profileYaml(store.conf, softhsmModule()!));
    const env = { [PIN_VAR]: TEST_PIN };

    // Roles, not file order, pick A and B; no PIN → a skip with the reason, never clients.
    const profile = parseTargetProfile(profileYaml(store.conf, softhsmModule()!), file, { ...process.env, ...env });
    expect(profileHsmClients({ sites: { a: profile.sites!.a! } })).toEqual({ skip: expect.stringMatching(/describes 1 site with an hsm entry/) });
    const noPin = profileHsmClients({ sites: { a: { ...profile.sites!.a!, hsm: { ...profile.sites!.a!.hsm!, pin: undefined } }, b: profile.sites!.b! } }, { env: {} });
    expect(noPin).toEqual({ skip: expect.stringMatching(/no PIN for site a \(QKD_HSM_PIN_A/) });
    const sites = profileHsmClients(profile);
    if ('skip' in sites) throw new Error(sites.skip);
    const { a, b } = sites as { a: HsmSiteClient; b: HsmSiteClient };
    expect([a.site, b.site]).toEqual(['a', 'b']);
    const ha = await sites.haStatus({ timeoutMs: 20_000 });
    expect(ha.a).toEqual({ available: false, reason: expect.stringMatching(/^not available: lunacm is not installed on site a/) });
    expect(sites.evidence.join('\n')).toMatch(NETNS ? /^A = .*token site-a on site a \(via ip netns exec hsmr\d+a env .*SOFTHSM2_CONF=/ : /^A = .*token site-a on site a \(via env .*SOFTHSM2_CONF=/);
    clean(sites.evidence.join('\n'));

    const T = { timeoutMs: 60_000 };
    for (const spec of [
      { kind: 'rsa', label: 'r', id: '01' },
      { kind: 'aes', label: 'k', id: '02' },
      { kind: 'ec', label: 'e', id: '03' },
    ] as const) {
      const g = op(await a.run({ op: 'generate', spec: { ...spec, extractable: true } }, T), 'generate');
      expect(g).toMatchObject({ token: 'site-a', key: { kind: spec.kind, id: spec.id } });
    }
    const [invA, invB] = await Promise.all([a.run({ op: 'objects' }, T), b.run({ op: 'objects' }, T)]);
    expect(op(invA, 'objects').inventory.objects.map((o) => `${o.class}/${o.label}`).sort()).toEqual(['private-key/e', 'private-key/r', 'public-key/e', 'public-key/r', 'secret-key/k']);
    expect(op(invB, 'objects').inventory).toMatchObject({ token: { label: 'site-b' }, objects: [] });

    const secret = Buffer.from('a message encrypted on site A');
    const [rsaCt, aesCt] = await Promise.all([a.run({ op: 'encrypt', key: { label: 'r' }, data: secret }, T), a.run({ op: 'encrypt', key: { label: 'k' }, data: secret }, T)]);
    expect(op(rsaCt, 'encrypt').output).toHaveLength(256);

    // The replica, made as the agent makes it (both tokens in one module here: one store, two tokens).
    inStore(store, ['site-a', 'site-b'], (t) => {
      const [from, to] = [t.sessions['site-a']!, t.sessions['site-b']!];
      const [kekA, kekB] = sharedKek(from, to);
      for (const [cls, label, id] of [['public-key', 'r', '01'], ['private-key', 'r', '01'], ['secret-key', 'k', '02'], ['public-key', 'e', '03'], ['private-key', 'e', '03']] as const) copyObject(from, to, kekA!, kekB!, { class: cls, label, id });
    });

    const [rsaPt, aesPt, sig] = await Promise.all([b.run({ op: 'decrypt', key: { label: 'r' }, data: op(rsaCt, 'encrypt').output }, T), b.run({ op: 'decrypt', key: { label: 'k' }, data: op(aesCt, 'encrypt').output }, T), b.run({ op: 'sign', key: { label: 'e' }, data: secret }, T)]);
    expect(op(rsaPt, 'decrypt').output.equals(secret)).toBe(true);
    expect(op(aesPt, 'decrypt').output.equals(secret)).toBe(true);
    const signature = op(sig, 'sign').signature;
    const [good, bad] = await Promise.all([a.run({ op: 'verify', key: { label: 'e' }, data: secret, signature }, T), a.run({ op: 'verify', key: { label: 'e' }, data: Buffer.from('other data'), signature }, T)]);
    expect([op(good, 'verify').valid, op(bad, 'verify').valid]).toEqual([true, false]);

    // hsm compare on the operator's machine, through the same remote path.
    const same = await cli(['hsm', 'compare', '--target', file, '--site', 'a', '--site', 'b', '--json'], env);
    expect(same.code, same.stderr).toBe(0);
    expect(JSON.parse(same.stdout) as Comparison).toMatchObject({ identical: true, counts: { a: 5, b: 5 } });
    const one = await cli(['hsm', 'objects', '--target', file, '--site', 'b'], { [PIN_VAR]: 'not-this-one', QKD_HSM_PIN_B: TEST_PIN }); // QKD_HSM_PIN_<SITE> first
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/token "site-b" .*: 5 objects/);

    // An unfaithful copy (non-sensitive) and a key that never arrives.
    for (const label of ['late', 'lost']) op(await a.run({ op: 'generate', spec: { kind: 'aes', label, id: '04', extractable: true } }, T), 'generate');
    inStore(store, ['site-a', 'site-b'], (t) => {
      const [kekA, kekB] = sharedKek(t.sessions['site-a']!, t.sessions['site-b']!);
      copyObject(t.sessions['site-a']!, t.sessions['site-b']!, kekA!, kekB!, { class: 'secret-key', label: 'late', id: '04' }, { sensitive: false, extractable: true });
    });
    // The protection check through the remote path: the faithful copy keeps its value in; the unfaithful one does not.
    const [kept, exposed] = await Promise.all([b.run({ op: 'extraction', key: { label: 'k', id: '02' } }, T), b.run({ op: 'extraction', key: { label: 'late', id: '04' } }, T)]);
    expect(op(kept, 'extraction')).toMatchObject({ read: { outcome: 'refused' }, wrap: { outcome: 'refused' } });
    expect(op(exposed, 'extraction').read).toEqual({ outcome: 'readable', bytes: 32 });
    const diff = await cli(['hsm', 'compare', '--target', file, '--site', 'a', '--site', 'b', '--json'], env);
    expect(diff.code, diff.stderr).toBe(1);
    expect((JSON.parse(diff.stdout) as Comparison).differences.map((d) => `${d.kind} ${d.object.class}/${d.object.label}`).sort()).toEqual(['missing secret-key/lost', 'weaker-protection secret-key/late']);

    const gone = op(await a.run({ op: 'destroy', key: { label: 'r' }, all: true }, T), 'destroy');
    expect(gone.destroyed.map((o) => o.class).sort()).toEqual(['private-key', 'public-key']);
    expect(op(await a.run({ op: 'objects' }, T), 'objects').inventory.objects.filter((o) => o.label === 'r')).toEqual([]);

    // The token refuses: a wrong PIN and an unknown key are usage errors naming the site, without the PIN.
    const wrong = remoteSiteClient('a', new SiteDriver('a', sitePrefix('a', store.conf)), profile.sites!.a!.hsm!, 'wrong-pin-0000');
    const e1 = await fails(wrong.run({ op: 'objects' }, T));
    expect([e1 instanceof UsageError, e1.message]).toEqual([true, expect.stringMatching(/^site a: `.*hsm objects` failed \(exit 2\): .*CKR_PIN_INCORRECT/)]);
    expect(e1.message).not.toContain('wrong-pin-0000');
    const e2 = await fails(a.run({ op: 'encrypt', key: { label: 'nope' }, data: secret }, T));
    expect(e2).toBeInstanceOf(UsageError);
  }, 300_000);
});

describe('hostile sites: a clear error naming the site and the step, within the deadline, never the PIN or data', () => {
  const dir = tempDir();
  /** A "site" whose command prefix runs this script (the harness words become its ignored arguments). */
  const hostile = (name: string, body: string) => {
    const p = join(dir, `${name}.sh`);
    writeFileSync(p, `#!/bin/sh\n${body}\n`);
    chmodSync(p, 0o755);
    return remoteSiteClient(name, new SiteDriver(name, [p]), { module: '/opt/luna/libCryptoki2_64.so', token: 'ha' }, TEST_PIN, { startupMs: 1_000 });
  };
  const data = Buffer.from('plaintext that must not be shown, long enough to look like key material');
  const T = { timeoutMs: 1_000 };

  it('garbage, a wrong shape, an echo of stdin, silence past the deadline, exit 3 and exit 2', async () => {
    const garbage = await fails(hostile('garbage', 'cat >/dev/null; echo "Welcome to the appliance {"').run({ op: 'objects' }, T));
    expect([garbage instanceof CannotRunError, garbage.message]).toEqual([true, expect.stringMatching(/^site garbage: `qkd-harness hsm objects`: the answer is not JSON/)]);

    const shape = await fails(hostile('shape', `cat >/dev/null; echo '{"op":"objects","inventory":{"token":1,"objects":[]}}'`).run({ op: 'objects' }, T));
    expect(shape.message).toMatch(/^site shape: `qkd-harness hsm objects`: unexpected answer \(inventory\.token: /);
    const swapped = await fails(hostile('swapped', `cat >/dev/null; echo '{"op":"decrypt","token":"t","key":{"class":"secret-key","label":"k","id":"","handle":"1"},"mechanism":"m","plaintext":"%%%"}'`).run({ op: 'encrypt', key: { label: 'k' }, data }, T));
    expect(swapped.message).toMatch(/unexpected answer \(op: /);

    const echo = await fails(hostile('echo', 'cat; cat >&2; exit 0').run({ op: 'encrypt', key: { label: 'k' }, data }, T));
    expect(echo.message).toMatch(/the answer is not JSON/);
    expect(echo.message).not.toContain(data.toString('base64'));

    const started = Date.now();
    const silent = await fails(hostile('silent', 'sleep 60').run({ op: 'objects' }, T));
    expect([silent instanceof HsmDeadlineError, silent.message]).toEqual([true, expect.stringMatching(/^site silent: `qkd-harness hsm objects`: no answer within 2000 ms/)]);
    expect(Date.now() - started).toBeLessThan(30_000); // bound for a hang, not a measurement

    const three = await fails(hostile('three', 'cat >&2; echo "C_Login failed: CKR_DEVICE_ERROR" >&2; exit 3').run({ op: 'sign', key: { label: 'k' }, data }, T));
    expect([three instanceof CannotRunError, three.message]).toEqual([true, expect.stringMatching(/^site three: `qkd-harness hsm sign` failed \(exit 3\): .*C_Login failed: CKR_DEVICE_ERROR$/)]);
    expect(three.message).not.toContain(data.toString('base64'));
    const two = await fails(hostile('two', 'echo "qkd-harness: no key with label k" >&2; exit 2').run({ op: 'objects' }, T));
    expect([two instanceof UsageError, two.message]).toEqual([true, 'site two: `qkd-harness hsm objects` failed (exit 2): no key with label k']);
  }, 120_000);

  it('profile schema: sites.*.hsm needs a token label or a slot; a slot is a decimal or 0x-hex ID', () => {
    const yaml = (hsm: string) => `name: p\nkmes: { A: { url: "http://127.0.0.1:1" } }\nsaes: { master: { id: SAE_A, kme: A }, slave: { id: SAE_B, kme: A } }\nsites:\n  a: { wireguard: { interface: wg0 }, hsm: ${hsm} }\n`;
    expect(() => parseTargetProfile(yaml('{ module: /x.so }'), '/p.yaml', {})).toThrow(/sites\.a\.hsm\.token needs token \(the label\) or slot/);
    expect(() => parseTargetProfile(yaml('{ module: /x.so, slot: "nine" }'), '/p.yaml', {})).toThrow(/sites\.a\.hsm\.slot/);
    expect(() => parseTargetProfile(yaml('{ module: /x.so, token: t, role: leader }'), '/p.yaml', {})).toThrow(/sites\.a\.hsm\.role/);
    expect(parseTargetProfile(yaml('{ module: /x.so, slot: 0x10 }'), '/p.yaml', {}).sites!.a!.hsm).toEqual({ module: '/x.so', slot: 16 });
    expect(parseTargetProfile(yaml('{ module: /x.so, slot: "0x10", harness: [node, /opt/q/bin/qkd-harness.js], lunacm: [/usr/bin/lunacm, -c, hagroup listgroups] }'), '/p.yaml', {}).sites!.a!.hsm).toMatchObject({ slot: '0x10', harness: ['node', '/opt/q/bin/qkd-harness.js'] });
  });

  it('scrub: the PIN and data sent are redacted exactly, long base64 runs by fingerprint, absolute paths kept', () => {
    const blob = Buffer.alloc(48, 7).toString('base64');
    expect(scrub(`pin ${TEST_PIN} blob ${blob} at /usr/safenet/lunaclient/lib/libCryptoki2_64.so`, [TEST_PIN])).toMatch(/^pin \[redacted\] blob \[64 chars sha256:[0-9a-f]{8}\] at \/usr\/safenet\/lunaclient\/lib\/libCryptoki2_64\.so$/);
  });
});
