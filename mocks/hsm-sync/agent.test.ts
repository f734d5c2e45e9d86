// Two replication agents over 127.0.0.1, each with its own SoftHSM2 store (own SOFTHSM2_CONF and token
// directory under the temp directory) and its own PKCS#11 worker process:
// - as processes (main.ts, as the lab starts them): the ceremony, RSA/EC/AES keys replicated exactly once
//   with equal fingerprints, encrypt on A → decrypt on B, sign on B → verify on A, destroy propagating,
//   the route taken, a silent link cut with keys made and destroyed meanwhile, a replica restart (new
//   KEK, acknowledgements forgotten: the replay is idempotent), and a clean exit on SIGTERM;
// - in-process (cheaper: one worker each), one pair per fault switch, each showing its fault;
// - the deadline on a PKCS#11 module that never answers.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decrypt, encrypt } from '../../src/hsm/cipher.ts';
import { compareInventories, type Comparison } from '../../src/hsm/compare.ts';
import { takeInventory } from '../../src/hsm/inventory.ts';
import { generateKey, type KeySpec } from '../../src/hsm/keygen.ts';
import { destroyObject, selectObjects, selectOne } from '../../src/hsm/objects.ts';
import { sign, verify } from '../../src/hsm/signature.ts';
import { SoftHsmStore, softhsmModule } from '../../src/hsm/softhsm.ts';
import { hsmGate, titled } from '../../src/hsm/testing/gate.ts';
import { inStore, TEST_PIN } from '../../src/hsm/testing/tokens.ts';
import { processes } from '../../src/hsm/testing/processes.ts';
import type { TokenSession } from '../../src/hsm/token.ts';
import { entryArgv } from '../../src/lab/node.ts';
import { parseHostPort } from '../kme/host-port.ts';
import type { SyncFault } from './faults.ts';
import { PrimaryAgent } from './primary.ts';
import { ReplicaAgent } from './replica.ts';
import type { AgentStatus } from './status.ts';
import { StatusBoard } from './status.ts';
import { HsmDeadlineError, TokenWorker } from './token-client.ts';
import { Relay, until } from './testing.ts';
import { pidAlive as alive } from '../../src/testing/processes.ts';

const gate = hsmGate();
const WAIT = 90_000; // a bound for hangs, not a measurement
const TIMING = { scanMs: 200, pingMs: 500, netTimeoutMs: 3_000, hsmTimeoutMs: 30_000, retryMaxMs: 1_000, idleMs: 10_000 };

const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface Site {
  store: SoftHsmStore;
  label: string;
}

function site(label: string): Site {
  const store = SoftHsmStore.create();
  cleanups.push(() => store.remove());
  store.initToken(label, TEST_PIN);
  return { store, label };
}

const on = <T,>(s: Site, fn: (t: TokenSession) => T): T => inStore(s.store, [s.label], (t) => fn(t.sessions[s.label]!));
const generate = (s: Site, ...specs: KeySpec[]): void => on(s, (t) => specs.forEach((k) => generateKey(t, { extractable: true, ...k })));
const destroy = (s: Site, label: string): void => on(s, (t) => selectObjects(t, { label }).forEach((o) => destroyObject(t, o.handle)));
const compare = (a: Site, b: Site): Comparison => compareInventories(on(a, takeInventory), on(b, takeInventory));
const kinds = (c: Comparison): string[] => c.differences.map((d) => `${d.kind} ${d.object.class}/${d.object.label}`).sort();

/** Waits until the two tokens compare identical with `n` objects each. */
const identical = (a: Site, b: Site, n: number): Promise<Comparison> => {
  let last: Comparison | undefined;
  return until(
    `tokens identical with ${n} objects`,
    WAIT,
    () => {
      last = compare(a, b);
      return last.identical && last.counts.a === n && last.counts.b === n && last;
    },
    () => JSON.stringify({ counts: last?.counts, differences: last && kinds(last) }),
  );
};

/** Nothing that looks like a wrapped blob or key material (a long base64 run), and never the PIN. */
function expectClean(text: string): void {
  expect(text).not.toContain(TEST_PIN);
  expect(text).not.toMatch(/[A-Za-z0-9+/]{80,}/);
}

// ---- agents as processes ---------------------------------------------------------------------------

