// Each fault switch of the replication agent (mocks/hsm-sync/faults.ts) makes its named requirement
// fail: the kill-matrix rows of the HSM suite (docs/hsm.md, "Kill matrix"). One lab; for each row the
// agents are restarted with the fault and an empty replica token (restartHsmSync), a key is made on A,
// and the same judgement that passes in hsm-replication.test.ts must now report `fail` — and the
// two-token comparison must show the matching difference kind. Test names do not start with the
// requirement ID: the requirement's own test is the healthy one.
import { readFileSync } from 'node:fs';
import * as allure from 'allure-js-commons';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareInventories, type Comparison, type DifferenceKind } from '../../src/hsm/compare.ts';
import type { Inventory } from '../../src/hsm/inventory.ts';
import type { Lab } from '../../src/lab/lab.ts';
import type { SiteName } from '../../src/lab/names.ts';
import { UnderlayCounters, underlayDelta } from '../../src/lab/underlay-counters.ts';
import type { Verdict } from './checks.ts';
import { nightlyGate, titled } from './fixture.ts';
import {
  HSM,
  appearsOnB,
  destroyPropagates,
  entriesOf,
  exactlyOnce,
  nameKey,
  protectionKept,
  routeViaTunnel,
  underlayOnlyAllowed,
  underlayUnreachable,
  type MadeKey,
} from './hsm-checks.ts';
import { CALL_MS, SERVICE, Watcher, arrivals, extractionAttempts, hsmLabGate, hsmPair, inventoryOf, makeKey, replicationReady, reportHsm, routeDevice, syncStatus, tryConnect, tryConnectUntilUp, type HsmPair } from './hsm-fixture.ts';

/** Deadlines of the fault rows: short, since what is judged is an absence or an excess. */
const DEADLINE_MS = 12_000;
const PREFIX = `qkdh-fault-${process.pid}`;

/** The kill matrix of the HSM suite: fault switch → the requirement(s) it must make fail → what `hsm compare` shows. */
export const HSM_KILL_ROWS: Array<{ fault: string; site: SiteName; requirements: string[]; compare: DifferenceKind | null }> = [
  { fault: 'send-outside-tunnel', site: 'alice', requirements: [HSM.route, HSM.underlay, HSM.unreachable], compare: null },
  { fault: 'drop-deletes', site: 'alice', requirements: [HSM.destroy], compare: 'extra' },
  { fault: 'corrupt-blob', site: 'alice', requirements: [HSM.appears], compare: 'missing' },
  { fault: 'duplicate-imports', site: 'bob', requirements: [HSM.exactlyOnce], compare: 'duplicated' },
  { fault: 'unwrap-non-sensitive', site: 'bob', requirements: [HSM.protection], compare: 'weaker-protection' },
];

const gate = nightlyGate(hsmLabGate());
const labs: Lab[] = [];
let pair: HsmPair;
let lab: Lab;

/** Every key on A as MadeKey (grouped by label + ID), "made" at `at`: after a restart the whole token is replicated again. */
function keysOnA(invA: Inventory, at: number): MadeKey[] {
  const byName = new Map<string, MadeKey>();
  for (const e of invA.objects) {
    const k = `${e.label}\u0000${e.id}`;
    const m = byName.get(k) ?? { kind: (e.keyType ?? 'aes') as MadeKey['kind'], label: e.label, id: e.id, objects: [], madeAt: at };
    m.objects.push({ class: e.class, label: e.label, id: e.id });
    byName.set(k, m);
  }
  return [...byName.values()];
}

