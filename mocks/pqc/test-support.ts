// Shared by the PQC emulator's tests: two emulators on loopback (alice initiates), their files in a
// temporary directory, everything stopped and removed after each test, and a deadline-bounded wait.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach } from 'vitest';
import { PqcEmulator, type PqcEmulatorOptions, type PqcEvent } from './emulator.ts';
import { scaledTiming } from './timing.ts';

export type Site = 'alice' | 'bob';

/** The events an emulator logged so far (none when the file is missing). */
export function events(file: string): PqcEvent[] {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as PqcEvent);
  } catch {
    return [];
  }
}

/**
 * Waits for what the emulators produce on their own timers: a generous deadline (a loaded 2-core
 * machine), never a fixed sleep; returns as soon as `find` succeeds. @throws after `ms`.
 */
export async function until<T>(what: string, find: () => T | undefined | false, ms: number): Promise<T> {
  for (const end = Date.now() + ms; ; await sleep(10)) {
    const found = find();
    if (found) return found;
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
  }
}

/**
 * Registers the clean-up (afterEach) of one test file and returns its factories; `firstPort` is where the
 * file's ports start (below the ephemeral range, apart from other files').
 */
export function emulatorTests(firstPort: number) {
  const running: PqcEmulator[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((e) => e.stop()));
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  let port = firstPort;
  const tempDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'qkdh-pqc-'));
    dirs.push(d);
    return d;
  };
  /** Alice (initiator) and bob at `scale` × Rosenpass timing, started; `extra` adds per-site options (faults, control). */
  const pair = (scale: number, extra: (site: Site, dir: string) => Partial<PqcEmulatorOptions> = () => ({})) => {
    const dir = tempDir();
    const [pa, pb] = [port++, port++];
    const mk = (name: Site, listen: number, peer: number) => {
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
        ...extra(name, dir),
      });
      e.start();
      running.push(e);
      return { e, key: join(dir, `${name}.key`), events: join(dir, `${name}.events`) };
    };
    return { dir, alice: mk('alice', pa, pb), bob: mk('bob', pb, pa) };
  };
  return { tempDir, pair };
}
