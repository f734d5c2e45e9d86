// `qkd-harness e2e`: the key control under test is parsed as `lab up` parses it; a target profile needs
// only `sites` and is refused in words; a lab run under an external key control prints per-suite figures
// and writes summary.json, junit.xml and allure-results, skipping (with the reason) what needs our agent.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keyControlFromEnv, keyControlsFrom, parseInterval, parseMode } from '../lab/key-control-options.ts';
import { REPO_ROOT } from '../lab/node.ts';
import { loadSitesProfile, loadTargetProfile } from '../target/load.ts';
import { labGate } from '../../suites/e2e/fixture.ts';
import type { E2eSummary } from './e2e.ts';
import { scanForKeys } from '../report/leak-scan.ts';
import { ESCROW_ENV, readEscrow } from '../secrets/escrow.ts';

const BIN = join(REPO_ROOT, 'bin', 'qkd-harness.js');
const tmp = mkdtempSync(join(tmpdir(), 'qkdh-e2e-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], timeoutMs = 60_000, extraEnv: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    // VITEST unset: the CLI starts its own vitest; QKD_E2E_* of this process must not leak into it.
    const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('QKD_E2E_') && k !== 'VITEST' && k !== 'VITEST_WORKER_ID' && k !== 'VITEST_POOL_ID')), ...extraEnv };
    const p = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let err = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    p.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    const timer = setTimeout(() => process.kill(-p.pid!, 'SIGTERM'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

const write = (name: string, text: string): string => {
  const f = join(tmp, name);
  writeFileSync(f, text);
  return f;
};

const SITES_ONLY = `name: wg-only
sites:
  alice: { exec: [ssh, alice], wireguard: { interface: wg0 } }
  bob: { exec: [ssh, bob], wireguard: { interface: wg0 }, probe: { host: 10.0.0.1, port: 7 } }
`;

describe('e2e command line', () => {
  it('key-control options are one parser for `lab up`, `e2e` and the suites (per site over both, errors name the flag or variable)', () => {
    expect(keyControlsFrom({ keyControl: 'exec:/bin/arnika', keyControlBob: 'builtin' })).toEqual({ alice: { kind: 'exec', command: '/bin/arnika' }, bob: { kind: 'builtin' } });
    expect(keyControlsFrom({})).toEqual({});
    expect(() => keyControlsFrom({ keyControlAlice: 'exec:' })).toThrow(/--key-control-alice must be builtin or exec:COMMAND, got "exec:"/);
    expect(() => parseMode('Sometimes')).toThrow(/--mode must be one of .*AtLeastQkdRequired/);
    expect(() => parseInterval('0')).toThrow(/--interval must be a positive number of seconds/);
    expect(() => parseInterval('')).toThrow(/--interval/);
    expect(keyControlFromEnv({ QKD_E2E_KEY_CONTROL: 'exec:x', QKD_E2E_MODE: 'QkdAndPqcRequired' })).toEqual({ keyControl: { alice: { kind: 'exec', command: 'x' }, bob: { kind: 'exec', command: 'x' } }, mode: 'QkdAndPqcRequired' });
    expect(() => keyControlFromEnv({ QKD_E2E_KEY_CONTROL_BOB: 'arnika' })).toThrow(/QKD_E2E_KEY_CONTROL_BOB must be builtin or exec:COMMAND/);
  });

  it('`lab up` and `e2e` refuse the same bad key control with the same sentence (exit 2)', async () => {
    const [lab, e2e] = await Promise.all([run(['lab', 'up', '--key-control', 'arnika', '--quiet']), run(['e2e', '--key-control', 'arnika'])]);
    for (const r of [lab, e2e]) {
      // `lab up` may first say the lab cannot run here (exit 3) where there is no root: then only e2e is judged.
      if (r === lab && r.code === 3) continue;
      expect(r.code, r.err).toBe(2);
      expect(r.err).toContain('--key-control must be builtin or exec:COMMAND, got "arnika"');
    }
    const mode = await run(['e2e', '--mode', 'Sometimes']);
    expect(mode.code).toBe(2);
    expect(mode.err).toMatch(/--mode must be one of/);
    const both = await run(['e2e', '--target', write('t1.yaml', SITES_ONLY), '--key-control', 'builtin']);
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/a target runs its own key control/);
    const suite = await run(['e2e', '--suite', 'nope']);
    expect(suite.code).toBe(2);
    expect(suite.err).toMatch(/--suite: no suite "nope" \(known: .*rekey-alignment/);
  });

  it('a target for e2e needs only `sites` (no kmes, saes or certificate files); conformance still needs them', () => {
    const p = loadSitesProfile(write('sites.yaml', SITES_ONLY));
    expect(Object.keys(p.sites)).toEqual(['alice', 'bob']);
    expect(() => loadTargetProfile(join(tmp, 'sites.yaml'))).toThrow(/field kmes/);
    // kmes/saes may be there (one profile for both commands): their files are not opened.
    const shared = `${SITES_ONLY}kmes: { a: { url: https://kme-a:8443, ca: missing-ca.pem } }\nsaes: { master: { id: A, kme: a, cert: no.pem, key: no.key }, slave: { id: B, kme: a } }\n`;
    expect(loadSitesProfile(write('shared.yaml', shared)).name).toBe('wg-only');
  });

  it('a bad sites profile is refused in words naming file, line and field, never in validator text', () => {
    const cases: Array<[string, RegExp]> = [
      ['name: x\n', /field sites is missing/],
      ['name: x\nsites:\n  alice: { wireguard: { interface: wg0 } }\n', /field sites needs two sites/],
      ['name: x\nsites:\n  alice: { wireguard: {} }\n  bob: { wireguard: { interface: wg0 } }\n', /:3:\d+: field sites\.alice\.wireguard\.interface is missing/],
      ['name: x\nsites:\n  alice: { wireguard: { interface: wg0 }, exec: ssh }\n  bob: { wireguard: { interface: wg0 } }\n', /field sites\.alice\.exec must be a list/],
      ['name: x\nsites:\n  alice: { wireguard: { interface: wg0 }, probe: { host: h, prot: 7 } }\n  bob: { wireguard: { interface: wg0 } }\n', /field sites\.alice\.probe\.port is missing/],
      ['name: x\nsites:\n  alice: { wireguard: { interface: wg0 }, exce: [] }\n  bob: { wireguard: { interface: wg0 } }\n', /field sites\.alice has a field it does not know: exce \(a typo\?\)/],
    ];
    for (const [i, [text, want]] of cases.entries()) {
      const f = write(`bad${i}.yaml`, text);
      let msg = '';
      try {
        loadSitesProfile(f);
      } catch (err) {
        msg = (err as Error).message;
      }
      expect(msg).toMatch(want);
      expect(msg).toContain(f);
      expect(msg).not.toMatch(/Invalid input|expected \w+, received/);
    }
  });
});

const gate = labGate();

describe.skipIf(Boolean(gate.skip))(`e2e --lab under an external key control${gate.skip ? ` (skipped: ${gate.skip})` : ''}`, () => {
  it(
    'runs the chosen suites, prints rotations, skew and outage per suite, skips what needs our agent with the reason, and writes summary.json, junit.xml and allure-results',
    async () => {
      if (gate.fail) throw new Error(gate.fail);
      const reports = join(tmp, 'reports');
      const escrow = join(tmp, 'escrow'); // every key of the run (KMS deliveries, PQC key files, installed PSKs)
      const r = await run(['e2e', '--lab', '--key-control', 'exec:mocks/keyctl/wrapper.sh', '--rotations', '1', '--suite', 'psk-agreement', '--suite', 'faults', '--reports', reports], 280_000, { [ESCROW_ENV]: escrow });
      expect(r.code, `${r.out.slice(-3000)}\n${r.err.slice(-2000)}`).toBe(0);
      // The secret scan of a run with the lab: none of its keys in any file it wrote or on its console.
      const keys = readEscrow(escrow);
      expect(keys.length, 'the scan needs the keys of the run').toBeGreaterThan(8);
      expect([...scanForKeys(reports, keys), ...scanForKeys({ console: r.out + r.err }, keys)]).toEqual([]);
      const summary = JSON.parse(readFileSync(join(reports, 'summary.json'), 'utf8')) as E2eSummary;
      expect(summary.keyControl).toEqual({ alice: 'exec:mocks/keyctl/wrapper.sh', bob: 'exec:mocks/keyctl/wrapper.sh' });
      expect(existsSync(join(reports, 'junit.xml'))).toBe(true);
      expect(existsSync(join(reports, 'allure-results'))).toBe(true);
      const by = (file: string) => summary.suites.find((s) => s.file === file)!;
      const s = by('psk-agreement.test.ts');
      expect(s.outcome, JSON.stringify(s)).toBe('pass');
      // --rotations 1 in the lab: the rotation that brings the tunnel up and one more, not a tail's worth.
      expect(s.figures!.rotations).toBeGreaterThanOrEqual(2);
      expect(s.figures!.rotations).toBeLessThanOrEqual(3);
      expect(s.figures!.skewMs.max).toBeTypeOf('number');
      expect(s.figures!.outageMs.max).toBeTypeOf('number');
      // Both sites ran the wrapper, not the built-in agent: wg/14 checked the command given.
      expect(by('psk-agreement.test.ts').tests.find((t) => t.requirement === 'wg/14')!.outcome).toBe('pass');
      for (const id of ['wg/4', 'wg/5']) {
        const t = by('psk-agreement.test.ts').tests.find((x) => x.name.startsWith(id))!;
        expect(t.outcome).toBe('skip');
        expect(t.name).toMatch(/skipped: needs the built-in agent's internals; the key control under test is external/);
      }
      expect(by('faults.test.ts').outcome).toBe('skip');
      expect(by('faults.test.ts').suite).toMatch(/external \(alice: exec:mocks\/keyctl\/wrapper\.sh/);
      // The console carries the figures, not only the attachments.
      expect(r.out).toMatch(/PSK agreement: PASS[^\n]*\n\s+lab \w+: \d rotations observed; skew p50 \d+ ms, max \d+ ms; outage p50 \d+ ms, max \d+ ms/);
      // Lab figures: set-up time, the negative control, roles observed, wire per rotation (fixture.ts figuresOf).
      expect(r.out).toMatch(/set-up \d+\.\d s; first agreed PSK with traffic \d+\.\d s after lab up started\n\s+negative control passed[^\n]*\n\s+roles observed: alice master in \d\/\d rotations[^\n]*\n\s+per rotation \(p50\): key-control \d+ pkts/);
      expect(r.out).toMatch(/Faults are detected: SKIP \(0 passed, 0 failed, \d+ skipped\)\n\s+skipped: needs the built-in agent's internals/);
      expect(r.out).toMatch(/skipped wg\/4 the installed PSK[^\n]*: needs the built-in agent's internals/);
    },
    300_000,
  );
});
