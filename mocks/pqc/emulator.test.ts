// The PQC emulator: a real ML-KEM-768 exchange between two peers, Rosenpass-format key files (mode
// 0600, 44 base64 characters, no newline), rekey and stale-on-expiry timing, and its fault switches.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePqcKeyFile } from '../../src/psk/index.ts';
import { FaultPlan } from '../keyctl/faults.ts';
import { PqcEmulator, type PqcEvent } from './emulator.ts';
import { writeKeyFile } from './keyfile.ts';
import { scaledTiming, ROSENPASS } from './timing.ts';

const running: PqcEmulator[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'qkdh-pqc-'));
  dirs.push(d);
  return d;
};
let port = 28_500 + Math.floor(Math.random() * 4_000); // below the ephemeral range (32768+)
const events = (f: string): PqcEvent[] => {
  try {
    return readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as PqcEvent);
  } catch {
    return [];
  }
};

function pair(scale: number, faults: { alice?: FaultPlan; bob?: FaultPlan } = {}) {
  const dir = tempDir();
  const [pa, pb] = [port++, port++];
  const mk = (name: 'alice' | 'bob', listen: number, peer: number) => {
    const e = new PqcEmulator({
      name,
      peerName: name === 'alice' ? 'bob' : 'alice',
      listen: { host: '127.0.0.1', port: listen },
      peer: { host: '127.0.0.1', port: peer },
      keyOut: join(dir, `${name}.key`),
      events: join(dir, `${name}.events`),
      initiator: name === 'alice',
      timing: scaledTiming(scale),
      faults: faults[name],
      out: () => undefined,
    });
    e.start();
    running.push(e);
    return { e, key: join(dir, `${name}.key`), events: join(dir, `${name}.events`) };
  };
  return { alice: mk('alice', pa, pb), bob: mk('bob', pb, pa) };
}

describe('PQC emulator (Rosenpass stand-in)', () => {
  it('scales Rosenpass timing: 120 s / 130 s rekey, 180 s reject', () => {
    expect(ROSENPASS).toEqual({ rekeyResponderS: 120, rekeyInitiatorS: 130, rejectAfterS: 180 });
    expect(scaledTiming(0.1)).toMatchObject({ rekeyResponderMs: 12_000, rekeyInitiatorMs: 13_000, rejectAfterMs: 18_000 });
  });

  it('writes key files truncate-then-write, 0600, no newline', async () => {
    const f = join(tempDir(), 'k');
    const key = new Uint8Array(32).fill(7);
    const writing = writeKeyFile(f, key, 300);
    await sleep(100);
    expect(readFileSync(f, 'utf8')).toHaveLength(22); // what a reader sees mid-write
    await writing;
    expect(readFileSync(f, 'utf8')).toBe(Buffer.from(key).toString('base64'));
    expect(statSync(f).mode & 0o777).toBe(0o600);
  });

  it('both sites get the same key per epoch; the responder rekeys first; expiry writes a stale random key', async () => {
    const { alice, bob } = pair(0.01); // rekey 1.2 s / 1.3 s, reject 1.8 s
    await sleep(2_900);
    const a = events(alice.events).filter((e) => e.why === 'exchanged');
    const b = events(bob.events).filter((e) => e.why === 'exchanged');
    expect(a.length).toBeGreaterThanOrEqual(2);
    expect(b.map((e) => e.fp).slice(0, 2)).toEqual(a.map((e) => e.fp).slice(0, 2));
    expect(a[0]!.role).toBe('initiator');
    expect(a[1]!.role).toBe('responder'); // bob (responder of epoch 1) starts epoch 2 after 120 s·scale
    const ka = parsePqcKeyFile(readFileSync(alice.key));
    expect(ka).toHaveLength(32);
    await bob.e.stop(); // the peer goes away: alice's key expires
    await sleep(2_200);
    const stale = events(alice.events).filter((e) => e.why === 'stale');
    expect(stale.length).toBe(1);
    expect(parsePqcKeyFile(readFileSync(alice.key))).toHaveLength(32);
  });

  it('half-written-pqc fault: a reader sees a truncated key file for a while', async () => {
    const { alice, bob } = pair(1, { bob: new FaultPlan(new Set(['half-written-pqc']), 0, Infinity) });
    (bob.e.o as { halfWrittenMs?: number }).halfWrittenMs = 800;
    let sawHalf = false;
    for (let i = 0; i < 40 && !sawHalf; i++) {
      await sleep(25);
      try {
        sawHalf = readFileSync(bob.key, 'utf8').length === 22;
      } catch {
        /* not created yet */
      }
    }
    expect(sawHalf).toBe(true);
    await sleep(1_000);
    expect(readFileSync(bob.key, 'utf8')).toBe(readFileSync(alice.key, 'utf8'));
  });

  it('stale-pqc fault: one site replaces its key by a random one marked stale', async () => {
    const { alice, bob } = pair(0.05, { bob: new FaultPlan(new Set(['stale-pqc']), 800, Infinity) });
    await sleep(1_400);
    expect(events(bob.events).map((e) => e.why)).toEqual(['exchanged', 'stale']);
    expect(readFileSync(bob.key, 'utf8')).not.toBe(readFileSync(alice.key, 'utf8'));
  });
});
