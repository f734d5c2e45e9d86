// `qkd-harness hsm` end to end, as a user runs it: every operation on a real SoftHSM2 token (each test
// makes its own store and tokens under the temp directory), PIN handling, target-profile sites,
// `compare` after a faithful and after faulty wrap/unwrap replication, and the deadline on a module
// that never answers.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Comparison } from '../hsm/compare.ts';
import type { Inventory } from '../hsm/inventory.ts';
import { generateKey } from '../hsm/keygen.ts';
import { SoftHsmStore, softhsmModule } from '../hsm/softhsm.ts';
import { hsmGate, titled } from '../hsm/testing/gate.ts';
import { copyObject, sharedKek } from '../hsm/testing/replicate.ts';
import { inStore, TEST_PIN } from '../hsm/testing/tokens.ts';
import { processes } from '../hsm/testing/processes.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'qkd-harness.js');
const P11KIT_CLIENT = '/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; every run's output is checked for the test PIN (it must never appear). */
/**
 * One command after another: SoftHSM2's file store is not safe for processes that log in to the same
 * token at once (a login rewrites the token file; a process reading it meanwhile found no token with
 * the label — seen once on CI).
 */
async function inTurn<T extends Array<() => Promise<Run>>>(calls: [...T]): Promise<{ [K in keyof T]: Run }> {
  const out: Run[] = [];
  for (const c of calls) out.push(await c());
  return out as { [K in keyof T]: Run };
}

