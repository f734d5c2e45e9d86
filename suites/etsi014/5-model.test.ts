// ETSI GS QKD 014 clause 5 as a whole: a stateful property test. fast-check drives random sequences of
// Status, enc_keys (GET/POST) and dec_keys (GET/POST by the slave, and by an SAE never named) against the
// target and checks every answer against a model of the two key pools: one-time delivery, identical
// keys at both KMEs, retention of uncollected keys, authorisation, and Status counts. The seed is fixed
// (FC_SEED overrides it).
//
// Tolerated field deviations (GET enc_keys ignoring `number`, SAE IDs swapped in Status) do not end the
// search: the model accepts what such a KME does, reports the deviation once with its tolerance, and
// goes on looking for a real counterexample.
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { check } from '../../src/conformance/check.ts';
import { defineClause } from '../../src/conformance/clause.ts';
import { CannotEvaluate, Failure, type CheckContext } from '../../src/conformance/context.ts';
import type { Tolerance } from '../../src/conformance/catalogue.ts';
import { readStatusMembers } from '../../src/conformance/status-view.ts';
import { fingerprintBase64 } from '../../src/secrets/fingerprint.ts';
import { propertySeed } from '../../src/report/seed.ts';

/** A key the master received and the slave has not collected yet. */
interface Pending {
  fingerprint: string;
  /** Which enc_keys call of the sequence delivered it (1-based). */
  call: number;
}

interface Model {
  /** key_IDs delivered to the master and not yet to the slave. */
  pending: Map<string, Pending>;
  /** key_IDs delivered to both: asking again must fail. */
  consumed: string[];
  /** Every key_ID ever handed out (never repeats). */
  seen: Set<string>;
  /** enc_keys calls so far in this sequence. */
  encCalls: number;
  limits: { max_key_per_request: number; key_size?: number };
}

/** The check's context and the tolerated deviations it has reported (once per kind, across sequences). */
interface Real {
  t: CheckContext;
  tolerated: Set<Tolerance>;
}

type Cmd = fc.AsyncCommand<Model, Real>;

/** Reports a tolerated deviation the first time it is seen (with the latest exchange as evidence) and lets the sequence go on. */
async function tolerate(real: Real, kind: Tolerance, message: string): Promise<void> {
  if (real.tolerated.has(kind)) return;
  real.tolerated.add(kind);
  await real.t.soft(() => {
    throw new Failure(`${message} (modelled; the search went on)`, kind);
  });
}

class StatusCmd implements Cmd {
  check = (): boolean => true;
  async run(m: Model, real: Real): Promise<void> {
    const { t } = real;
    const r = await t.master.status(t.slaveId);
    if (r.status !== 200) throw new Failure(`status answered ${r.status}`);
    // Only valid members are judged here; an invalid one is qkd014/5.2/1's finding.
    const s = readStatusMembers(r.raw.json()).valid;
    if (s.master_SAE_ID !== undefined && s.slave_SAE_ID !== undefined && (s.master_SAE_ID !== t.masterId || s.slave_SAE_ID !== t.slaveId)) {
      const swapped = s.master_SAE_ID === t.slaveId && s.slave_SAE_ID === t.masterId;
      if (!swapped) throw new Failure(`status names master ${s.master_SAE_ID} / slave ${s.slave_SAE_ID}`);
      await tolerate(real, 'sae-ids', `status names master ${s.master_SAE_ID} / slave ${s.slave_SAE_ID} (swapped)`);
    }
    if (s.stored_key_count !== undefined && s.max_key_count !== undefined && (s.stored_key_count < 0 || s.stored_key_count > s.max_key_count)) {
      throw new Failure(`stored_key_count ${s.stored_key_count} outside [0, ${s.max_key_count}]`);
    }
    const changed = (s.max_key_per_request !== undefined && s.max_key_per_request !== m.limits.max_key_per_request) || (s.key_size !== undefined && m.limits.key_size !== undefined && s.key_size !== m.limits.key_size);
    if (changed) throw new Failure('the Status limits changed during the run');
  }
  toString = (): string => 'status';
}

class EncKeysCmd implements Cmd {
  constructor(
    readonly number: number,
    readonly viaGet: boolean,
  ) {}
  check = (): boolean => true;
  async run(m: Model, real: Real): Promise<void> {
    const { t } = real;
    const n = Math.min(this.number, m.limits.max_key_per_request);
    const r = this.viaGet ? await t.master.encKeysGet(t.slaveId, { number: n }) : await t.master.encKeys(t.slaveId, { number: n });
    if (r.status === 503) return; // the pool may run dry: allowed, nothing delivered
    if (r.status !== 200 || !r.data) throw new Failure(`${this} answered ${r.status}${r.schemaError ? ` (${r.schemaError})` : ''}`);
    const got = r.data.keys.length;
    if (got !== n) {
      if (!this.viaGet || got === 0) throw new Failure(`${this} returned ${got} keys`);
      // GET enc_keys ignoring its query: the keys it did deliver must still reach the slave.
      await tolerate(real, 'get-query', `${this} returned ${got} key(s) instead of ${n}: the number query parameter was ignored`);
    }
    m.encCalls++;
    for (const k of r.data.keys) {
      if (m.seen.has(k.key_ID)) throw new Failure(`${this} handed out key_ID ${k.key_ID} again`);
      m.seen.add(k.key_ID);
      m.pending.set(k.key_ID, { fingerprint: fingerprintBase64(k.key), call: m.encCalls });
    }
  }
  toString = (): string => `enc_keys(${this.number}, ${this.viaGet ? 'GET' : 'POST'})`;
}

