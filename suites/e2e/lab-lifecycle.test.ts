// The lab's own promise (wg/12): `lab up` / `lab down` leave no namespace, interface, wireguard-go socket,
// process, state file or temp dir behind — also when the lab process is killed with SIGKILL and
// `lab down --stale` cleans up after it. Driven through the CLI, as an operator would.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import * as allure from 'allure-js-commons';
import type { LabInfo } from '../../src/lab/lab.ts';
import { REPO_ROOT } from '../../src/lab/node.ts';
import { isAlive, readRecord, type LabRecord } from '../../src/lab/state.ts';
import { labGate, report, titled } from './fixture.ts';

const gate = labGate();
const CLI = join(REPO_ROOT, 'bin/qkd-harness.js');
const started: ChildProcess[] = [];

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `lab up` in the foreground (as an operator would, in another terminal) and waits for its JSON line. */
async function labUp(args: string[]): Promise<{ child: ChildProcess; info: LabInfo }> {
  const child = spawn(process.execPath, [CLI, 'lab', 'up', '--quiet', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString('utf8')));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString('utf8')));
  for (const until = Date.now() + 90_000; Date.now() < until; await sleep(200)) {
    const line = out.split('\n').find((l) => l.startsWith('{'));
    if (line) return { child, info: JSON.parse(line) as LabInfo };
    if (child.exitCode !== null) throw new Error(`lab up exited ${child.exitCode}: ${err.trim().slice(-500)}`);
  }
  throw new Error('lab up printed nothing within 90 s');
}

/** Everything of a run that can be left behind; empty lists when nothing is. */
function leftovers(info: LabInfo, record: LabRecord | undefined): Record<string, string[]> {
  const id = info.runId;
  const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.includes(id));
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.includes(id));
  const sockets = existsSync('/var/run/wireguard') ? readdirSync('/var/run/wireguard').filter((n) => n.includes(id)) : [];
  const procs = (record?.processes ?? []).filter(isAlive).map((p) => `${p.name}@${p.site} pid ${p.pid}`);
  const files = [info.stateFile, info.dir, info.stateFile.replace(/\.json$/, '.log')].filter((f) => existsSync(f));
  return { namespaces: ns, interfaces: links, sockets, processes: procs, files };
}

const nothing = { namespaces: [], interfaces: [], sockets: [], processes: [], files: [] };

describe.skipIf(Boolean(gate.skip))(titled('Lab lifecycle', gate), () => {
  afterAll(() => {
    for (const c of started) if (c.exitCode === null) c.kill('SIGKILL');
    cli(['lab', 'down', '--stale']);
  });

  it('wg/12 lab up / lab down and a killed run + lab down --stale leave nothing behind', async () => {
    if (gate.fail) throw new Error(gate.fail);
    // 1. Normal life: up, status, down (twice: down is idempotent).
    const a = await labUp(['--interval', '10']);
    const recordA = readRecord(a.info.stateFile);
    expect(recordA?.processes.length).toBeGreaterThanOrEqual(10);
    expect(leftovers(a.info, recordA).namespaces).toHaveLength(2);
    // Exit 0 once both sites hold the same PSK: `lab up` returns before the key control's first rotation.
    let st = cli(['lab', 'status', '--json', '--run-id', a.info.runId]);
    for (const until = Date.now() + 30_000; st.code === 1 && Date.now() < until; st = cli(['lab', 'status', '--json', '--run-id', a.info.runId])) await new Promise((r) => setTimeout(r, 1_000));
    expect(st.code, st.stdout + st.stderr).toBe(0);
    const status = JSON.parse(st.stdout) as { sites: Record<string, { psk: string; probe: { sent: number } }> };
    for (const site of ['alice', 'bob']) expect(status.sites[site]!.psk).toMatch(/^sha256:[0-9a-f]{8}$/);
    const d1 = cli(['lab', 'down', '--run-id', a.info.runId]);
    expect(d1.code, d1.stderr).toBe(0);
    await new Promise((r) => (a.child.exitCode !== null ? r(null) : a.child.once('exit', r)));
    expect(a.child.exitCode).toBe(0);
    expect(leftovers(a.info, recordA)).toEqual(nothing);
    expect(cli(['lab', 'down', '--run-id', a.info.runId]).code).toBe(0);

    // 2. A crashed run: SIGKILL the lab process; everything it built stays until `lab down --stale`.
    const b = await labUp(['--interval', '60', '--pqc', 'off']);
    const recordB = readRecord(b.info.stateFile);
    b.child.kill('SIGKILL');
    await new Promise((r) => b.child.once('exit', r));
    const left = leftovers(b.info, recordB);
    expect(left.namespaces).toHaveLength(2);
    expect(left.processes!.length).toBeGreaterThan(0);
    const stale = cli(['lab', 'down', '--stale']);
    expect(stale.code, stale.stderr).toBe(0);
    expect((JSON.parse(stale.stdout) as { runIds: string[] }).runIds).toContain(b.info.runId);
    expect(leftovers(b.info, recordB)).toEqual(nothing);
    await allure.attachment('leftover check', JSON.stringify({ normal: leftovers(a.info, recordA), killed: left, afterStale: leftovers(b.info, recordB) }, null, 2), 'application/json');
    await report({ id: 'wg/12', outcome: 'pass', summary: 'no namespace, interface, socket, process or file left after down and after kill -9 + down --stale', evidence: { killedLeft: left } }, undefined);
  }, 240_000);
});