function cli(args: string[], o: { env?: NodeJS.ProcessEnv; input?: string | Buffer; argv0?: string[] } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const [cmd, ...pre] = o.argv0 ?? [process.execPath, BIN];
    const p = spawn(cmd!, [...pre, ...args], { env: { ...process.env, VITEST: undefined, VITEST_POOL_ID: undefined, VITEST_WORKER_ID: undefined, QKD_HSM_PIN: undefined, ...o.env }, timeout: 180_000 });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.stdin.end(o.input ?? '');
    p.on('close', (code) => {
      expect(stdout + stderr, `the PIN appeared in the output of hsm ${args.join(' ')}`).not.toContain(TEST_PIN);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

const gate = hsmGate();
const stores: SoftHsmStore[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.remove();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = (prefix: string): string => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};

/** A fresh store with tokens `labels` (PIN TEST_PIN); `env` points processes at it. */
function tokens(...labels: string[]): { store: SoftHsmStore; env: NodeJS.ProcessEnv; at: (label: string) => string[] } {
  const store = SoftHsmStore.create();
  stores.push(store);
  for (const l of labels) store.initToken(l, TEST_PIN);
  return { store, env: { ...store.env, QKD_HSM_PIN: TEST_PIN }, at: (label) => ['--module', softhsmModule()!, '--token', label] };
}

const json = <T>(r: Run): T => {
  expect(r.code, r.stderr).toBeLessThan(2);
  return JSON.parse(r.stdout) as T;
};

describe('qkd-harness hsm: usage errors (no token needed)', () => {
  it('rejects incomplete or contradictory addressing with exit 2 and names what is missing', async () => {
    const runs: Array<[string[], RegExp]> = [
      [['objects'], /--module PATH/],
      [['objects', '--module', '/x.so'], /--token LABEL or --slot ID/],
      [['objects', '--site', 'alice', '--run-id', 'zzzzzz'], /no lab zzzzzz is up/],
      [['objects', '--target', 'p.yaml'], /--target needs --site/],
      [['objects', '--module', '/x.so', '--token', 't', '--target', 'p.yaml', '--site', 'a'], /either --target/],
      [['compare', '--module', '/x.so', '--token', 'a'], /two tokens/],
      [['generate', '--module', '/x.so', '--token', 't', '--type', 'dsa', '--label', 'k'], /--type must be one of rsa, aes, ec/],
      [['encrypt', '--module', '/x.so', '--token', 't'], /--label and\/or --id/],
      [['slots', '--module', '/x.so', '--timeout-ms', 'soon'], /--timeout-ms must be an integer/],
      [['slots', '--module', '/nonexistent/libpkcs11.so'], /does not exist/],
    ];
    const results = await Promise.all(runs.map(([args]) => cli(['hsm', ...args])));
    results.forEach((r, i) => {
      const [args, message] = runs[i]!;
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
    });
  }, 240_000);
});

describe.skipIf(Boolean(gate.skip))(titled('qkd-harness hsm on SoftHSM2 tokens', gate), () => {
  const must = () => {
    if (gate.fail) throw new Error(gate.fail);
  };

  it('slots, tokens and objects list the module, the token and its inventory (human and JSON)', async () => {
    must();
    const t = tokens('cli-list');
    const mod = ['--module', softhsmModule()!];
    const [slots, toks, objs] = await inTurn([() => cli(['hsm', 'slots', ...mod], { env: t.env }), () => cli(['hsm', 'tokens', ...mod, '--json'], { env: t.env }), () => cli(['hsm', 'objects', ...t.at('cli-list')], { env: t.env })]);
    expect(slots.code, slots.stderr).toBe(0);
    expect(slots.stdout).toMatch(/SoftHSM/);
    expect(slots.stdout).toMatch(/^SLOT\s+TOKEN\s+DESCRIPTION/m);
    const tokenList = json<{ tokens: Array<{ label: string; initialized: boolean }> }>(toks).tokens;
    expect(tokenList.filter((x) => x.label === 'cli-list')).toEqual([expect.objectContaining({ initialized: true })]);
    expect(objs.code, objs.stderr).toBe(0);
    expect(objs.stdout).toMatch(/token "cli-list" .*: 0 objects/);
  }, 240_000);

  it('generate, encrypt/decrypt, sign/verify and destroy work end to end, with files and with base64 on stdin/stdout', async () => {
    must();
    const t = tokens('cli-ops');
    const at = t.at('cli-ops');
    const env = t.env;
    const dir = tempDir('qkdh-hsm-cli-');
    const file = (n: string, content?: string) => {
      const p = join(dir, n);
      if (content !== undefined) writeFileSync(p, content);
      return p;
    };

    const rsa = await cli(['hsm', 'generate', ...at, '--type', 'rsa', '--label', 'r', '--id', '01', '--extractable'], { env });
    expect(rsa.code, rsa.stderr).toBe(0);
    expect(rsa.stdout).toMatch(/generated RSA key pair id=01 .*public-key "r" id=01.*private-key "r" id=01/);
    const aes = json<{ key: { id: string; objects: unknown[] } }>(await cli(['hsm', 'generate', ...at, '--type', 'aes', '--label', 'k', '--json'], { env }));
    expect(aes.key.id).toMatch(/^[0-9a-f]{16}$/); // a random ID when none is given
    expect((await cli(['hsm', 'generate', ...at, '--type', 'ec', '--label', 'e', '--id', '03'], { env })).code).toBe(0);
    const again = await cli(['hsm', 'generate', ...at, '--type', 'ec', '--label', 'e', '--id', '03'], { env });
    expect([again.code, again.stderr]).toEqual([2, expect.stringMatching(/already exist/)]);

    const inv = json<{ inventory: Inventory }>(await cli(['hsm', 'objects', ...at, '--json'], { env })).inventory;
    expect(inv.objects.map((o) => `${o.class}/${o.label}/${o.keyType}`).sort()).toEqual(['private-key/e/ec', 'private-key/r/rsa', 'public-key/e/ec', 'public-key/r/rsa', 'secret-key/k/aes']);
    expect(inv.objects.find((o) => o.class === 'private-key' && o.label === 'r')!.protection).toMatchObject({ sensitive: true, extractable: true });
    expect(inv.objects.find((o) => o.label === 'k')).toMatchObject({ fingerprint: expect.stringMatching(/^kcv:[0-9a-f]{6}$/), protection: { sensitive: true, extractable: false } });

    const plain = 'the user\'s plaintext';
    file('plain.txt', plain);
    const data = file('data.bin', 'signed data');
    const [encRsa, encAes, signEc, signRsa] = await inTurn([
      () => cli(['hsm', 'encrypt', ...at, '--label', 'r', '--in', file('plain.txt'), '--out', file('rsa.ct')], { env }),
      () => cli(['hsm', 'encrypt', ...at, '--label', 'k', '--json'], { env, input: Buffer.from(plain).toString('base64') + '\n' }),
      () => cli(['hsm', 'sign', ...at, '--label', 'e', '--in', data, '--out', file('ec.sig')], { env }),
      () => cli(['hsm', 'sign', ...at, '--label', 'r'], { env, input: Buffer.from('signed data').toString('base64') }),
    ]);
    expect(encRsa.code, encRsa.stderr).toBe(0);
    expect(encRsa.stdout).toMatch(/encrypted with CKM_RSA_PKCS_OAEP \(SHA-1, MGF1\) using public-key "r"/);
    expect(readFileSync(file('rsa.ct')).length).toBe(256);
    const aesOut = json<{ mechanism: string; ciphertext: string }>(encAes);
    expect(aesOut.mechanism).toBe('CKM_AES_GCM');
    expect(JSON.stringify(aesOut)).not.toContain(Buffer.from(plain).toString('base64'));
    expect(signEc.code, signEc.stderr).toBe(0);
    expect(readFileSync(file('ec.sig')).length).toBe(64);
    expect(signRsa.code, signRsa.stderr).toBe(0);
    writeFileSync(file('rsa.sig'), Buffer.from(signRsa.stdout.trim(), 'base64'));

    const [decRsa, decAes, verEc, verRsa, badEc] = await inTurn([
      () => cli(['hsm', 'decrypt', ...at, '--label', 'r', '--in', file('rsa.ct')], { env }),
      () => cli(['hsm', 'decrypt', ...at, '--label', 'k', '--out', file('aes.pt')], { env, input: aesOut.ciphertext }),
      () => cli(['hsm', 'verify', ...at, '--label', 'e', '--in', data, '--signature', file('ec.sig')], { env }),
      () => cli(['hsm', 'verify', ...at, '--label', 'r', '--signature', file('rsa.sig'), '--json'], { env, input: Buffer.from('signed data').toString('base64') }),
      () => cli(['hsm', 'verify', ...at, '--label', 'e', '--in', file('other.bin', 'other data'), '--signature', file('ec.sig')], { env }),
    ]);
    expect(decRsa.code, decRsa.stderr).toBe(0);
    expect(Buffer.from(decRsa.stdout.trim(), 'base64').toString()).toBe(plain);
    expect(decAes.code, decAes.stderr).toBe(0);
    expect(readFileSync(file('aes.pt'), 'utf8')).toBe(plain);
    expect([verEc.code, verEc.stdout]).toEqual([0, expect.stringMatching(/signature valid/)]);
    expect(json<{ valid: boolean }>(verRsa).valid).toBe(true);
    expect([badEc.code, badEc.stdout]).toEqual([1, expect.stringMatching(/signature INVALID/)]);

    const ambiguous = await cli(['hsm', 'destroy', ...at, '--label', 'r'], { env });
    expect([ambiguous.code, ambiguous.stderr]).toEqual([2, expect.stringMatching(/2 objects match label "r".*--all/)]);
    const destroyed = await cli(['hsm', 'destroy', ...at, '--label', 'r', '--all'], { env });
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(destroyed.stdout).toMatch(/destroyed on token "cli-ops": .*"r".*"r"/);
    const byClass = await cli(['hsm', 'destroy', ...at, '--label', 'e', '--class', 'public-key'], { env });
    expect(byClass.code, byClass.stderr).toBe(0);
    const left = json<{ inventory: Inventory }>(await cli(['hsm', 'objects', ...at, '--json'], { env })).inventory;
    expect(left.objects.map((o) => `${o.class}/${o.label}`).sort()).toEqual(['private-key/e', 'secret-key/k']);
  }, 300_000);

  it('PINs: --pin is refused without echoing it, a wrong PIN exits 2 unshown, none without a terminal exits 2; --pin-stdin and the environment work', async () => {
    must();
    const t = tokens('cli-pin');
    const at = t.at('cli-pin');
    const base = { SOFTHSM2_CONF: t.store.conf };
    for (const flag of [['--pin', TEST_PIN], [`--pin=${TEST_PIN}`]]) {
      const r = await cli(['hsm', 'objects', ...at, ...flag], { env: base }); // cli() asserts the PIN is not echoed
      expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/PINs are not taken from the command line/)]);
    }
    expect((await cli(['hsm', 'objects', '--help'])).stdout).not.toMatch(/--pin </);
    const wrong = await cli(['hsm', 'objects', ...at], { env: { ...base, QKD_HSM_PIN: 'not-the-pin-0000' } });
    expect([wrong.code, wrong.stderr]).toEqual([2, expect.stringMatching(/C_Login failed: CKR_PIN_INCORRECT/)]);
    expect(wrong.stderr).not.toContain('not-the-pin-0000');
    const none = await cli(['hsm', 'objects', ...at], { env: base });
    expect([none.code, none.stderr]).toEqual([2, expect.stringMatching(/no PIN for cli-pin: set QKD_HSM_PIN/)]);
    const viaStdin = await cli(['hsm', 'encrypt', ...at, '--label', 'nothing', '--pin-stdin'], { env: base, input: `${TEST_PIN}\n${Buffer.from('x').toString('base64')}\n` });
    expect([viaStdin.code, viaStdin.stderr]).toEqual([2, expect.stringMatching(/no public-key or secret-key with label "nothing"/)]); // logged in, then looked for the key
  }, 240_000);

  it.skipIf(!existsSync('/usr/bin/script'))('asks for the PIN on a terminal without echoing it', async () => {
    must();
    const t = tokens('cli-tty');
    // script(1) gives the command a pseudo-terminal; a PIN echoed by the terminal would appear in its output.
    const command = [process.execPath, BIN, 'hsm', 'objects', ...t.at('cli-tty')].map((a) => `'${a}'`).join(' ');
    const p = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { env: { ...process.env, ...t.store.env, QKD_HSM_PIN: undefined, VITEST: undefined } });
    let out = '';
    const prompted = new Promise<void>((resolve) =>
      p.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (/PIN for token cli-tty: /.test(out)) resolve();
      }),
    );
    const code = new Promise<number>((resolve) => p.on('close', (c) => resolve(c ?? -1)));
    await prompted;
    p.stdin.write(`${TEST_PIN}\r`);
    expect(await code, out).toBe(0);
    expect(out).toMatch(/token "cli-tty" .*: 0 objects/);
    expect(out).not.toContain(TEST_PIN);
    p.stdin.end();
  }, 120_000);

  /** A with keys; B a faithful copy made by wrap/unwrap (CKM_AES_KEY_WRAP_PAD), then `spoil` applied. */
  function replicatedPair(a: string, b: string, spoil: (p: { a: Parameters<typeof copyObject>[0]; b: Parameters<typeof copyObject>[1]; copy: (label: string, cls: string, o?: Parameters<typeof copyObject>[5]) => void }) => void = () => {}) {
    const t = tokens(a, b);
    inStore(t.store, [a, b], ({ sessions }) => {
      const [sa, sb] = [sessions[a]!, sessions[b]!];
      generateKey(sa, { kind: 'rsa', label: 'rsa', id: '01', extractable: true });
      generateKey(sa, { kind: 'aes', label: 'aes', id: '02', extractable: true });
      const [ka, kb] = sharedKek(sa, sb);
      const copy = (label: string, cls: string, o = {}) => copyObject(sa, sb, ka!, kb!, { class: cls, label, id: label === 'rsa' ? '01' : '02' }, o);
      spoil({ a: sa, b: sb, copy });
    });
    return t;
  }

  it('compare: two profile sites after a faithful copy are identical (exit 0); the profile PIN and QKD_HSM_PIN_<SITE> come before QKD_HSM_PIN', async () => {
    must();
    const t = replicatedPair('site-a', 'site-b', ({ copy }) => {
      copy('rsa', 'public-key');
      copy('rsa', 'private-key');
      copy('aes', 'secret-key');
    });
    const dir = tempDir('qkdh-hsm-profile-');
    const profile = join(dir, 'target.yaml');
    writeFileSync(
      profile,
      [
        'name: hsm-sites',
        'kmes: { A: { url: "http://127.0.0.1:9", kme_id: KME_A } }',
        'saes: { master: { id: SAE_A, kme: A }, slave: { id: SAE_B, kme: A } }',
        'sites:',
        `  alice: { wireguard: { interface: wg-a }, hsm: { module: ${softhsmModule()}, token: site-a, pin: "\${ALICE_HSM_PIN}" } }`,
        `  bob: { wireguard: { interface: wg-b }, hsm: { module: ${softhsmModule()}, token: site-b } }`,
      ].join('\n'),
    );
    const env = { ...t.store.env, QKD_HSM_PIN: 'wrong-generic-pin', ALICE_HSM_PIN: TEST_PIN, QKD_HSM_PIN_BOB: TEST_PIN };
    const human = await cli(['hsm', 'compare', '--target', profile, '--site', 'alice', '--site', 'bob'], { env });
    expect(human.code, human.stderr + human.stdout).toBe(0);
    expect(human.stdout).toMatch(/A = alice \(token "site-a"\)/);
    expect(human.stdout).toMatch(/identical: 3 objects on A, 3 on B/);
    expect(human.stdout).toMatch(/LOCAL A=yes B=no/); // shown, not counted
    const c = json<Comparison>(await cli(['hsm', 'compare', '--target', profile, '--site', 'alice', '--site', 'bob', '--json'], { env }));
    expect(c).toMatchObject({ identical: true, differences: [] });
    const one = await cli(['hsm', 'objects', '--target', profile, '--site', 'alice'], { env: { ...env, ALICE_HSM_PIN: 'wrong-site-pin' } });
    expect([one.code, one.stderr]).toEqual([2, expect.stringMatching(/CKR_PIN_INCORRECT/)]); // the profile's PIN was used, not QKD_HSM_PIN
  }, 240_000);

  it('compare reports a missing object, a duplicate, a differing fingerprint and a copy unwrapped as non-sensitive (exit 1)', async () => {
    must();
    const t = replicatedPair('ref', 'replica', ({ b, copy }) => {
      copy('rsa', 'public-key');
      copy('rsa', 'private-key', { sensitive: false }); // weaker protection
      copy('aes', 'secret-key', { times: 2 }); // duplicate
      generateKey(b, { kind: 'ec', label: 'ec', id: '03' }); // extra
    });
    // And on A: a key never copied (missing), and one whose namesake on B is another key (fingerprint).
    inStore(t.store, ['ref', 'replica'], ({ sessions }) => {
      generateKey(sessions['ref']!, { kind: 'aes', label: 'lost', id: '04' });
      generateKey(sessions['ref']!, { kind: 'aes', label: 'other', id: '05' });
      generateKey(sessions['replica']!, { kind: 'aes', label: 'other', id: '05' });
    });
    const args = ['hsm', 'compare', '--module', softhsmModule()!, '--token', 'ref', '--token', 'replica'];
    const r = await cli(args, { env: t.env });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/6 differences \(missing 1, extra 2, duplicated 1, fingerprint 1, weaker-protection 1\)/);
    const c = json<Comparison>(await cli([...args, '--json'], { env: t.env }));
    expect(c.identical).toBe(false);
    expect(c.differences.map((d) => `${d.kind} ${d.object.class}/${d.object.label}`).sort()).toEqual([
      'duplicated secret-key/aes',
      'extra private-key/ec',
      'extra public-key/ec',
      'fingerprint secret-key/other',
      'missing secret-key/lost',
      'weaker-protection private-key/rsa',
    ]);
    expect(c.counts.differences).toEqual({ missing: 1, extra: 2, duplicated: 1, fingerprint: 1, 'weaker-protection': 1 });
  }, 240_000);
});

