// The lab's HSM part (src/lab/hsm.ts): two labs side by side in one private state directory — one with
// tokens and replication agents, one with --hsm off — driven through `qkd-harness hsm` and `lab status`
// as an operator would: each site sees only its own token, a key made on alice arrives on bob and
// `hsm compare` finds no difference, `--site` finds the right lab (or says why not), no PIN in any
// output or in the state file, and nothing left behind after `down`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../hsm/inventory.ts';
import { runHsm } from '../hsm/runner.ts';
import { hsmUnavailable } from './hsm.ts';
import { Lab } from './lab.ts';
import { REPO_ROOT } from './node.ts';
import { labUnavailable } from './prerequisites.ts';
import { isAlive } from './state.ts';

const why = labUnavailable() ?? hsmUnavailable();
const gate = !why ? {} : process.env.QKD_REQUIRE_LAB === '1' ? { fail: `QKD_REQUIRE_LAB=1 but the lab's HSM part cannot run: ${why}` } : { skip: why };
const stateDir = mkdtempSync(join(tmpdir(), 'qkdh-hsm-state-'));
const WAIT = 90_000; // a bound for hangs, not a measurement

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const labs: Lab[] = [];
let on: Lab;
let off: Lab;
const pins = (): string[] => (on ? [on.hsmPin('alice'), on.hsmPin('bob')] : []);

/** The CLI as an operator runs it: no PIN in the environment (the lab's PIN file is used), this test's state dir. */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('QKD_HSM_PIN') && k !== 'SOFTHSM2_CONF'));
    const p = spawn(process.execPath, [join(REPO_ROOT, 'bin/qkd-harness.js'), ...args], { env: { ...base, QKDH_LAB_STATE_DIR: stateDir, ...env }, timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.stdin.end();
    p.on('close', (code) => {
      for (const pin of pins()) expect(stdout + stderr, `a PIN appeared in the output of ${args.join(' ')}`).not.toContain(pin);
      resolve({ code, stdout, stderr });
    });
  });
}

const labels = (inv: Inventory): string[] => inv.objects.map((o) => `${o.class}/${o.label}`).sort();

