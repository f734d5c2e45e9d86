// ETSI GS QKD 014 clause 5.2 (Get status) with the Status format of clause 6.1. Each check judges the
// Status members that are valid; an invalid or missing member is qkd014/5.2/1's finding alone, and a
// check that needs one says which (an error, never a verdict).
import { check } from '../../src/conformance/check.ts';
import { defineClause } from '../../src/conformance/clause.ts';
import { CannotEvaluate, Failure, type CheckContext } from '../../src/conformance/context.ts';
import { contradiction, judgeCountTracking, refillBound, type CountDelivery, type CountSample } from '../../src/conformance/count-tracking.ts';
import { readStatusMembers } from '../../src/conformance/status-view.ts';
import type { Status } from '../../src/kme/client.ts';
import { containerKeys } from '../../src/kme/normalize.ts';
import type { RoleClient } from '../../src/target/clients.ts';

type Members = ReturnType<typeof readStatusMembers>;

/**
 * The Status of `role` towards its peer, member by member. A transport failure is a prerequisite error; so
 * is a non-200 of the master's Status (the one judged), while the slave's view then just has no members.
 */
async function membersOf(t: CheckContext, role: 'master' | 'slave'): Promise<Members & { status: number }> {
  const peer = role === 'master' ? t.slaveId : t.masterId;
  const r = await t.prerequisite(`GET status at the ${role}'s KME`, () => t.client(role).status(peer));
  if (r.status !== 200 && role === 'master') throw new CannotEvaluate(`prerequisite GET status answered ${r.status}`);
  return { status: r.status, ...(r.status === 200 ? readStatusMembers(r.data ?? r.raw.json()) : { valid: {}, invalid: new Map() }) };
}

