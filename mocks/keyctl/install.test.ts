// No PSK ever rests on disk or on a command line: installPsk hands it to `wg` through a pipe.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { labUnavailable } from '../../src/lab/prerequisites.ts';
import { generateKeyPair, randomKey, waitForSocket } from '../../src/lab/wireguard.ts';
import { InstallError, installPsk } from './install.ts';

const why = labUnavailable();
if (why && process.env.QKD_REQUIRE_LAB === '1') throw new Error(`QKD_REQUIRE_LAB=1 but the lab cannot run: ${why}`);

/** Every `qkdh-psk-*` entry under the temp dir (two levels deep). */
function pskFiles(): string[] {
  const hits: string[] = [];
  const walk = (dir: string, depth: number) => {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      if (n.startsWith('qkdh-psk-')) hits.push(join(dir, n));
      if (depth > 0) walk(join(dir, n), depth - 1);
    }
  };
  walk(tmpdir(), 1);
  return hits;
}

/** Pids whose command line carries `secret`. */
function onCommandLines(secret: string): string[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(secret);
      } catch {
        return false;
      }
    });
}

const scratch = mkdtempSync(join(tmpdir(), 'qkdh-install-test-'));
const baseline = pskFiles(); // whatever other programs left: not ours to judge
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('installPsk', () => {
  it('a wg that hangs is killed at the deadline (InstallError, no key in the text); meanwhile the key is in no file and on no command line', async () => {
    const wg = join(scratch, 'wg-hangs');
    writeFileSync(wg, '#!/bin/sh\nsleep 30\n');
    chmodSync(wg, 0o755);
    const psk = randomKey();
    const install = installPsk(wg, 'qt0', generateKeyPair().publicKey, psk, 1_500).then(
      () => undefined,
      (e: unknown) => e,
    );
    await sleep(500); // mid-install
    expect(pskFiles()).toEqual(baseline);
    expect(onCommandLines(psk)).toEqual([]);
    const err = await install;
    expect(err).toBeInstanceOf(InstallError);
    expect(String(err)).toMatch(/killed by SIGKILL/);
    expect(String(err)).not.toContain(psk);
    expect(spawnSync('pgrep', ['-f', wg]).status).toBe(1); // the whole group went
  });

  it.skipIf(Boolean(why))('installs the PSK into a real wireguard-go interface through stdin; no qkdh-psk-* file before, during or after', { timeout: 30_000 }, async () => {
    const id = Math.random().toString(36).slice(2, 8);
    const ns = `qkdhtest-${id}`;
    const iface = `qt${id}`;
    spawnSync('ip', ['netns', 'add', ns]);
    const wgGo = spawn('ip', ['netns', 'exec', ns, 'wireguard-go', '-f', iface], { stdio: 'ignore', detached: true });
    try {
      await waitForSocket(iface);
      const peer = generateKeyPair().publicKey;
      const psk = randomKey();
      await installPsk('wg', iface, peer, psk);
      const shown = spawnSync('wg', ['show', iface, 'preshared-keys'], { encoding: 'utf8' }).stdout;
      expect(shown.trim()).toBe(`${peer}\t${psk}`);
      expect(pskFiles()).toEqual(baseline);
      // A wrong key is refused by wg (exit ≠ 0): the failure is reported without the key.
      const bad = await installPsk('wg', iface, peer, 'not-a-key').then(() => undefined, (e: unknown) => e);
      expect(bad).toBeInstanceOf(InstallError);
    } finally {
      try {
        process.kill(-wgGo.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
      await sleep(200);
      spawnSync('ip', ['netns', 'del', ns]);
      rmSync(`/var/run/wireguard/${iface}.sock`, { force: true });
    }
    expect(pskFiles()).toEqual(baseline);
  });
});