describe.skipIf(Boolean(gate.skip))(gate.skip ? `lab with SoftHSM2 tokens (skipped: ${gate.skip})` : 'lab with SoftHSM2 tokens', () => {
  beforeAll(async () => {
    if (gate.fail) return;
    // In parallel: one lab with the HSM part, one without (PQC off: not needed here, and cheaper).
    const started = await Promise.allSettled([Lab.up({ stateDir, hsm: true, pqc: false, intervalS: 5 }), Lab.up({ stateDir, hsm: false, pqc: false, intervalS: 60 })]);
    for (const s of started) if (s.status === 'fulfilled') labs.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    [on, off] = labs as [Lab, Lab];
  }, 180_000);

  afterAll(async () => {
    for (const l of labs) await l.down().catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
  }, 60_000);

  const must = () => {
    if (gate.fail) throw new Error(gate.fail);
  };

  it('each site has its own token, labelled with the site, visible through its own SOFTHSM2_CONF only; no PIN in the state file', async () => {
    must();
    expect(on.info.hsm).toBe(true);
    for (const site of ['alice', 'bob'] as const) {
      const h = on.info.sites[site].hsm!;
      expect(h.token).toBe(site);
      expect(h.conf.startsWith(join(on.dir, site, 'softhsm'))).toBe(true);
      const r = await runHsm({ module: h.module }, undefined, { op: 'tokens' }, { timeoutMs: 30_000, env: { SOFTHSM2_CONF: h.conf } });
      if (r.op !== 'tokens') throw new Error('tokens request answered with another op');
      expect(r.tokens.map((t) => t.label).filter(Boolean), `${site}'s SOFTHSM2_CONF`).toEqual([site]);
      expect((statSync(h.pinFile).mode & 0o777).toString(8), 'the PIN file\'s mode').toBe('600');
    }
    const state = readFileSync(on.state.file, 'utf8');
    for (const pin of pins()) expect(state).not.toContain(pin);
    expect(on.state.record.processes.filter((p) => p.name === 'hsm-sync').map((p) => p.site).sort()).toEqual(['alice', 'bob']);
  });

  it('--site finds the running lab: labs built by programs (these tests) are never picked without --run-id, a lab without tokens says so, no lab says `lab up` first', async () => {
    must();
    const [several, noTokens, none] = await Promise.all([
      cli(['hsm', 'objects', '--site', 'alice']),
      cli(['hsm', 'objects', '--site', 'alice', '--run-id', off.runId]),
      cli(['hsm', 'objects', '--site', 'alice'], { QKDH_LAB_STATE_DIR: join(stateDir, 'empty') }),
    ]);
    expect(several.code, several.stderr).toBe(2);
    expect(several.stderr).toMatch(/no lab started with `lab up` is recorded; 2 built by a program/);
    for (const l of labs) expect(several.stderr).toContain(l.runId);
    expect(several.stderr).toMatch(/--run-id/);
    expect(noTokens.code, noTokens.stderr).toBe(2);
    expect(noTokens.stderr).toMatch(/has no HSM tokens.*--hsm off/);
    expect(none.code, none.stderr).toBe(2);
    expect(none.stderr).toMatch(/no lab is up.*lab up/);
  }, WAIT);

  it('a key generated on alice with `hsm generate --site alice` appears on bob, and `hsm compare --site alice --site bob` exits 0', async () => {
    must();
    const id = ['--run-id', on.runId];
    const g = await cli(['hsm', 'generate', '--site', 'alice', ...id, '--type', 'aes', '--label', 'lab-hsm-test', '--extractable', '--json']);
    expect(g.code, g.stderr).toBe(0);
    let bob: Inventory | undefined;
    for (const until = Date.now() + WAIT; Date.now() < until; await sleep(1_000)) {
      const r = await cli(['hsm', 'objects', '--site', 'bob', ...id, '--json']);
      expect(r.code, r.stderr).toBe(0);
      bob = (JSON.parse(r.stdout) as { inventory: Inventory }).inventory;
      if (bob.objects.length) break;
    }
    expect(labels(bob!)).toEqual(['secret-key/lab-hsm-test']);
    expect(bob!.token.label).toBe('bob');
    const c = await cli(['hsm', 'compare', '--site', 'alice', '--site', 'bob', ...id, '--json']);
    expect(c.code, c.stdout + c.stderr).toBe(0);
    expect(JSON.parse(c.stdout)).toMatchObject({ identical: true, a: { name: 'alice' }, b: { name: 'bob' } });
    const primary = on.hsmSyncStatus('alice') as { session: { remote: string } | null };
    expect(primary.session?.remote).toBe('203.0.113.2:5656'); // through the tunnel
  }, 2 * WAIT);

  it('lab status shows per site the token, its object count and the agent (human and --json); a lab without tokens shows none', async () => {
    must();
    const [human, json, plain] = await Promise.all([cli(['lab', 'status', '--run-id', on.runId]), cli(['lab', 'status', '--json', '--run-id', on.runId]), cli(['lab', 'status', '--json', '--run-id', off.runId])]);
    // The exit code says whether the sites agree at that moment (1 also mid-rotation, or before the
    // 60 s lab's first one); what is judged here is the HSM part of the output.
    const health = (out: string): number => {
      const j = JSON.parse(out) as { pskAgree: boolean; sites: Record<string, { probe: { since: string | null; down: boolean } }> };
      return j.pskAgree && !Object.values(j.sites).some((x) => x.probe.since !== null && x.probe.down) ? 0 : 1;
    };
    expect([0, 1], human.stderr).toContain(human.code);
    expect(human.stdout).toMatch(/token alice: \d+ objects; agent primary/);
    expect(human.stdout).toMatch(/token bob: \d+ objects; agent replica/);
    expect(json.code, json.stderr).toBe(health(json.stdout));
    const st = JSON.parse(json.stdout) as { sites: Record<string, { hsm?: { token: string; objects: number | null; agent: { role: string; imported: number } | null } }> };
    expect(st.sites.alice!.hsm).toMatchObject({ token: 'alice', objects: 1, agent: { role: 'primary' } });
    expect(st.sites.bob!.hsm).toMatchObject({ token: 'bob', objects: 1, agent: { role: 'replica', imported: 1 } });
    expect(plain.code, plain.stderr).toBe(health(plain.stdout));
    const p = JSON.parse(plain.stdout) as { sites: Record<string, { hsm?: unknown }> };
    expect(off.info.hsm).toBe(false);
    for (const site of ['alice', 'bob'] as const) {
      expect(off.info.sites[site].hsm).toBeUndefined();
      expect(p.sites[site]!.hsm).toBeUndefined();
    }
  }, WAIT);

  it('restartHsmSync replaces both agents (with a fault, bob wiped) and setUnderlay cuts and restores the veth', async () => {
    must();
    const before = on.state.record.processes.filter((p) => p.name === 'hsm-sync');
    await on.restartHsmSync({ faults: { alice: ['send-outside-tunnel'] }, wipeReplica: true });
    const after = on.state.record.processes.filter((p) => p.name === 'hsm-sync');
    expect(before.filter(isAlive)).toEqual([]);
    expect(after.map((p) => p.site).sort()).toEqual(['alice', 'bob']);
    expect(after.some((p) => before.some((b) => b.pid === p.pid))).toBe(false);
    expect(on.processes.filter((p) => p.spec.name === 'hsm-sync')).toHaveLength(2);
    // The new journal replays alice's key onto the wiped token, this time over the underlay (the fault).
    let remote: string | undefined;
    for (const until = Date.now() + WAIT; Date.now() < until && !remote; await sleep(500)) {
      const s = on.hsmSyncStatus('alice') as { session: { remote: string } | null; journal: { acked: number } | null };
      if (s.journal && s.journal.acked >= 1) remote = s.session?.remote;
    }
    expect(remote).toBe('198.51.100.2:5656');
    const bob = await on.hsmClient('bob').run({ op: 'objects' });
    expect(bob.op === 'objects' && labels(bob.inventory)).toEqual(['secret-key/lab-hsm-test']);
    expect((on.hsmSyncStatus('bob') as { counters: { imported: number } }).counters.imported, 'imported afresh: bob was wiped').toBe(1);
    const link = (site: 'alice' | 'bob') => spawnSync('ip', ['-n', on.names.namespace[site], '-o', 'link', 'show', on.names.veth[site]], { encoding: 'utf8' }).stdout;
    await on.setUnderlay(false);
    for (const site of ['alice', 'bob'] as const) expect(link(site)).not.toMatch(/[<,]UP[,>]/);
    await on.setUnderlay(true);
    for (const site of ['alice', 'bob'] as const) expect(link(site)).toMatch(/[<,]UP[,>]/);
  }, 2 * WAIT);

  it('after down no agent process, namespace, token or temp dir remains', async () => {
    must();
    const agents = on.state.record.processes.filter((p) => p.name === 'hsm-sync');
    expect(agents).toHaveLength(2);
    const { dir, names } = on;
    await on.down();
    expect(agents.filter(isAlive)).toEqual([]);
    const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    expect(ns).not.toContain(names.namespace.alice);
    expect(ns).not.toContain(names.namespace.bob);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(on.state.file)).toBe(false);
    const ps = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout;
    expect(ps.split('\n').filter((l) => l.includes('hsm-sync') && l.includes(dir))).toEqual([]);
  }, WAIT);
});