/** Restarts the agents with `fault` on an empty replica, makes one key on A, waits until the primary has nothing pending. */
async function withFault(row: (typeof HSM_KILL_ROWS)[number]): Promise<{ restartedAt: number; key: MadeKey; invA: Inventory; watcher: Watcher }> {
  await lab.restartHsmSync({ faults: { [row.site]: [row.fault] }, wipeReplica: true });
  const restartedAt = Date.now();
  await replicationReady(lab, 90_000);
  const key = await makeKey(pair.a, PREFIX, { kind: 'aes' });
  const invA = await inventoryOf(pair.a);
  // Settled: every object of A journaled (a new journal after the restart) and acknowledged (imported or rejected).
  const end = Date.now() + 30_000;
  for (;;) {
    const j = syncStatus(lab, 'alice')?.journal;
    if (j && j.seq >= invA.objects.length && j.pending === 0) break;
    if (Date.now() > end) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const watcher = new Watcher(pair.b);
  return { restartedAt, key, invA, watcher };
}

async function detects(row: (typeof HSM_KILL_ROWS)[number], verdicts: Verdict[], comparison: Comparison): Promise<void> {
  for (const v of verdicts) {
    await reportHsm({ ...v, outcome: v.outcome === 'fail' ? 'pass' : 'fail', summary: `${v.id} reported ${v.outcome} with ${row.fault} on ${row.site}: ${v.summary}` }, pair.source);
    await allure.parameter('fault', `${row.fault}@${row.site}`);
    await allure.parameter('check verdict', v.outcome);
    console.log(`${row.fault}: ${v.id} ${v.outcome}: ${v.summary}`);
  }
  for (const v of verdicts) expect(v.outcome, `${v.id} should report the ${row.fault} fault: ${v.summary}`).toBe('fail');
  const kinds = Object.entries(comparison.counts.differences).filter(([, n]) => n > 0).map(([k]) => k);
  if (row.compare) expect(kinds, `hsm compare with ${row.fault}`).toContain(row.compare);
  else expect(kinds, `hsm compare with ${row.fault} (a route fault: the tokens agree)`).toEqual([]);
}

describe('the HSM kill matrix is documented', () => {
  it('docs/hsm.md has a row for every agent fault switch, naming its requirements', () => {
    const doc = readFileSync(new URL('../../docs/hsm.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Kill matrix'));
    expect(doc).toContain('## Kill matrix');
    for (const r of HSM_KILL_ROWS) {
      const line = section.split('\n').find((l) => l.includes(`\`${r.fault}\``));
      expect(line, `docs/hsm.md kill matrix row for ${r.fault}`).toBeDefined();
      for (const id of r.requirements) expect(line).toContain(id);
    }
  });
});

describe.skipIf(Boolean(gate.skip))(titled('HSM agent faults are detected', gate), () => {
  beforeAll(async () => {
    if (gate.fail) throw new Error(gate.fail);
    const p = await hsmPair(labs, { intervalS: 10 });
    if ('skip' in p || !p.lab) throw new Error('the fault rows need the lab');
    pair = p;
    lab = p.lab;
    await replicationReady(lab);
  }, 180_000);
  afterAll(async () => {
    await Promise.all(labs.map((x) => x.down()));
  }, 60_000);

  it('send-outside-tunnel makes the route (hsm/8), underlay (hsm/10) and reachability (hsm/11) checks fail', async () => {
    const row = HSM_KILL_ROWS[0]!;
    const counters = { alice: await UnderlayCounters.install(lab.driver('alice'), lab.names.veth.alice), bob: await UnderlayCounters.install(lab.driver('bob'), lab.names.veth.bob) };
    const start = { alice: await counters.alice.read(), bob: await counters.bob.read(), at: Date.now() };
    const { invA, watcher } = await withFault(row);
    const invB = (await watcher.until((inv) => invA.objects.every((o) => entriesOf(inv, o).length > 0), DEADLINE_MS)).inv!;
    const deltas = { alice: underlayDelta(start.alice, await counters.alice.read()), bob: underlayDelta(start.bob, await counters.bob.read()) };
    const pr = syncStatus(lab, 'alice');
    const re = syncStatus(lab, 'bob');
    const primary = pr?.session ?? pr?.lastSession ?? null;
    const route = routeViaTunnel({ primary, replica: re?.session ?? re?.lastSession ?? null, routeDevice: primary ? await routeDevice(lab, 'alice', primary.remote.replace(/:\d+$/, '')) : null, wgInterface: lab.info.sites.alice.wireguard.interface, serviceHost: SERVICE.tunnel, primaryTunnelHost: SERVICE.primaryTunnel });
    const underlay = underlayOnlyAllowed(deltas, Date.now() - start.at);
    const unreachable = underlayUnreachable(await tryConnect(lab, 'alice', SERVICE.underlay, SERVICE.port), await tryConnectUntilUp(lab, 'alice', SERVICE.tunnel, SERVICE.port));
    await detects(row, [route, underlay, unreachable], compareInventories(invA, invB));
  }, 150_000);

  it('drop-deletes makes the destroy check (hsm/6) fail; hsm compare shows extra', async () => {
    const row = HSM_KILL_ROWS[1]!;
    const { key, watcher } = await withFault(row);
    await watcher.until((inv) => key.objects.every((o) => entriesOf(inv, o).length > 0), DEADLINE_MS);
    await pair.a.run({ op: 'destroy', key: { label: key.label, id: key.id }, all: true }, { timeoutMs: CALL_MS });
    const at = Date.now();
    const r = await watcher.until((inv) => key.objects.every((o) => entriesOf(inv, o).length === 0), DEADLINE_MS);
    const invA = await inventoryOf(pair.a);
    const gone = new Map(key.objects.map((o) => [nameKey(o), watcher.goneAt(o, at)]));
    const v = destroyPropagates(key.objects, at, gone, [], r.inv!, DEADLINE_MS);
    await detects(row, [v], compareInventories(invA, r.inv!));
  }, 150_000);

  it('corrupt-blob makes the appears check (hsm/1) fail; hsm compare shows missing', async () => {
    const row = HSM_KILL_ROWS[2]!;
    const { restartedAt, invA, watcher } = await withFault(row);
    const made = keysOnA(invA, restartedAt);
    // Waits out the deadline (from the restart): an absence is judged only after it.
    const r = await watcher.until((inv) => invA.objects.every((o) => inv.objects.some((e) => nameKey(e) === nameKey(o) && e.fingerprint === o.fingerprint)) || watcher.lastStartedAt > restartedAt + DEADLINE_MS, DEADLINE_MS + 30_000);
    const v = appearsOnB(made, invA, r.inv!, arrivals(watcher, made, invA), DEADLINE_MS, r.startedAt);
    await detects(row, [v], compareInventories(invA, r.inv!));
  }, 150_000);

  it('duplicate-imports makes the exactly-once check (hsm/2) fail; hsm compare shows duplicated', async () => {
    const row = HSM_KILL_ROWS[3]!;
    const { restartedAt, invA, watcher } = await withFault(row);
    const made = keysOnA(invA, restartedAt);
    const invB = (await watcher.until((inv) => invA.objects.every((o) => entriesOf(inv, o).length > 0), DEADLINE_MS)).inv!;
    const comparison = compareInventories(invA, invB);
    await detects(row, [exactlyOnce(made, invB, comparison)], comparison);
  }, 150_000);

  it('unwrap-non-sensitive makes the protection check (hsm/7) fail; hsm compare shows weaker-protection', async () => {
    const row = HSM_KILL_ROWS[4]!;
    const { key, invA, watcher } = await withFault(row);
    const invB = (await watcher.until((inv) => invA.objects.every((o) => entriesOf(inv, o).length > 0), DEADLINE_MS)).inv!;
    const comparison = compareInventories(invA, invB);
    const v = protectionKept(invA.objects.map((e) => ({ class: e.class, label: e.label, id: e.id })), invB, comparison, await extractionAttempts(pair.b, key.objects));
    await detects(row, [v], comparison);
  }, 150_000);
});