class SlaveDecKeysCmd implements Cmd {
  constructor(
    readonly pick: number,
    readonly count: number,
    readonly viaGet: boolean,
  ) {}
  check = (m: Readonly<Model>): boolean => m.pending.size > 0;
  async run(m: Model, real: Real): Promise<void> {
    const { t } = real;
    const ids = [...m.pending.keys()];
    const start = this.pick % ids.length;
    const chosen = this.viaGet ? [ids[start]!] : ids.slice(start, start + this.count);
    const r = this.viaGet ? await t.slave.decKeysGet(t.masterId, chosen[0]!) : await t.slave.decKeys(t.masterId, chosen);
    if (r.status !== 200 || !r.data) {
      const oldest = Math.min(...chosen.map((id) => m.pending.get(id)!.call));
      throw new Failure(`${this} for ${chosen.length} pending key(s) answered ${r.status}; the oldest was delivered to the master by enc_keys call #${oldest} of the sequence, followed by ${m.encCalls - oldest} more enc_keys call(s) before the slave asked`);
    }
    const got = new Map(r.data.keys.map((k) => [k.key_ID, fingerprintBase64(k.key)]));
    for (const id of chosen) {
      const want = m.pending.get(id)!.fingerprint;
      if (got.get(id) !== want) throw new Failure(`${this}: key_ID ${id} has bytes ${got.get(id) ?? 'missing'} at the slave, ${want} at the master`);
      m.pending.delete(id);
      m.consumed.push(id);
    }
  }
  toString = (): string => `slave dec_keys(${this.viaGet ? 'GET' : `POST ×${this.count}`}, pick ${this.pick})`;
}

class ReplayCmd implements Cmd {
  constructor(
    readonly pick: number,
    readonly unknown: boolean,
  ) {}
  check = (m: Readonly<Model>): boolean => this.unknown || m.consumed.length > 0;
  async run(m: Model, { t }: Real): Promise<void> {
    const id = this.unknown ? randomUUID() : m.consumed[this.pick % m.consumed.length]!;
    const r = await t.slave.decKeys(t.masterId, [id]);
    if (r.status === 200) throw new Failure(`${this}: key_ID ${id} was delivered although it is ${this.unknown ? 'unknown' : 'already consumed'}`);
    if (r.status >= 500) throw new Failure(`${this} answered ${r.status}`);
  }
  toString = (): string => `slave dec_keys(${this.unknown ? 'unknown' : 'consumed'} key_ID)`;
}

class OutsiderCmd implements Cmd {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>): boolean => m.pending.size > 0;
  async run(m: Model, { t }: Real): Promise<void> {
    const ids = [...m.pending.keys()];
    const id = ids[this.pick % ids.length]!;
    const r = await t.client('outsider').decKeys(t.masterId, [id]);
    if (r.status === 401) return;
    const since = m.pending.get(id)!.call;
    const gone = r.status === 400 ? ` — "not found" for a key the slave has not collected: the KME no longer holds it (delivered to the master by enc_keys call #${since}, followed by ${m.encCalls - since} more)` : '';
    throw new Failure(`${this}: an SAE not named as slave got ${r.status} instead of 401 for pending key_ID ${id}${gone}`);
  }
  toString = (): string => 'outsider dec_keys(pending key_ID)';
}

/** Sequences per run and their length: with enc_keys weighted triple, most sequences hold several uncollected enc_keys calls before the slave collects. */
const NUM_RUNS = 12;
const MAX_COMMANDS = 15;

await defineClause('5 Methods: stateful model', import.meta.url, [
  check(
    'qkd014/5/1',
    async (t) => {
      const status = await t.status();
      const limits: Model['limits'] = { max_key_per_request: status.max_key_per_request };
      try {
        limits.key_size = status.key_size;
      } catch (err) {
        if (!(err instanceof CannotEvaluate)) throw err; // the model does without key_size
      }
      const hasOutsider = Boolean(t.role('outsider'));
      const seed = propertySeed();
      const real: Real = { t, tolerated: new Set() };
      const enc = fc.tuple(fc.integer({ min: 1, max: 3 }), fc.boolean()).map(([n, g]) => new EncKeysCmd(n, g));
      const commands = fc.commands(
        [
          fc.constant(new StatusCmd()),
          enc,
          enc, // thrice: retention needs several enc_keys before the slave collects
          enc,
          fc.tuple(fc.nat(), fc.integer({ min: 1, max: 3 }), fc.boolean()).map(([p, c, g]) => new SlaveDecKeysCmd(p, c, g)),
          fc.tuple(fc.nat(), fc.boolean()).map(([p, u]) => new ReplayCmd(p, u)),
          ...(hasOutsider ? [fc.nat().map((p) => new OutsiderCmd(p))] : []),
        ],
        { maxCommands: MAX_COMMANDS },
      );
      const out = await fc.check(
        fc.asyncProperty(commands, async (cmds) => {
          const model: Model = { pending: new Map(), consumed: [], seen: new Set(), encCalls: 0, limits };
          await fc.asyncModelRun(() => ({ model, real }), cmds);
        }),
        { seed, numRuns: NUM_RUNS, endOnFailure: true },
      );
      if (out.failed) {
        if (out.errorInstance instanceof CannotEvaluate) throw out.errorInstance;
        const cause = out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance);
        const tolerance = out.errorInstance instanceof Failure ? out.errorInstance.tolerance : undefined;
        throw new Failure(`${cause.split('\n')[0]} — after ${out.counterexample?.[0]?.toString() ?? 'an unknown sequence'} (seed ${seed}, path ${out.counterexamplePath ?? '?'})`, tolerance);
      }
      return { pass: `${out.numRuns} random call sequences matched the model (seed ${seed})` };
    },
    { timeoutMs: 120_000 },
  ),
]);
