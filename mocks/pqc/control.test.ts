// The PQC emulator's run-time control file (the lab's pqc-stale / pqc-stop, src/lab/env-faults.ts):
// `stale` replaces the site's key at once by a random one marked stale and stops exchanging, `stop` stops
// exchanging with key_out untouched; when the window is over both sites share a fresh key again at once.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { FaultsFile, writeAtomic } from '../kme/faults-file.ts';
import { PQC_CONTROL_FAULTS, type PqcControlFault } from './emulator.ts';
import { emulatorTests, events, until as untilWithin } from './test-support.ts';

const { pair: emulatorPair } = emulatorTests(24_500 + Math.floor(Math.random() * 4_000)); // apart from emulator.test.ts
const until = <T>(what: string, find: () => T | undefined | false): Promise<T> => untilWithin(what, find, 20_000);
const read = (f: string): string | undefined => {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return undefined;
  }
};

/** Alice (initiator) and bob; bob re-reads `control` (his faults file). */
function pair(scale: number) {
  const controlIn = (dir: string) => join(dir, 'bob-faults.json');
  const { dir, alice, bob } = emulatorPair(scale, (site, d) => (site === 'bob' ? { control: new FaultsFile<PqcControlFault>(controlIn(d), PQC_CONTROL_FAULTS, () => undefined) } : {}));
  const control = controlIn(dir);
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
