// The package as a vendor installs it: `npm pack`, installed into an empty prefix, `qkd-harness` run from
// an unrelated directory. tsx is removed from the installed tree first, so the CLI must run compiled:
// a fallback to the TypeScript sources (dist/ missing from the tarball, or judged stale) fails here
// instead of passing slowly.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../lab/node.ts';
import { clientFor, closeClients } from '../target/clients.ts';
import { loadTargetProfile } from '../target/load.ts';
import type { MockLine } from '../testing/cli.ts';

const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
const tmp = mkdtempSync(join(tmpdir(), 'qkd-package-'));
const prefix = join(tmp, 'prefix');
const elsewhere = join(tmp, 'cwd'); // no package.json, no node_modules: nothing to fall back on
const bin = join(prefix, 'node_modules', '.bin', 'qkd-harness');
let packed: string[] = [];

// Without vitest's variables, a loader the caller may have set (NODE_OPTIONS=--import tsx), or the
// settings `npm test` passes down (npm_config_*, npm_lifecycle_*) to the npm this starts.
const env = (): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: undefined, VITEST: undefined, VITEST_POOL_ID: undefined, VITEST_WORKER_ID: undefined };
  for (const k of Object.keys(e)) if (k.startsWith('npm_')) delete e[k];
  return e;
};

function npm(args: string[], cwd: string): SpawnSyncReturns<string> {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', env: env(), timeout: 400_000 });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n').slice(-5).join(' | ')}`);
  return r;
}

beforeAll(() => {
  mkdirSync(prefix);
  mkdirSync(elsewhere);
  // `npm pack` runs `prepare` (the incremental build), as it does for a vendor's pack.
  const out = npm(['pack', '--json', '--pack-destination', tmp], REPO_ROOT).stdout;
  // The JSON array, after whatever the build printed.
  const [pack] = JSON.parse(out.slice(out.search(/^\[/m))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  packed = pack!.files.map((f) => f.path);
  // --ignore-scripts: the dependencies' install scripts (pkcs11js's native build: the install took 17 s
  // with them, 12 s without) are not what this checks, and `npm ci` runs them for the clone.
  npm(['install', '--prefix', prefix, '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock', join(tmp, pack!.filename)], elsewhere);
  rmSync(join(prefix, 'node_modules', 'tsx'), { recursive: true, force: true });
  rmSync(join(prefix, 'node_modules', 'qkd-harness', 'node_modules', 'tsx'), { recursive: true, force: true });
}, 600_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the packed package', () => {
  it('holds the compiled CLI, the sources and suites vitest runs, and no run output or tests of its own', () => {
    expect(packed).toEqual(expect.arrayContaining(['bin/qkd-harness.js', 'dist/src/cli/main.js', 'dist/src/cli/main.js.map', 'dist/.build-stamp', 'src/util/entry.js', 'suites/etsi014/5.2-get-status.test.ts', 'vitest.commands.config.ts', 'specs/etsi-qkd-014.yaml', 'package.json']));
    expect(packed.filter((p) => /^(reports|node_modules|\.lab-state|\.scratch)\//.test(p) || /\.tsbuildinfo$/.test(p) || (/^(src|mocks)\//.test(p) && p.endsWith('.test.ts')))).toEqual([]);
    // No loader left to fall back on.
    expect(existsSync(join(prefix, 'node_modules', 'tsx'))).toBe(false);
  });

  it('`qkd-harness --version` from a clean directory prints the package version', () => {
    const r = spawnSync(bin, ['--version'], { cwd: elsewhere, encoding: 'utf8', env: env(), timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('`qkd-harness mock` serves a Status over mutual TLS and exits 0 on SIGTERM', async () => {
    const child = spawn(bin, ['mock', '--quiet', '--pki', join(tmp, 'pki')], { cwd: elsewhere, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        void exited.then((code) => reject(new Error(`mock exited with ${code} before its first line: ${stderr.trim()}`)));
      });
      const profile = loadTargetProfile((JSON.parse(line) as MockLine).profile);
      const master = clientFor(profile, 'master')!;
      try {
        const status = await master.client.status(profile.saes!.slave.id);
        expect(status.status).toBe(200);
        expect(status.data).toMatchObject({ source_KME_ID: 'KME_A', target_KME_ID: 'KME_B', master_SAE_ID: 'SAE_A', slave_SAE_ID: 'SAE_B' });
      } finally {
        await closeClients([master]);
      }
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
  }, 120_000);
});
