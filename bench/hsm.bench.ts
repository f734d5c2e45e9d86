// Replication throughput and latency of the HSM replication agent (mocks/hsm-sync/): N AES-256 keys and a
// few RSA-2048 key pairs made on token A, replicated by the real agents to token B — over 127.0.0.1
// between two SoftHSM2 stores (default), or through the two-site lab's WireGuard tunnel (`--lab`, root).
// Prints latency p50/p95 per object (the primary's put sent → acknowledged, per key type; and key
// created → acknowledged, which adds the scan interval and queueing) and objects per second, against the stand-in
// measured on the reference deployment's tunnel (~21 ms p50 / 36 ms p95 per AES key), as ratios.
// No assertion: a report.
//
//   npx tsx bench/hsm.bench.ts [AES keys, default 200] [RSA key pairs, default 4] [--lab]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateKey } from '../src/hsm/keygen.ts';
import { Pkcs11Module } from '../src/hsm/module.ts';
import { SoftHsmStore, softhsmModule } from '../src/hsm/softhsm.ts';
import { TokenSession } from '../src/hsm/token.ts';
import { entryArgv } from '../src/lab/node.ts';

const args = process.argv.slice(2);
const useLab = args.includes('--lab');
const [nAes = 200, nRsa = 4] = args.filter((a) => !a.startsWith('--')).map(Number);
const REFERENCE = { p50: 21, p95: 36 }; // ms per AES key over the reference deployment's tunnel (stand-in measured there)
const DEADLINE_MS = 120_000;
const PIN = `bench-${process.pid}`;

interface Ack {
  t: number;
  ev: string;
  name?: { class: string; label: string };
  ms?: number;
  result?: string;
}

/** Opens the token `label` of the store `conf` in this process, runs fn, closes. */
function onToken<T>(conf: string, label: string, pin: string, fn: (s: TokenSession) => T): T {
  const previous = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = conf;
  const mod = Pkcs11Module.open(softhsmModule()!);
  try {
    const s = TokenSession.open(mod, { token: label });
    try {
      s.login(pin);
      return fn(s);
    } finally {
      s.close();
    }
  } finally {
    mod.close();
    if (previous === undefined) delete process.env.SOFTHSM2_CONF;
    else process.env.SOFTHSM2_CONF = previous;
  }
}

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
};

/** A site: where its token is, and how to read the primary's ack events. */
interface Bench {
  conf: string;
  token: string;
  pin: string;
  acks(): Ack[];
  /** The primary's status file (docs/hsm-sync.md), if readable. */
  status(): { state?: string; kek?: { kcv: string | null } } | undefined;
  stop(): Promise<void>;
}

/** Keys are made only once the agents have a session and a KEK: the ceremony is not part of the measurement. */
async function synced(b: Bench): Promise<void> {
  const end = Date.now() + 90_000;
  for (;;) {
    const st = b.status();
    if (st?.state === 'idle' && st.kek?.kcv) return;
    if (Date.now() > end) throw new Error(`the primary agent is not idle with a KEK within 90 s (state ${st?.state ?? 'unknown'})`);
    await sleep(100);
  }
}