const p11kitGate = existsSync(P11KIT_CLIENT) ? hsmGate() : process.env.QKD_REQUIRE_LAB === '1' ? { fail: `QKD_REQUIRE_LAB=1 but ${P11KIT_CLIENT} is missing (Debian: p11-kit-modules)` } : { skip: `${P11KIT_CLIENT} is missing (Debian: p11-kit-modules)` };

describe.skipIf(Boolean(p11kitGate.skip))(titled('qkd-harness hsm deadline', p11kitGate), () => {
  it('a module that never answers ends the command at --timeout-ms with exit 3, naming the PKCS#11 function, and leaves nothing running', async () => {
    if (p11kitGate.fail) throw new Error(p11kitGate.fail);
    // p11-kit's client module talks to a server through this command; `sleep` never answers.
    const marker = `299.${process.pid}${Date.now() % 100_000}`; // a unique duration to find the helper by
    const r = await cli(['hsm', 'slots', '--module', P11KIT_CLIENT, '--timeout-ms', '1500'], { env: { P11_KIT_SERVER_ADDRESS: `|sleep ${marker}` } });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/no answer from the PKCS#11 module .*p11-kit-client\.so within 1500 ms \(waiting in C_Initialize\)/);
    // The module's helper process went with the killed worker's process group.
    expect(await processes()).not.toContain(marker);
  }, 120_000);

  it('when the command itself is killed (SIGKILL, no chance to clean up), its worker and the module\'s helper go too', async () => {
    if (p11kitGate.fail) throw new Error(p11kitGate.fail);
    const marker = `298.${process.pid}${Date.now() % 100_000}`;
    const p = spawn(process.execPath, [BIN, 'hsm', 'slots', '--module', P11KIT_CLIENT, '--timeout-ms', '600000'], { env: { ...process.env, VITEST: undefined, P11_KIT_SERVER_ADDRESS: `|sleep ${marker}` } });
    const exited = new Promise((resolve) => p.on('close', resolve));
    // Two tsx start-ups (command, then worker) on a loaded machine: a generous bound, not a timing check.
    expect(await waitFor(async () => (await processes()).includes(marker), 90_000), 'the module started its helper').toBe(true);
    p.kill('SIGKILL');
    await exited;
    expect(await waitFor(async () => !(await processes()).includes(marker), 30_000), 'the helper is gone after the command was killed').toBe(true);
  }, 180_000);

  it('a worker whose parent dies right after handing over the request (before its watchdog could look) goes too', async () => {
    if (p11kitGate.fail) throw new Error(p11kitGate.fail);
    // The race of a loaded machine, made certain: the parent SIGKILLs itself as soon as the request is sent.
    const marker = `296.${process.pid}${Date.now() % 100_000}`;
    const parent = [
      `import { spawn } from 'node:child_process';`,
      `import { entryArgv } from ${JSON.stringify(join(import.meta.dirname, '..', 'lab', 'node.ts'))};`,
      `const [node, ...args] = entryArgv('src/hsm/runner-main.ts');`,
      `const c = spawn(node, args, { detached: true, stdio: ['ignore', 'ignore', 'ignore', 'ipc'], serialization: 'advanced', env: { ...process.env, QKD_HSM_RUNNER_PARENT: String(process.pid) } });`,
      `process.stdout.write(String(c.pid));`,
      `c.on('message', (m) => m.type === 'ready' && c.send({ location: { module: ${JSON.stringify(P11KIT_CLIENT)} }, request: { op: 'slots' } }, () => process.kill(process.pid, 'SIGKILL')));`,
    ].join('\n');
    const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', parent], { env: { ...process.env, P11_KIT_SERVER_ADDRESS: `|sleep ${marker}` }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const ended = await new Promise<string | null>((resolve) => p.on('close', (_c, signal) => resolve(signal)));
    expect(ended, 'the parent reached the request and killed itself').toBe('SIGKILL');
    const worker = Number(out);
    expect(worker, 'the parent named its worker').toBeGreaterThan(1);
    // A zombie (an orphan whose reaper has not collected it yet) counts as gone: it runs nothing.
    const alive = () => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${worker}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    const gone = await waitFor(async () => !alive() && !(await processes()).includes(marker), 30_000);
    if (!gone && alive()) process.kill(-worker, 'SIGKILL'); // leave nothing behind when the check fails
    expect(gone, 'the worker and the module\'s helper are gone after the parent died').toBe(true);
  }, 180_000);
});

/** Polls `check` every 200 ms until it holds or `ms` pass (a generous bound, not a timing assertion). */
async function waitFor(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return check();
}
