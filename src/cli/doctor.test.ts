// `qkd-harness doctor` and `--version`: every prerequisite checked and named with its Debian package; a missing tool is
// reported (exit 3), never passed over.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Check } from '../doctor/checks.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'qkd-harness.js');

function doctor(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(process.execPath, [BIN, 'doctor', ...args], { encoding: 'utf8', env, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('qkd-harness doctor', () => {
  it('checks Node, root, tun, the lab tools, SoftHSM2, the binding and chromium, each with what is needed', () => {
    const r = doctor(['--json']);
    const checks = JSON.parse(r.stdout) as Check[];
    expect(checks.map((c) => c.name)).toEqual(expect.arrayContaining(['Node.js', 'root', '/dev/net/tun', 'wireguard-go', 'wg (wireguard-tools)', 'SoftHSM2', 'PKCS#11 binding (pkcs11js)', 'Chromium (headless report check)']));
    for (const c of checks) expect(c.detail.length).toBeGreaterThan(0);
    // Exit 0 exactly when nothing but the optional browser check is missing.
    expect(r.code).toBe(checks.every((c) => c.ok || c.needed === 'report-check') ? 0 : 3);
  });

  it('reports a tool that is not on PATH as missing, names its package, and exits 3', () => {
    // Only /nonexistent on PATH (the check also looks in /usr/sbin and /sbin, not in /usr/bin where wg lives).
    const r = doctor([], { ...process.env, PATH: '/nonexistent' });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^MISSING\s+wg \(wireguard-tools\)\s+wg is missing \(Debian package wireguard-tools\)/m);
    expect(r.stdout).toMatch(/missing Debian packages: .*wireguard-tools/);
  });
});

describe('qkd-harness --version', () => {
  it("prints the package's version and exits 0", () => {
    const r = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe((JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version);
  });
});
