// The target a KPI run measures: a profile file, or (default) the mock KME pair started as a child
// process (`qkd-harness mock`), so the mock's CPU and event loop never share the harness's and the
// figures measure the KMEs, not the harness. The embedded mock runs at the reference deployment's key
// rate (14,000 keys/hour) with a full pool, and allows exhaustion.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PACKAGE_ROOT } from '../util/entry.js';
import { loadTargetProfile, type LoadedProfile } from '../target/load.ts';
import { CannotRunError } from '../cli/exit.ts';
import type { Endpoint } from './engine.ts';
import type { Roles } from './operations.ts';

const BIN = join(PACKAGE_ROOT, 'bin', 'qkd-harness.js');

/** The embedded mock's configuration (docs/kpi.md): the reference key rate and a full pool of 100,000 keys. */
export const EMBEDDED_MOCK_CONFIG = 'key_rate_per_hour: 14000\nprefill: 100000\nmax_key_count: 100000\n';

export interface KpiTarget {
  profile: LoadedProfile;
  name: string;
  close(): Promise<void>;
}

/** Starts `qkd-harness mock` as a child and loads the profile it writes; the child is stopped by close(). */
export async function startEmbeddedMock(startMs = 60_000): Promise<KpiTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'qkd-kpi-mock-'));
  writeFileSync(join(dir, 'mock.yaml'), EMBEDDED_MOCK_CONFIG);
  const child: ChildProcess = spawn(process.execPath, [BIN, 'mock', '--config', join(dir, 'mock.yaml'), '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, VITEST: undefined } });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((ok) => child.once('exit', ok));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const line = await new Promise<string>((ok, fail) => {
      const timer = setTimeout(() => fail(new CannotRunError(`the embedded mock KME pair did not start within ${startMs / 1000} s`)), startMs);
      createInterface({ input: child.stdout! }).once('line', (l) => {
        clearTimeout(timer);
        ok(l);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        fail(new CannotRunError(`the embedded mock KME pair exited with ${code} before it was ready: ${stderr.trim().split('\n').pop() ?? ''}`));
      });
    });
    const info = JSON.parse(line) as { profile: string };
    const profile = loadTargetProfile(info.profile);
    return { profile: { ...profile, name: 'embedded mock KME pair' }, name: 'embedded mock KME pair', close: stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export function openProfile(file: string): KpiTarget {
  const profile = loadTargetProfile(file); // exit 2 on a bad profile, before anything runs
  return { profile, name: profile.name, close: async () => undefined };
}

/** The master (at its KME) and slave (at its KME) endpoints of a profile, TLS files read once. */
export function rolesOf(p: LoadedProfile): Roles {
  const ep = (role: 'master' | 'slave'): Endpoint => {
    const sae = p.saes[role];
    const kme = p.kmes[sae.kme]!;
    return {
      url: kme.url,
      saeId: sae.id,
      ...(kme.ca ? { ca: readFileSync(kme.ca) } : {}),
      ...(sae.cert ? { cert: readFileSync(sae.cert) } : {}),
      ...(sae.key ? { key: readFileSync(sae.key) } : {}),
      ...(kme.servername ? { servername: kme.servername } : {}),
    };
  };
  return { master: ep('master'), slave: ep('slave') };
}
