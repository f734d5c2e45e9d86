// ETSI GS QKD 014 clause 5 as a whole: a stateful property test. fast-check drives random sequences of
// Status, enc_keys (GET/POST) and dec_keys (GET/POST by the slave, and by an SAE never named) against the
// target and checks every answer against a model of the two key pools: one-time delivery, identical
// keys at both KMEs, authorisation, and Status counts. The seed is fixed (FC_SEED overrides it).
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { check } from '../../src/conformance/check.ts';
import { defineClause } from '../../src/conformance/clause.ts';
import { Failure, type CheckContext } from '../../src/conformance/context.ts';
import { fingerprintBase64 } from '../../src/secrets/fingerprint.ts';
import { propertySeed } from '../../src/report/seed.ts';
import type { Status } from '../../src/kme/client.ts';

interface Model {
  /** key_IDs delivered to the master and not yet to the slave, with the key's fingerprint. */
  pending: Map<string, string>;
  /** key_IDs delivered to both: asking again must fail. */
  consumed: string[];
  /** Every key_ID ever handed out (never repeats). */
  seen: Set<string>;
  limits: Status;
}

type Real = CheckContext;
type Cmd = fc.AsyncCommand<Model, Real>;

class StatusCmd implements Cmd {
  check = (): boolean => true;
  async run(m: Model, t: Real): Promise<void> {
    const r = await t.master.status(t.slaveId);
    if (r.status !== 200 || !r.data) throw new Failure(`status answered ${r.status}${r.schemaError ? ` (${r.schemaError})` : ''}`);
    const s = r.data;
    if (s.master_SAE_ID !== t.masterId || s.slave_SAE_ID !== t.slaveId) {
      const swapped = s.master_SAE_ID === t.slaveId && s.slave_SAE_ID === t.masterId;
      throw new Failure(`status names master ${s.master_SAE_ID} / slave ${s.slave_SAE_ID}`, swapped ? 'sae-ids' : undefined);
    }
    if (s.stored_key_count < 0 || s.stored_key_count > s.max_key_count) throw new Failure(`stored_key_count ${s.stored_key_count} outside [0, ${s.max_key_count}]`);
    if (s.max_key_per_request !== m.limits.max_key_per_request || s.key_size !== m.limits.key_size) throw new Failure('the Status limits changed during the run');
  }
  toString = (): string => 'status';
}

class EncKeysCmd implements Cmd {
  constructor(
    readonly number: number,
    readonly viaGet: boolean,
  ) {}
  check = (): boolean => true;
  async run(m: Model, t: Real): Promise<void> {
    const n = Math.min(this.number, m.limits.max_key_per_request);
    const r = this.viaGet ? await t.master.encKeysGet(t.slaveId, { number: n }) : await t.master.encKeys(t.slaveId, { number: n });
    if (r.status === 503) return; // the pool may run dry: allowed, nothing delivered
    if (r.status !== 200 || !r.data) throw new Failure(`${this} answered ${r.status}${r.schemaError ? ` (${r.schemaError})` : ''}`);
    if (r.data.keys.length !== n) throw new Failure(`${this} returned ${r.data.keys.length} keys`, this.viaGet ? 'get-query' : undefined);
    for (const k of r.data.keys) {
      if (m.seen.has(k.key_ID)) throw new Failure(`${this} handed out key_ID ${k.key_ID} again`);
      m.seen.add(k.key_ID);
      m.pending.set(k.key_ID, fingerprintBase64(k.key));
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
  async run(m: Model, t: Real): Promise<void> {
    const ids = [...m.pending.keys()];
    const start = this.pick % ids.length;
    const chosen = this.viaGet ? [ids[start]!] : ids.slice(start, start + this.count);
    const r = this.viaGet ? await t.slave.decKeysGet(t.masterId, chosen[0]!) : await t.slave.decKeys(t.masterId, chosen);
    if (r.status !== 200 || !r.data) throw new Failure(`${this} for ${chosen.length} pending key(s) answered ${r.status}`);
    const got = new Map(r.data.keys.map((k) => [k.key_ID, fingerprintBase64(k.key)]));
    for (const id of chosen) {
      if (got.get(id) !== m.pending.get(id)) throw new Failure(`${this}: key_ID ${id} has bytes ${got.get(id) ?? 'missing'} at the slave, ${m.pending.get(id)} at the master`);
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
  async run(m: Model, t: Real): Promise<void> {
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
  async run(m: Model, t: Real): Promise<void> {
    const ids = [...m.pending.keys()];
    const id = ids[this.pick % ids.length]!;
    const r = await t.client('outsider').decKeys(t.masterId, [id]);
    if (r.status !== 401) throw new Failure(`${this}: an SAE not named as slave got ${r.status} for key_ID ${id}`);
  }
  toString = (): string => 'outsider dec_keys(pending key_ID)';
}

await defineClause('5 Methods: stateful model', import.meta.url, [
  check(
    'qkd014/5/1',
    async (t) => {
      const limits = await t.status();
      const hasOutsider = Boolean(t.role('outsider'));
      const seed = propertySeed();
      const commands = fc.commands(
        [
          fc.constant(new StatusCmd()),
          fc.tuple(fc.integer({ min: 1, max: 3 }), fc.boolean()).map(([n, g]) => new EncKeysCmd(n, g)),
          fc.tuple(fc.nat(), fc.integer({ min: 1, max: 3 }), fc.boolean()).map(([p, c, g]) => new SlaveDecKeysCmd(p, c, g)),
          fc.tuple(fc.nat(), fc.boolean()).map(([p, u]) => new ReplayCmd(p, u)),
          ...(hasOutsider ? [fc.nat().map((p) => new OutsiderCmd(p))] : []),
        ],
        { maxCommands: 15 },
      );
      const out = await fc.check(
        fc.asyncProperty(commands, async (cmds) => {
          const model: Model = { pending: new Map(), consumed: [], seen: new Set(), limits };
          await fc.asyncModelRun(() => ({ model, real: t }), cmds);
        }),
        { seed, numRuns: 12, endOnFailure: true },
      );
      if (out.failed) {
        const cause = out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance);
        const tolerance = out.errorInstance instanceof Failure ? out.errorInstance.tolerance : undefined;
        throw new Failure(`${cause.split('\n')[0]} — after ${out.counterexample?.[0]?.toString() ?? 'an unknown sequence'} (seed ${seed}, path ${out.counterexamplePath ?? '?'})`, tolerance);
      }
      return { pass: `${out.numRuns} random call sequences matched the model (seed ${seed})` };
    },
    { timeoutMs: 120_000 },
  ),
]);