/** Why a member cannot be judged, in words ("missing", "invalid (number, …)"), or undefined when it is valid. */
function unusable(m: Members, member: keyof Status): string | undefined {
  const why = m.invalid.get(member);
  return why === undefined ? undefined : why === 'missing' ? 'missing' : `invalid (${why})`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// qkd014/5.2/5 sampling: quiet series of SAMPLES Status answers SPACING ms apart, ROUNDS deliveries
// between them; deliveries of at most MAX_DELIVERY keys in at most MAX_REQUESTS requests, CONCURRENCY at a time.
const SAMPLES = 4;
const SPACING_MS = 120;
const ROUNDS = 3;
const MAX_DELIVERY = 1024;
const MAX_REQUESTS = 64;
const CONCURRENCY = 8;
const MAX_ANSWER_BYTES = 256 * 1024;

await defineClause('5.2 Get status', import.meta.url, [
  check('qkd014/5.2/1', async (t) => {
    const r = await t.master.status(t.slaveId);
    if (r.status !== 200) throw new Failure(`GET status answered ${r.status}`);
    if (!r.data) throw new Failure(`the Status body does not match clause 6.1: ${r.schemaError}`);
  }),

  check('qkd014/5.2/2', async (t) => {
    const st = await membersOf(t, 'master');
    const [master, slave] = [st.valid.master_SAE_ID, st.valid.slave_SAE_ID];
    const unchecked = (['master_SAE_ID', 'slave_SAE_ID'] as const).flatMap((m) => (unusable(st, m) ? [`${m} not checked: ${unusable(st, m)}, see qkd014/5.2/1`] : []));
    await t.soft(() => {
      if (master === t.slaveId && slave === t.masterId) throw new Failure(`master_SAE_ID and slave_SAE_ID are swapped (master_SAE_ID "${master}", slave_SAE_ID "${slave}")`, 'sae-ids');
      if (master !== undefined && master !== t.masterId) throw new Failure(`master_SAE_ID is "${master}", expected the caller "${t.masterId}"`);
      if (slave !== undefined && slave !== t.slaveId) throw new Failure(`slave_SAE_ID is "${slave}", expected the path SAE "${t.slaveId}"`);
    });
    // The slave's own view names itself as the caller.
    const back = await membersOf(t, 'slave');
    const [backMaster, backSlave] = [back.valid.master_SAE_ID, back.valid.slave_SAE_ID];
    await t.soft(() => {
      if (backMaster === t.masterId && backSlave === t.slaveId) throw new Failure(`at the slave's KME, master_SAE_ID and slave_SAE_ID are swapped (master_SAE_ID "${backMaster}", slave_SAE_ID "${backSlave}")`, 'sae-ids');
      if (backMaster !== undefined && backMaster !== t.slaveId) throw new Failure(`at the slave's KME, master_SAE_ID is "${backMaster}", expected the caller "${t.slaveId}"`);
    });
    if (backMaster === undefined) unchecked.push(`the slave's view not checked: ${back.status !== 200 ? `its GET status answered ${back.status}` : `master_SAE_ID ${unusable(back, 'master_SAE_ID')}`}`);
    if (t.deviations.length) return;
    // A member that could not be checked leaves the requirement open: an error that says what was and was not checked.
    const checked = [master !== undefined ? 'master_SAE_ID' : '', slave !== undefined ? 'slave_SAE_ID' : '', backMaster !== undefined ? "the slave's view" : ''].filter(Boolean);
    const seen = `${checked.length ? `checked ${checked.join(', ')}` : 'nothing checked'}; ${unchecked.join('; ')}`;
    if (master === undefined || slave === undefined) throw new CannotEvaluate(seen);
    if (unchecked.length) return { pass: seen };
  }),

  check('qkd014/5.2/3', async (t) => {
    const st = await membersOf(t, 'master');
    const roles: Array<[keyof Status, RoleClient, string]> = [
      ['source_KME_ID', t.target.roles.master, 'the answering KME'],
      ['target_KME_ID', t.target.roles.slave, "the slave's KME"],
    ];
    // Without a configured kme_id, the KME's own Status says what it calls itself (its source_KME_ID) and its peer.
    let back: Members | undefined;
    const own = async (kme: 'source' | 'target'): Promise<string | undefined> => {
      back ??= await membersOf(t, 'slave');
      return kme === 'target' ? back.valid.source_KME_ID : back.valid.target_KME_ID;
    };
    const compared: string[] = [];
    const unchecked: string[] = [];
    let invalid = false;
    const [source, target] = [st.valid.source_KME_ID, st.valid.target_KME_ID];
    const twoKmes = t.target.roles.master.kmeName !== t.target.roles.slave.kmeName;
    if (twoKmes && source !== undefined && target !== undefined && source === t.target.roles.slave.client.identity.kmeId && target === t.target.roles.master.client.identity.kmeId) {
      await t.soft(() => {
        throw new Failure(`source_KME_ID and target_KME_ID are swapped (source_KME_ID "${source}" is the kme_id of KME ${t.target.roles.slave.kmeName}, target_KME_ID "${target}" that of KME ${t.target.roles.master.kmeName})`);
      });
    } else {
      for (const [member, role, what] of roles) {
        const got = st.valid[member] as string | undefined;
        const why = unusable(st, member);
        if (why) {
          invalid = true;
          unchecked.push(`${member} not checked: GET status answered it ${why} (qkd014/5.2/1's finding)`);
          continue;
        }
        const configured = role.client.identity.kmeId;
        if (configured) {
          if (got === configured) compared.push(`${member} "${got}" equals the profile's kme_id of KME ${role.kmeName}`);
          await t.soft(() => {
            if (got !== configured) throw new Failure(`${member} is "${got}", expected ${what} "${configured}" (kme_id of KME ${role.kmeName} in the profile)`);
          });
          continue;
        }
        const peer = await own(member === 'source_KME_ID' ? 'source' : 'target');
        const peerMember = member === 'source_KME_ID' ? 'target_KME_ID' : 'source_KME_ID';
        if (peer === undefined) {
          unchecked.push(`${member} "${got}" not compared: the profile gives no kme_id for KME ${role.kmeName} and the slave's KME gave no valid ${peerMember} in its own Status`);
          continue;
        }
        if (got === peer) compared.push(`${member} "${got}" equals ${peerMember} in the slave's KME's own Status (no kme_id for KME ${role.kmeName} in the profile)`);
        await t.soft(() => {
          if (got !== peer) throw new Failure(`${member} is "${got}", but the slave's KME gives "${peer}" as ${peerMember} in its own Status (the profile gives no kme_id for KME ${role.kmeName})`);
        });
      }
      if (twoKmes && source !== undefined && target !== undefined && source === target) {
        await t.soft(() => {
          throw new Failure(`source_KME_ID and target_KME_ID are both "${source}" although master and slave use different KMEs`);
        });
      }
    }
    const seen = [...(compared.length ? compared : ['nothing compared']), ...unchecked].join('; ');
    if (t.deviations.length) return;
    // A member that could not be checked leaves the requirement open: an error that says what was and was not checked.
    if (invalid || compared.length === 0) throw new CannotEvaluate(seen);
    return { pass: seen };
  }),

  check('qkd014/5.2/4', async (t) => {
    const st = await membersOf(t, 'master');
    const s = st.valid;
    const relations: Array<[Array<keyof Status>, () => string]> = [
      [['min_key_size', 'key_size', 'max_key_size'], () => (s.min_key_size! <= s.key_size! && s.key_size! <= s.max_key_size! ? '' : `key_size ${s.key_size} outside [${s.min_key_size}, ${s.max_key_size}]`)],
      [['stored_key_count', 'max_key_count'], () => (s.stored_key_count! <= s.max_key_count! ? '' : `stored_key_count ${s.stored_key_count} > max_key_count ${s.max_key_count}`)],
      [['max_key_per_request'], () => (s.max_key_per_request! >= 1 ? '' : `max_key_per_request ${s.max_key_per_request} < 1`)],
      [['min_key_size'], () => (s.min_key_size! >= 1 ? '' : `min_key_size ${s.min_key_size} < 1`)],
      [['max_SAE_ID_count'], () => (s.max_SAE_ID_count! >= 0 ? '' : `max_SAE_ID_count ${s.max_SAE_ID_count} < 0`)],
      [['stored_key_count'], () => (s.stored_key_count! >= 0 ? '' : `stored_key_count ${s.stored_key_count} < 0`)],
    ];
    const unchecked = new Set<string>();
    const problems: string[] = [];
    for (const [members, problem] of relations) {
      const bad = members.filter((m) => unusable(st, m));
      if (bad.length) bad.forEach((m) => unchecked.add(`${m} (${unusable(st, m)})`));
      else if (problem()) problems.push(problem());
    }
    if (problems.length) throw new Failure(`inconsistent Status: ${problems.join('; ')}`);
    if (unchecked.size) throw new CannotEvaluate(`the relations over the valid members hold; not checked, the members are unusable (see qkd014/5.2/1): ${[...unchecked].join(', ')}`);
  }),

  check(
    'qkd014/5.2/5',
    async (t) => {
      const first = await t.status();
      const { key_size: size, max_key_per_request: perRequestLimit, max_key_count: maxKeyCount } = first;
      // Keys per request: the KME's limit, kept to answers of a sensible size.
      const perRequest = Math.max(1, Math.min(perRequestLimit, 128, Math.floor((MAX_ANSWER_BYTES * 8) / size)));
      const maxDelivery = Math.min(MAX_DELIVERY, perRequest * MAX_REQUESTS);
      const sample = async (): Promise<CountSample> => {
        const sentAt = performance.now();
        const count = (await t.status()).stored_key_count;
        return { count, sentAt, receivedAt: performance.now() };
      };
      const quiet = async (start?: CountSample): Promise<CountSample[]> => {
        const s = [start ?? (await sample())];
        while (s.length < SAMPLES) {
          await sleep(SPACING_MS);
          s.push(await sample());
        }
        return s;
      };
      const deliver = async (keys: number): Promise<void> => {
        const sizes = Array.from({ length: Math.ceil(keys / perRequest) }, (_v, i) => Math.min(perRequest, keys - i * perRequest));
        for (let i = 0; i < sizes.length; i += CONCURRENCY) {
          // Only the number delivered matters here (sizes and bytes are other requirements' findings).
          await Promise.all(
            sizes.slice(i, i + CONCURRENCY).map((n) =>
              t.prerequisite(`POST enc_keys number=${n}`, async () => {
                const r = await t.master.encKeys(t.slaveId, { number: n });
                if (r.status !== 200) throw new Failure(`answered ${r.status}`);
                const got = containerKeys(r.raw.json()).length;
                if (got !== n) throw new Failure(`delivered ${got} key(s), not ${n}`);
              }),
            ),
          );
        }
      };
      const evidence = { series: [await quiet()], deliveries: [] as CountDelivery[], maxKeyCount };
      let keys = Math.min(64, maxDelivery);
      for (let round = 0; round < ROUNDS; round++) {
        if (contradiction(evidence)) break; // a fall with nothing delivered settles it
        const before = evidence.series.at(-1)!.at(-1)!;
        // Enough keys that the refill seen so far hides at most a quarter of them; never more than a quarter of the pool.
        const perMs = refillBound(evidence.series, maxKeyCount);
        const last = evidence.deliveries.at(-1);
        if (last) keys = perMs === undefined ? maxDelivery : Math.max(keys, Math.ceil(4 * (2 * perMs * (last.after.receivedAt - last.before.sentAt) + 2)));
        keys = Math.min(keys, maxDelivery, Math.floor(before.count / 4));
        if (keys < 1) break;
        await deliver(keys);
        const after = await sample();
        evidence.deliveries.push({ keys, before, after });
        evidence.series.push(await quiet(after));
      }
      const v = judgeCountTracking(evidence);
      if (v.verdict === 'does-not-track') throw new Failure(v.reason);
      if (v.verdict === 'tracks') return { pass: v.reason };
      if (!evidence.deliveries.length) return { info: `stored_key_count ${evidence.series[0]!.at(-1)!.count} is too low to deliver keys without emptying the pool; not judged` };
      return { info: v.reason };
    },
    { timeoutMs: 90_000 },
  ),
]);
