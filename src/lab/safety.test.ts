// Safe concurrent labs and clean failure paths (issue 11): a stale cleanup removes only runs whose owner
// is provably dead, whatever state directory each used; a signal during `lab up` stops the build at once
// and leaves nothing behind. Real labs (root, netns): gated like the e2e suites.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { newRunId } from './names.ts';
import { REPO_ROOT } from './node.ts';
import { labUnavailable } from './prerequisites.ts';
import { signalGroup } from './process.ts';
import { ownerMarkerPath } from './state.ts';

const why = labUnavailable();
if (why && process.env.QKD_REQUIRE_LAB === '1') throw new Error(`QKD_REQUIRE_LAB=1 but the lab cannot run: ${why}`);
const dirs: string[] = [];
const privateStateDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'qkdh-safety-state-'));
  dirs.push(d);
  return d;
};
interface LabUpRun {
  child: ChildProcess;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
}
const started: LabUpRun[] = [];
afterAll(async () => {
  for (const l of started) if (l.child.exitCode === null && l.child.signalCode === null) l.child.kill('SIGTERM');
  await Promise.all(started.map((l) => Promise.race([l.exit, sleep(30_000)])));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function cli(args: string[], stateDir: string) {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin/qkd-harness.js'), ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, QKDH_LAB_STATE_DIR: stateDir } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `lab up` in its own process (the smallest lab: no PQC, no HSM), its output collected. */
function labUp(runId: string, stateDir: string): LabUpRun {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/qkd-harness.js'), 'lab', 'up', '--run-id', runId, '--pqc', 'off', '--hsm', 'off', '--interval', '5'], {
    env: { ...process.env, QKDH_LAB_STATE_DIR: stateDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const l: LabUpRun = {
    child,
    exit,
    stdout: () => out,
    stderr: () => err,
    /** Waits for a line matching `re` on stderr (progress) or stdout (the JSON line). */
    async waitFor(re: RegExp, timeoutMs = 90_000): Promise<void> {
      for (const until = Date.now() + timeoutMs; !re.test(out) && !re.test(err); ) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`lab up ${runId} exited before ${re}: ${err.slice(-800)}`);
        if (Date.now() > until) throw new Error(`lab up ${runId}: no ${re} within ${timeoutMs} ms: ${err.slice(-800)}`);
        await sleep(50);
      }
    },
  };
  started.push(l);
  return l;
}

/** What of run `id` is still on the host: namespaces, sockets, state file, owner marker, temp dirs, processes. */
function leftovers(id: string, stateDir: string): string[] {
  const left: string[] = [];
  const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  left.push(...ns.split('\n').filter((l) => l.startsWith(`qkdh-${id}-`)));
  for (const s of [`/var/run/wireguard/qh${id}a.sock`, `/var/run/wireguard/qh${id}b.sock`, join(stateDir, `${id}.json`), ownerMarkerPath(id)]) if (existsSync(s)) left.push(s);
  left.push(...readdirSync(tmpdir()).filter((n) => n.startsWith(`qkdh-${id}-`)));
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`qkdh-${id}-`)) left.push(`pid ${pid}`);
    } catch {
      /* gone */
    }
  }
  return left;
}

async function noLeftovers(id: string, stateDir: string): Promise<void> {
  // Killed processes may need a moment to leave /proc.
  for (const until = Date.now() + 5_000; leftovers(id, stateDir).length && Date.now() < until; ) await sleep(100);
  expect(leftovers(id, stateDir)).toEqual([]);
}