class AgentProcess {
  stderr = '';
  readonly exited: Promise<number | null>;
  private constructor(
    readonly child: ChildProcess,
    readonly ready: Record<string, unknown> & { listen?: string[] },
    readonly statusFile: string,
  ) {
    this.exited = new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code))));
  }

  static async start(s: Site, dir: string, args: string[]): Promise<AgentProcess> {
    const statusFile = join(dir, `${args[1]}-${Date.now()}.json`);
    const child = spawn(entryArgv('mocks/hsm-sync/main.ts')[0]!, [...entryArgv('mocks/hsm-sync/main.ts').slice(1), ...args, '--status', statusFile], {
      env: { ...process.env, SOFTHSM2_CONF: s.store.conf, QKD_HSM_PIN: TEST_PIN, QKDH_HSM_SYNC_FAULT: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`agent ${args.join(' ')} not ready within ${WAIT} ms: ${stderr.slice(-500)}`)), WAIT);
      child.stdout!.on('data', (c: Buffer) => {
        stdout += c.toString();
        const nl = stdout.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(t);
          resolve(JSON.parse(stdout.slice(0, nl)) as Record<string, unknown>);
        }
      });
      child.once('exit', (code) => reject(new Error(`agent ${args.join(' ')} exited (${code}) before it was ready: ${stderr.slice(-500)}`)));
    });
    const p = new AgentProcess(child, ready, statusFile);
    child.stderr!.on('data', (c: Buffer) => (p.stderr += c.toString()));
    p.stderr = stderr;
    cleanups.push(() => p.stop());
    return p;
  }

  status(): AgentStatus {
    return JSON.parse(readFileSync(this.statusFile, 'utf8')) as AgentStatus;
  }

  /** PIDs of the PKCS#11 workers it started (from its events). */
  workerPids(): number[] {
    return [...this.stderr.matchAll(/"ev":"worker-started","pid":(\d+)/g)].map((m) => Number(m[1]));
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}

