// The PQC emulator's run-time control file (the lab's pqc-stale / pqc-stop, src/lab/env-faults.ts):
// `stale` replaces the site's key at once by a random one marked stale and stops exchanging, `stop` stops
// exchanging with key_out untouched; when the window is over both sites share a fresh key again at once.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultsFile, writeAtomic } from '../kme/faults-file.ts';
import { PQC_CONTROL_FAULTS, PqcEmulator, type PqcControlFault, type PqcEvent } from './emulator.ts';
import { scaledTiming } from './timing.ts';

const running: PqcEmulator[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
let port = 24_500 + Math.floor(Math.random() * 4_000); // below the ephemeral range, apart from emulator.test.ts
const events = (f: string): PqcEvent[] => {
  try {
    return readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as PqcEvent);
  } catch {
    return [];
  }
};
const read = (f: string): string | undefined => {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return undefined;
  }
};

async function until<T>(what: string, find: () => T | undefined | false, ms = 20_000): Promise<T> {
  for (const end = Date.now() + ms; ; await sleep(10)) {
    const found = find();
    if (found) return found;
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
  }
}

/** Alice (initiator) and bob; bob re-reads `control` (his faults file). */
function pair(scale: number) {
  const dir = mkdtempSync(join(tmpdir(), 'qkdh-pqc-ctl-'));
  dirs.push(dir);
  const control = join(dir, 'bob-faults.json');
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
      out: () => undefined,
      ...(name === 'bob' ? { control: new FaultsFile<PqcControlFault>(control, PQC_CONTROL_FAULTS, () => undefined) } : {}),
    });
    e.start();
    running.push(e);
    return { key: join(dir, `${name}.key`), events: join(dir, `${name}.events`) };
  };
  const alice = mk('alice', pa, pb);
  const bob = mk('bob', pb, pa);
  const agree = () => read(alice.key) !== undefined && read(alice.key) === read(bob.key) && read(alice.key);
  const windowFor = (name: PqcControlFault, ms: number) => {
    const from = Date.now();
    writeAtomic(control, JSON.stringify({ id: name, [name]: { from, until: from + ms } }));
  };
  return { alice, bob, agree, windowFor };
}

const exchanged = (f: string) => events(f).filter((e) => e.why === 'exchanged').length;

describe('PQC emulator control file', { timeout: 60_000 }, () => {
  it('stale: the key is replaced at once by a stale random key; after the window both share a fresh key', async () => {
    const { alice, bob, agree, windowFor } = pair(0.05); // rekey 6 s: no scheduled exchange inside the test
    const first = await until('the first exchange', agree);
    windowFor('stale', 1_500);
    await until('bob marks his key stale', () => events(bob.events).some((e) => e.why === 'stale' && /pqc-stale/.test(e.cause ?? '')));
    const stale = read(bob.key);
    expect(stale).not.toBe(first);
    expect(stale).not.toBe(read(alice.key));
    const fresh = await until('both share a fresh key after the window', () => agree() !== first && agree() !== stale && agree());
    expect(fresh).toHaveLength(44);
    expect(events(bob.events).filter((e) => e.why === 'stale')).toHaveLength(1); // once per window
  });

  it('stop: no exchange for a window longer than the rekey time, key_out untouched; fresh shared key after it', async () => {
    const { alice, bob, agree, windowFor } = pair(0.02); // rekey 2.4 s / 2.6 s, reject after 3.6 s
    const first = await until('the first exchange', agree);
    const counted = [exchanged(alice.events), exchanged(bob.events)];
    windowFor('stop', 3_000);
    for (const end = Date.now() + 2_900; Date.now() < end; await sleep(100)) expect(read(bob.key)).toBe(first);
    expect([exchanged(alice.events), exchanged(bob.events)]).toEqual(counted);
    const fresh = await until('both share a fresh key after the window', () => agree() !== first && agree());
    expect(fresh).toHaveLength(44);
    expect(events(bob.events).some((e) => e.why === 'stale')).toBe(false);
  });
});