async function loopback(): Promise<Bench> {
  const dir = mkdtempSync(join(tmpdir(), 'qkdh-hsm-bench-'));
  const [a, b] = [SoftHsmStore.create(dir, 'a-'), SoftHsmStore.create(dir, 'b-')];
  a.initToken('bench-a', PIN);
  b.initToken('bench-b', PIN);
  const children: ChildProcess[] = [];
  let primaryLog = '';
  const start = (store: SoftHsmStore, argv: string[], onErr?: (s: string) => void): Promise<{ listen?: string[] }> => {
    const [node, ...rest] = entryArgv('mocks/hsm-sync/main.ts', argv);
    const c = spawn(node!, rest, { env: { ...process.env, ...store.env, QKD_HSM_PIN: PIN, QKDH_HSM_SYNC_FAULT: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(c);
    let err = '';
    c.stderr!.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-2000);
      onErr?.(d.toString());
    });
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`agent not ready within 90 s: ${err}`)), 90_000);
      let out = '';
      c.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) {
          clearTimeout(t);
          resolve(JSON.parse(out.slice(0, out.indexOf('\n'))) as { listen?: string[] });
        }
      });
      c.once('exit', (code) => reject(new Error(`agent exited (${code}): ${err}`)));
    });
  };
  const replica = await start(b, ['--role', 'replica', '--site', 'bob', '--token', 'bench-b', '--listen', '127.0.0.1:0']);
  const statusFile = join(dir, 'primary.json');
  await start(a, ['--role', 'primary', '--site', 'alice', '--token', 'bench-a', '--peer', replica.listen![0]!, '--scan-ms', '100', '--status', statusFile], (s) => (primaryLog += s));
  return {
    conf: a.conf,
    token: 'bench-a',
    pin: PIN,
    acks: () => parseEvents(primaryLog),
    status: () => {
      try {
        return JSON.parse(readFileSync(statusFile, 'utf8')) as ReturnType<Bench['status']>;
      } catch {
        return undefined;
      }
    },
    async stop() {
      for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
      await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function lab(): Promise<Bench> {
  const { Lab } = await import('../src/lab/lab.ts');
  const l = await Lab.up({ hsm: true });
  const address = l.hsmAddress('alice');
  // The lab's primary logs its events to a file (sites.alice.hsm.sync.log); its ack events are read there.
  const logFile = l.info.sites.alice.hsm?.sync.log;
  if (!logFile) throw new Error('the lab came up without HSM tokens (SoftHSM2 or pkcs11js missing?)');
  return {
    conf: address.env.SOFTHSM2_CONF!,
    token: address.location.token!,
    pin: l.hsmPin('alice'),
    acks: () => {
      try {
        return parseEvents(readFileSync(logFile, 'utf8'));
      } catch {
        return [];
      }
    },
    status: () => l.hsmSyncStatus('alice') as ReturnType<Bench['status']>,
    async stop() {
      await l.down();
    },
  };
}

function parseEvents(text: string): Ack[] {
  return text
    .split('\n')
    .filter((l) => l.includes('"ev":"ack"'))
    .map((l) => {
      try {
        return JSON.parse(l) as Ack;
      } catch {
        return undefined;
      }
    })
    .filter((x): x is Ack => x !== undefined);
}

interface Phase {
  /** The primary's put sent → acknowledged, per object (ms). */
  putAck: number[];
  /** Key created on A → acknowledged by B, per object (ms; scan interval and queueing behind earlier keys included). */
  createdAck: number[];
  objects: number;
  /** From the first key's creation to the last acknowledgement (s). */
  seconds: number;
  /** How long making the keys on A took (s; part of `seconds`). */
  generatedS: number;
  complete: boolean;
}

/** Makes the keys on A, waits until each is acknowledged; returns per-class latencies and the wall time. */
async function phase(b: Bench, kind: 'aes' | 'rsa', n: number, prefix: string): Promise<Phase> {
  const created = new Map<string, number>();
  const t0 = Date.now();
  onToken(b.conf, b.token, b.pin, (s) => {
    for (let i = 0; i < n; i++) {
      const label = `${prefix}-${i}`;
      generateKey(s, { kind, label, id: (0x1000 + i).toString(16), extractable: true });
      created.set(label, Date.now());
    }
  });
  const generatedS = (Date.now() - t0) / 1000;
  const objects = kind === 'aes' ? n : 2 * n; // an RSA pair is two objects
  const mine = () => b.acks().filter((e) => e.name && created.has(e.name.label) && e.result !== 'rejected');
  let acks = mine();
  while (acks.length < objects && Date.now() - t0 < DEADLINE_MS) {
    await sleep(50);
    acks = mine();
  }
  const last = Math.max(...acks.map((e) => e.t));
  return { putAck: acks.map((e) => e.ms!).filter((x) => typeof x === 'number'), createdAck: acks.map((e) => e.t - created.get(e.name!.label)!), objects: acks.length, seconds: (last - t0) / 1000, generatedS, complete: acks.length >= objects };
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const bench = useLab ? await lab() : await loopback();
try {
  await synced(bench);
  const aes = await phase(bench, 'aes', nAes, `bench-aes-${Date.now()}`);
  const rsa = nRsa > 0 ? await phase(bench, 'rsa', nRsa, `bench-rsa-${Date.now()}`) : undefined;
  const where = useLab ? 'lab tunnel (WireGuard between namespaces)' : '127.0.0.1 between two SoftHSM2 stores';
  console.log(`HSM replication over ${where}: ${nAes} AES-256 keys, ${nRsa} RSA-2048 key pairs`);
  const line = (name: string, r: Phase, ref?: typeof REFERENCE) => {
    const [p50, p95] = [quantile(r.putAck, 0.5), quantile(r.putAck, 0.95)];
    console.log(`${name.padEnd(8)}: put→ack p50 ${fmt(p50)} ms, p95 ${fmt(p95)} ms${ref ? ` (reference ${ref.p50}/${ref.p95} ms; ratio ours/reference p50 ${(p50 / ref.p50).toFixed(2)}, p95 ${(p95 / ref.p95).toFixed(2)})` : ''}`);
    console.log(`${''.padEnd(8)}  created→ack p50 ${fmt(quantile(r.createdAck, 0.5))} ms, p95 ${fmt(quantile(r.createdAck, 0.95))} ms (scan interval and queueing included)`);
    console.log(`${''.padEnd(8)}  ${r.objects} objects in ${r.seconds.toFixed(2)} s from the first key made (making them took ${r.generatedS.toFixed(2)} s) = ${(r.objects / r.seconds).toFixed(1)} objects/s${ref ? ` (reference ≈ ${(1000 / ref.p50).toFixed(0)} objects/s = 1000 / p50, one at a time; ratio ${(r.objects / r.seconds / (1000 / ref.p50)).toFixed(2)})` : ''}${r.complete ? '' : ' — INCOMPLETE within the deadline'}`);
  };
  line('AES-256', aes, REFERENCE);
  if (rsa) line('RSA-2048', rsa);
  console.log('ratios < 1 for latency and > 1 for objects/s mean faster than the reference stand-in; no assertion.');
} finally {
  await bench.stop();
}