describe.skipIf(Boolean(why))('safe concurrent labs and clean failure paths', () => {
  it('lab/concurrency: two labs and a stale cleanup started together (other state dirs) — the live labs survive; a SIGKILLed owner is removed by --stale; an owner whose processes all died tears down and says why', { timeout: 150_000 }, async () => {
    const [a, b] = [newRunId(), newRunId()];
    const [dirA, dirB, dirC] = [privateStateDir(), privateStateDir(), privateStateDir()];
    const labA = labUp(a, dirA);
    const labB = labUp(b, dirB);
    // Stale cleanups from a third state directory, over and over while both labs build.
    let building = true;
    const sweeps = (async () => {
      let n = 0;
      while (building) {
        const r = await new Promise<number | null>((resolve) => spawn(process.execPath, [join(REPO_ROOT, 'bin/qkd-harness.js'), 'lab', 'down', '--stale'], { env: { ...process.env, QKDH_LAB_STATE_DIR: dirC }, stdio: 'ignore' }).on('exit', resolve));
        expect(r).toBe(0);
        n++;
      }
      return n;
    })();
    try {
      await Promise.all([labA.waitFor(/"runId"/), labB.waitFor(/"runId"/)]);
    } finally {
      building = false;
    }
    expect(await sweeps).toBeGreaterThan(0);
    const stale = cli(['lab', 'down', '--stale'], dirC);
    expect(stale.code, stale.stderr).toBe(0);
    for (const [id, dir] of [[a, dirA], [b, dirB]] as const) {
      // Still up: 0 in step, 1 not (yet) in step — 3 would be "no lab".
      const st = cli(['lab', 'status', '--run-id', id, '--json'], dir);
      expect([0, 1], `${id}: ${st.stderr}`).toContain(st.code);
      expect(JSON.parse(st.stdout)).toMatchObject({ runId: id });
      const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
      expect(ns).toContain(`qkdh-${id}-alice`);
      expect(ns).toContain(`qkdh-${id}-bob`);
    }
    // A's owner dies without tearing down: --stale from yet another state dir removes all of it, B lives on.
    labA.child.kill('SIGKILL');
    await labA.exit;
    const after = cli(['lab', 'down', '--stale'], dirC);
    expect(after.code, after.stderr).toBe(0);
    expect(JSON.parse(after.stdout).runIds).toContain(a);
    await noLeftovers(a, dirA);
    expect([0, 1]).toContain(cli(['lab', 'status', '--run-id', b, '--json'], dirB).code);
    // B's processes all die under its owner: the owner says so, tears down and exits 1 (not 13, silently).
    const record = JSON.parse(readFileSync(join(dirB, `${b}.json`), 'utf8')) as { processes: Array<{ pid: number }> };
    expect(record.processes.length).toBeGreaterThan(0);
    for (const p of record.processes) signalGroup(p.pid, 'SIGKILL');
    const e = await labB.exit;
    expect(e.code, labB.stderr()).toBe(1);
    expect(labB.stderr()).toMatch(/wireguard-go \(alice, pid \d+\) exited \(SIGKILL\)/);
    expect(labB.stderr()).toMatch(/every lab process has exited .*; tearing down/);
    await noLeftovers(b, dirB);
  });

  it('lab/ctrl-c: SIGINT during the build stops it at once — exit 130, nothing left', { timeout: 60_000 }, async () => {
    const id = newRunId();
    const dir = privateStateDir();
    const l = labUp(id, dir);
    await l.waitFor(/: namespaces/);
    l.child.kill('SIGINT');
    const e = await l.exit;
    expect(e.code, l.stderr()).toBe(130);
    expect(l.stdout()).not.toMatch(/"runId"/); // never reported up
    expect(l.stderr()).toMatch(/SIGINT during the build/);
    await noLeftovers(id, dir);
  });

  it('lab/ctrl-c: SIGINT twice quickly during the build — same: exit 130, nothing left; SIGTERM gives 143', { timeout: 60_000 }, async () => {
    const id = newRunId();
    const dir = privateStateDir();
    const l = labUp(id, dir);
    await l.waitFor(/: wireguard/);
    l.child.kill('SIGINT');
    await sleep(30);
    l.child.kill('SIGINT');
    expect((await l.exit).code, l.stderr()).toBe(130);
    await noLeftovers(id, dir);
    const id2 = newRunId();
    const t = labUp(id2, dir);
    await t.waitFor(/: KMEs/);
    t.child.kill('SIGTERM');
    expect((await t.exit).code, t.stderr()).toBe(143);
    await noLeftovers(id2, dir);
  });
});
