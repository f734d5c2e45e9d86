// The lab and e2e commands' usage errors (exit 2, one sentence) and idempotent down — no lab needed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './node.ts';
import { labUnavailable } from './prerequisites.ts';

const stateDir = mkdtempSync(join(tmpdir(), 'qkdh-state-test-'));
function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin/qkd-harness.js'), ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, QKDH_LAB_STATE_DIR: stateDir, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('lab and e2e command line', () => {
  it('rejects bad options with exit 2 and names the option', () => {
    const runs = [
      [['lab', 'up', '--key-control', 'arnika'], /--key-control must be builtin or exec:COMMAND/],
      [['lab', 'up', '--fault', 'carol:kms-outage'], /--fault must be SITE:NAME/],
      [['lab', 'up', '--fault', 'bob:meteor'], /unknown fault "meteor"/],
      [['lab', 'up', '--pqc', 'maybe'], /--pqc must be on or off/],
      [['lab', 'up', '--hsm', 'maybe'], /--hsm must be on, off or auto/],
      [['lab', 'up', '--hsm-fault', 'bob:drop-deletes'], /"drop-deletes" belongs to the primary agent \(alice\)/],
      [['lab', 'up', '--hsm-fault', 'alice:meteor'], /--hsm-fault: unknown fault "meteor"/],
      [['lab', 'up', '--hsm', 'off', '--hsm-fault', 'alice:drop-deletes'], /--hsm-fault needs the lab's HSM part/],
      [['lab', 'fault', 'kms-nap', '--site', 'bob', '--for', '2'], /unknown environmental fault "kms-nap"/],
      [['lab', 'fault', 'kms-hang', '--site', 'bob', '--for', '0'], /--for must be a number of seconds above 0/],
      [['e2e', '--lab', '--target', 'x.yaml'], /either --lab or --target/],
      [['e2e', '--target', join(stateDir, 'missing.yaml')], /cannot be read/],
    ] as const;
    for (const [args, message] of runs) {
      const r = cli([...args]);
      if (r.code === 3) continue; // no lab possible here: checked before the options (lab up only)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });

  it('lab up --hsm on without SoftHSM2 is a prerequisite error (exit 3) that says what is missing', () => {
    // A PATH with the lab's tools but no softhsm2-util: SoftHSM2 looks uninstalled.
    const bin = mkdtempSync(join(tmpdir(), 'qkdh-path-'));
    for (const tool of ['wg', 'wireguard-go']) symlinkSync(`/usr/bin/${tool}`, join(bin, tool));
    try {
      const r = cli(['lab', 'up', '--hsm', 'on'], { PATH: bin });
      if (labUnavailable()) return expect(r.code).toBe(3); // no lab possible here at all: said first
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/--hsm on: .*softhsm2-util is not on PATH \(Debian: apt-get install softhsm2\)/);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('lab down with nothing recorded is a no-op; lab status says no lab is up', () => {
    const d = cli(['lab', 'down']);
    expect(d.code, d.stderr).toBe(0);
    expect(JSON.parse(d.stdout)).toMatchObject({ runIds: [] });
    const s = cli(['lab', 'status']);
    expect(s.code).toBe(3);
    expect(s.stderr).toMatch(/no lab is up/);
    rmSync(stateDir, { recursive: true, force: true });
  });
});