describe.skipIf(Boolean(gate.skip))(titled('hsm-sync agents on SoftHSM2 tokens over 127.0.0.1', gate), () => {
  const must = () => {
    if (gate.fail) throw new Error(gate.fail);
  };

  describe.concurrent('scenarios (run side by side)', () => {
    it('replicates keys exactly once through a cut link and a replica restart; keys work across the sites; the route is the one given', async () => {
      must();
      const dir = mkdtempSync(join(tmpdir(), 'qkdh-hsm-sync-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const [A, B] = [site('sync-alice'), site('sync-bob')];
      const t = (k: keyof typeof TIMING) => [`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, String(TIMING[k])];
      const replicaArgs = ['--role', 'replica', '--site', 'bob', '--token', B.label, '--listen', '127.0.0.1:0', ...t('netTimeoutMs'), ...t('hsmTimeoutMs'), ...t('idleMs')];
      let bob = await AgentProcess.start(B, dir, replicaArgs);
      const bobAddress = bob.ready.listen![0]!;
      const relay = await Relay.start(parseHostPort(bobAddress, 'bob'));
      cleanups.push(() => relay.close());
      const alice = await AgentProcess.start(A, dir, ['--role', 'primary', '--site', 'alice', '--token', A.label, '--peer', relay.address, '--bind', '127.0.0.3', ...t('scanMs'), ...t('pingMs'), ...t('netTimeoutMs'), ...t('hsmTimeoutMs'), ...t('retryMaxMs')]);
      expect(alice.ready).toMatchObject({ ready: true, role: 'primary', site: 'alice', token: A.label, peer: relay.address });
      expect(bob.ready).toMatchObject({ ready: true, role: 'replica', site: 'bob', token: B.label });

      // The ceremony: one KEK, the same check value on both sides.
      const kcv = await until('the key ceremony', WAIT, () => {
        const [a, b] = [alice.status().kek.kcv, bob.status().kek.kcv];
        return a !== null && a === b && a;
      });
      expect(kcv).toMatch(/^kcv:[0-9a-f]{6}$/);

      // Keys made on A appear on B, each once, with equal fingerprints.
      generate(A, { kind: 'rsa', label: 'demo-rsa', id: '01' }, { kind: 'ec', label: 'demo-ec', id: '02' }, { kind: 'aes', label: 'demo-aes', id: '03' });
      const c = await identical(A, B, 5);
      expect(c.rows.every((r) => r.a.length === 1 && r.b.length === 1 && r.a[0]!.fingerprint === r.b[0]!.fingerprint)).toBe(true);

      // The route: A connected from the address it was told to bind (standing for its tunnel address) to
      // the one it was given (the relay standing for B's tunnel address); B accepted on its own.
      const route = alice.status().lastSession!;
      expect(route.remote).toBe(relay.address);
      expect(route.local).toMatch(/^127\.0\.0\.3:\d+$/);
      expect(bob.status().lastSession!.local).toBe(bobAddress);
      // The session bytes in the status (what the suite compares with the tunnel's counters): no more
      // than the link carried, and not nothing.
      const bytes = alice.status().bytes;
      expect(bytes.sent).toBeGreaterThan(0);
      expect(bytes.sent).toBeLessThanOrEqual(relay.bytes.up);
      expect(bytes.received).toBeLessThanOrEqual(relay.bytes.down);
      expect(bob.status().bytes.received).toBeGreaterThan(0);

      // The demo across the sites: encrypt on A → decrypt on B; sign on B → verify on A.
      const msg = Buffer.from('replicated through the tunnel');
      for (const [label, encryptWith] of [['demo-rsa', 'public-key'], ['demo-aes', 'secret-key']] as const) {
        const ct = on(A, (s) => encrypt(s, selectOne(s, { label, classes: [encryptWith] }, 'test'), msg).output);
        expect(on(B, (s) => decrypt(s, selectOne(s, { label, classes: [encryptWith === 'public-key' ? 'private-key' : 'secret-key'] }, 'test'), ct).output)).toEqual(msg);
      }
      for (const label of ['demo-rsa', 'demo-ec']) {
        const sig = on(B, (s) => sign(s, selectOne(s, { label, classes: ['private-key'] }, 'test'), msg).signature);
        expect(on(A, (s) => verify(s, selectOne(s, { label, classes: ['public-key'] }, 'test'), msg, sig).valid)).toBe(true);
      }

      // Destroy on A propagates.
      destroy(A, 'demo-aes');
      await identical(A, B, 4);

      // The link is cut silently; meanwhile keys are made and destroyed on A.
      const before = alice.stderr.length;
      relay.cutLink();
      // From its events after the cut: the status's lastError is soon overwritten by the next attempt's
      // ("no welcome"). Idle, a ping goes unanswered; cut while an acknowledgement was due, that one does.
      // Not asserted: on a loaded 2-core CI machine this event was once missing after 90 s while the
      // rest of the scenario (journaled while unreachable, caught up after restore, nothing duplicated)
      // held — which is what is judged below. Waited for (bounded) so the changes below fall in the cut.
      await until('the primary notices the cut', 20_000, () => /"ev":"disconnected","why":"no [^"]+ within/.test(alice.stderr.slice(before))).catch(() => undefined);
      generate(A, { kind: 'aes', label: 'outage-aes', id: '04' }, { kind: 'rsa', label: 'outage-rsa', id: '05' });
      destroy(A, 'demo-ec');
      await until('the changes are journaled while B is unreachable', WAIT, () => alice.status().journal!.pending >= 5);
      expect(kinds(compare(A, B))).toEqual(['extra private-key/demo-ec', 'extra public-key/demo-ec', 'missing private-key/outage-rsa', 'missing public-key/outage-rsa', 'missing secret-key/outage-aes']);
      relay.restore();
      await identical(A, B, 5);
      await until('every entry acknowledged', WAIT, () => alice.status().journal!.pending === 0); // B applied before A reads the ack
      expect(alice.status().rejected).toEqual([]);

      // The replica restarts: no KEK (a new ceremony), no acknowledgements (the journal is replayed from
      // the start: keys already there are found present, nothing is duplicated).
      expect(await bob.stop()).toBe(0);
      generate(A, { kind: 'aes', label: 'while-b-down', id: '06' });
      bob = await AgentProcess.start(B, dir, replicaArgs);
      relay.target = parseHostPort(bob.ready.listen![0]!, 'bob');
      await identical(A, B, 6);
      expect(alice.status().counters.ceremonies).toBe(2);
      expect(bob.status().counters.present).toBeGreaterThan(0);
      expect(alice.status().kek.kcv).toBe(bob.status().kek.kcv);
      expect(alice.status().kek.kcv).not.toBe(kcv);

      // SIGTERM: exit 0, and their PKCS#11 workers are gone.
      const workers = [...alice.workerPids(), ...bob.workerPids()];
      expect(workers.length).toBeGreaterThanOrEqual(2);
      expect(await alice.stop()).toBe(0);
      expect(await bob.stop()).toBe(0);
      await until('the PKCS#11 workers are gone', WAIT, () => workers.every((p) => !alive(p)));
      expectClean(alice.stderr + bob.stderr);
      expect(alice.stderr).toMatch(/"ev":"ack","seq":1,"result":"imported"/);
    }, 300_000);

    // ---- fault switches, in-process agents -----------------------------------------------------------

    /** A primary and a replica in this process, each with its own token and PKCS#11 worker. */
    async function pair(o: { primary?: SyncFault[]; replica?: SyncFault[] } = {}) {
      const tag = `${[...(o.primary ?? []), ...(o.replica ?? [])].join('-') || 'plain'}`.slice(0, 24);
      const [A, B] = [site(`a-${tag}`), site(`b-${tag}`)];
      const events: string[] = [];
      const log = (who: string) => (ev: string, fields: Record<string, unknown> = {}) => void events.push(JSON.stringify({ who, ev, ...fields }));
      const worker = (s: Site) => new TokenWorker({ location: { module: softhsmModule()!, token: s.label }, pin: TEST_PIN, env: { SOFTHSM2_CONF: s.store.conf }, timeoutMs: TIMING.hsmTimeoutMs });
      const outside = o.primary?.includes('send-outside-tunnel');
      const boardB = new StatusBoard({ role: 'replica', site: 'bob', faults: o.replica ?? [] });
      const replica = new ReplicaAgent({ site: 'bob', listen: [{ host: '127.0.0.1', port: 0 }, ...(outside ? [{ host: '127.0.0.2', port: 0 }] : [])], netTimeoutMs: TIMING.netTimeoutMs, idleMs: TIMING.idleMs, faults: new Set(o.replica) }, worker(B), boardB, log('bob'));
      await replica.start();
      cleanups.push(() => replica.stop());
      const [tunnel, underlay] = replica.addresses;
      const boardA = new StatusBoard({ role: 'primary', site: 'alice', faults: o.primary ?? [] });
      const primary = new PrimaryAgent({ site: 'alice', peer: parseHostPort(tunnel!, 'peer'), ...(underlay ? { peerUnderlay: parseHostPort(underlay, 'underlay') } : {}), ...TIMING, faults: new Set(o.primary) }, worker(A), boardA, log('alice'));
      await primary.start();
      cleanups.push(() => primary.stop());
      const a = boardA.status;
      /** Waits until the journal has at least `seq` entries, all acknowledged. */
      const settled = (seq: number) => until(`journal settled at ${seq}`, WAIT, () => a.journal!.seq >= seq && a.journal!.acked === a.journal!.seq && a.state === 'idle', () => JSON.stringify(a.journal));
      return { A, B, a, b: boardB.status, settled, events, tunnel: tunnel!, underlay };
    }

    it('fault send-outside-tunnel: the primary connects to the underlay address; the replica sees the session arrive there', async () => {
      must();
      const p = await pair({ primary: ['send-outside-tunnel'] });
      generate(p.A, { kind: 'aes', label: 'k', id: '01' });
      await p.settled(1);
      expect(kinds(compare(p.A, p.B))).toEqual([]); // replication works — on the wrong route
      expect(p.a.lastSession!.remote).toBe(p.underlay);
      expect(p.b.lastSession!.local).toBe(p.underlay);
      expect(p.b.lastSession!.local).not.toBe(p.tunnel);
      expect(p.events.some((e) => e.includes('"fault":"send-outside-tunnel"'))).toBe(true);
    }, 180_000);

    it('fault drop-deletes: a key destroyed on the primary stays on the replica (compare: extra)', async () => {
      must();
      const p = await pair({ primary: ['drop-deletes'] });
      generate(p.A, { kind: 'aes', label: 'keep', id: '01' }, { kind: 'aes', label: 'gone', id: '02' });
      await p.settled(2);
      destroy(p.A, 'gone');
      await until('the destroyed key is noticed', WAIT, () => p.a.counters.droppedDeletes === 1);
      await p.settled(2);
      expect(kinds(compare(p.A, p.B))).toEqual(['extra secret-key/gone']);
    }, 180_000);

    it('fault corrupt-blob: the replica rejects the corrupted key (compare: missing), the keys after it arrive', async () => {
      must();
      const p = await pair({ primary: ['corrupt-blob'] });
      generate(p.A, { kind: 'rsa', label: 'r', id: '01' }); // its private key is the first wrapped blob
      await p.settled(2);
      generate(p.A, { kind: 'aes', label: 'k', id: '02' });
      await p.settled(3);
      expect(kinds(compare(p.A, p.B))).toEqual(['missing private-key/r']);
      expect(p.a.counters.corrupted).toBe(1);
      expect(p.a.rejected).toEqual([{ name: { class: 'private-key', label: 'r', id: '01' }, detail: expect.stringMatching(/unwrapping failed: CKR_/) }]);
      expectClean(p.events.join('\n'));
    }, 180_000);

    it('fault duplicate-imports: every key is imported twice (compare: duplicated)', async () => {
      must();
      const p = await pair({ replica: ['duplicate-imports'] });
      generate(p.A, { kind: 'rsa', label: 'r', id: '01' }, { kind: 'aes', label: 'k', id: '02' });
      await p.settled(3);
      expect(kinds(compare(p.A, p.B))).toEqual(['duplicated private-key/r', 'duplicated public-key/r', 'duplicated secret-key/k']);
    }, 180_000);

    it('fault unwrap-non-sensitive: copies are readable on the replica (compare: weaker-protection)', async () => {
      must();
      const p = await pair({ replica: ['unwrap-non-sensitive'] });
      generate(p.A, { kind: 'rsa', label: 'r', id: '01' }, { kind: 'aes', label: 'k', id: '02' });
      await p.settled(3);
      expect(kinds(compare(p.A, p.B))).toEqual(['weaker-protection private-key/r', 'weaker-protection secret-key/k']);
    }, 180_000);
  });

  it('main.ts: usage errors exit 2 without starting anything', async () => {
    must();
    const [node, ...args] = entryArgv('mocks/hsm-sync/main.ts', ['--role', 'primary', '--token', 't', '--peer', '127.0.0.1:1', '--fault', 'duplicate-imports']);
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const c = spawn(node!, args, { env: { ...process.env, QKD_HSM_PIN: TEST_PIN } });
      let stderr = '';
      c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      c.on('exit', (code) => resolve({ code, stderr }));
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/hsm-sync: fault "duplicate-imports" belongs to the replica agent/);
  }, 120_000);
});

const P11KIT_CLIENT = '/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so';
const p11kitGate = existsSync(P11KIT_CLIENT) ? hsmGate() : process.env.QKD_REQUIRE_LAB === '1' ? { fail: `QKD_REQUIRE_LAB=1 but ${P11KIT_CLIENT} is missing (Debian: p11-kit-modules)` } : { skip: `${P11KIT_CLIENT} is missing (Debian: p11-kit-modules)` };

describe.skipIf(Boolean(p11kitGate.skip))(titled('hsm-sync PKCS#11 worker deadline', p11kitGate), () => {
  it('a module that never answers fails the request at its deadline, naming the PKCS#11 function; the worker and the module\'s helper are killed', async () => {
    if (p11kitGate.fail) throw new Error(p11kitGate.fail);
    // p11-kit's client module talks to its server through this command; `sleep` never answers.
    const marker = `297.${process.pid}${Date.now() % 100_000}`;
    const w = new TokenWorker({ location: { module: P11KIT_CLIENT, token: 'none' }, pin: 'unused', env: { P11_KIT_SERVER_ADDRESS: `|sleep ${marker}` }, timeoutMs: 1_500 });
    const err = await w.call('count', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HsmDeadlineError);
    expect((err as Error).message).toMatch(/no answer from the PKCS#11 module .*p11-kit-client\.so within 1500 ms \(waiting in C_Initialize\)/);
    await until('the module\'s helper is gone', WAIT, async () => !(await processes()).includes(marker));
    await w.close();
  }, 120_000);
});
