// The PQC emulator: a real ML-KEM-768 exchange between two peers, Rosenpass-format key files (mode
// 0600, 44 base64 characters, no newline), rekey and stale-on-expiry timing, and its fault switches.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { parsePqcKeyFile } from '../../src/psk/index.ts';
import { FaultPlan } from '../keyctl/faults.ts';
import { writeKeyFile } from './keyfile.ts';
import { emulatorTests, events, until as untilWithin } from './test-support.ts';
import { scaledTiming, ROSENPASS } from './timing.ts';

const { tempDir, pair: emulatorPair } = emulatorTests(28_500 + Math.floor(Math.random() * 4_000));
const until = <T>(what: string, find: () => T | undefined | false): Promise<T> => untilWithin(what, find, 30_000);
const pair = (scale: number, faults: { alice?: FaultPlan; bob?: FaultPlan } = {}) => emulatorPair(scale, (site) => ({ faults: faults[site] }));

describe('PQC emulator (Rosenpass stand-in)', { timeout: 90_000 }, () => {
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
    // rekey 3.6 s / 3.9 s, reject 5.4 s: the 300 ms between the two rekeys is what "the responder rekeys
    // first" rests on, so it must outlast a loaded machine's timer delays (at 0.01 it was 100 ms).
    const { alice, bob } = pair(0.03);
    const exchanged = (f: string) => events(f).filter((e) => e.why === 'exchanged');
    await until('two exchanges on both sites', () => exchanged(alice.events).length >= 2 && exchanged(bob.events).length >= 2);
    const a = exchanged(alice.events);
    const b = exchanged(bob.events);
    expect(b.map((e) => e.fp).slice(0, 2)).toEqual(a.map((e) => e.fp).slice(0, 2));
    expect(a[0]!.role).toBe('initiator');
    expect(a[1]!.role).toBe('responder'); // bob (responder of epoch 1) starts epoch 2 after 120 s·scale
    const ka = parsePqcKeyFile(readFileSync(alice.key));
    expect(ka).toHaveLength(32);
    await bob.e.stop(); // the peer goes away: alice's key expires
    const stoppedAt = Date.now();
    const staleAfterStop = () => events(alice.events).filter((e) => e.why === 'stale' && e.t >= stoppedAt);
    await until('alice marks its key stale', () => staleAfterStop().length > 0);
    await sleep(200); // a second expiry would come at once (the next tick): there must be none
    expect(staleAfterStop().length).toBe(1);
    expect(parsePqcKeyFile(readFileSync(alice.key))).toHaveLength(32);
  });

  it('half-written-pqc fault: a reader sees a truncated key file for a while', async () => {
    const { alice, bob } = pair(1, { bob: new FaultPlan(new Set(['half-written-pqc']), 0, Infinity) });
    (bob.e.o as { halfWrittenMs?: number }).halfWrittenMs = 1_500;
    const read = (f: string) => {
      try {
        return readFileSync(f, 'utf8');
      } catch {
        return undefined; // not created yet
      }
    };
    await until('a reader sees the half-written file', () => read(bob.key)?.length === 22);
    await until('the file is complete and equals the peer’s', () => read(bob.key)?.length === 44 && read(bob.key) === read(alice.key));
  });

  it('stale-pqc fault: one site replaces its key by a random one marked stale', async () => {
    // The fault starts right after the first exchange (as the lab's @signal does), not at a fixed time that a
    // loaded machine could reach before the exchange.
    const plan = new FaultPlan(new Set(['stale-pqc']), Infinity, Infinity);
    const { alice, bob } = pair(0.05, { bob: plan });
    await until('the first exchange', () => events(bob.events).length > 0);
    plan.arm();
    await until('bob marks its key stale', () => events(bob.events).some((e) => e.why === 'stale'));
    expect(events(bob.events).map((e) => e.why)).toEqual(['exchanged', 'stale']);
    expect(readFileSync(bob.key, 'utf8')).not.toBe(readFileSync(alice.key, 'utf8'));
  });
});
