// ETSI GS QKD 014 clause 6: JSON in general (6), the Key container (6.3) and Error (6.5) data formats.
import { check } from '../../src/conformance/check.ts';
import { defineClause } from '../../src/conformance/clause.ts';
import { CannotEvaluate, Failure, Skip, type CheckContext } from '../../src/conformance/context.ts';
import type { CallResult, KeyContainer, Status } from '../../src/kme/client.ts';
import { containerKeys, type FormatIssueKind } from '../../src/kme/normalize.ts';
import { UUID_RE, errorBodyProblem, expectKeys, rawOf, truncate } from '../../src/conformance/expect.ts';
import { MIN_JUDGED_BYTES, MONOBIT_ALPHA, MONOBIT_MIN_BITS, describeRelations, distinctKeys, hashOfAnother, keyIdDerivation, monobit, prefixExtension, repeatedMaterial, type RunKey } from '../../src/conformance/key-independence.ts';
import { base64Problem } from '../../src/psk/base64.ts';
import { KmeClient } from '../../src/kme/client.ts';
import { evidenceOf, type Evidence } from '../../src/conformance/evidence.ts';

/** One answer of every kind a KME gives: Status, enc_keys (POST, GET), dec_keys (POST, GET), and a 400. */
async function everyAnswer(t: CheckContext): Promise<Array<CallResult<unknown>>> {
  const answers: Array<CallResult<unknown>> = [await t.master.status(t.slaveId)];
  const enc = await t.master.encKeys(t.slaveId, { number: 1 });
  const encGet = await t.master.encKeysGet(t.slaveId);
  answers.push(enc, encGet);
  const [a] = enc.data?.keys ?? [];
  const [b] = encGet.data?.keys ?? [];
  if (a) answers.push(await t.slave.decKeys(t.masterId, [a.key_ID]));
  if (b) answers.push(await t.slave.decKeysGet(t.masterId, b.key_ID));
  answers.push(await t.slave.decKeys(t.masterId, ['00000000-0000-4000-8000-0000000000ff']));
  return answers;
}

const where = (r: CallResult<unknown>): string => `${r.raw.method} ${new URL(r.raw.url).pathname}${new URL(r.raw.url).search} (${r.status})`;

/**
 * Records one deviation per answer and kind that shows a format issue of one of `kinds` (a null optional
 * member is the tolerated null-optional kind; any other is not); an error when no answer could be judged.
 */
async function judgeFormat(t: CheckContext, kinds: FormatIssueKind[], judged: (r: CallResult<unknown>) => boolean): Promise<{ pass: string }> {
  const answers = await everyAnswer(t);
  const seen = answers.filter(judged);
  if (seen.length === 0) throw new CannotEvaluate(`none of ${answers.length} answers could be inspected (${answers.map((r) => r.status).join(', ')})`);
  for (const r of seen) {
    for (const kind of kinds) {
      const issues = (r.formatIssues ?? []).filter((i) => i.kind === kind);
      if (issues.length) await t.soft(() => { throw new Failure(`${where(r)}: ${issues.map((i) => i.message).join('; ')}`, kind === 'null-optional' ? 'null-optional' : undefined); });
    }
  }
  return { pass: `${seen.length} answers inspected (${seen.map(where).join(', ')})` };
}

/** At most this many keys per request in the key_ID probes of qkd014/6.3/1 (enough to show a pattern). */
const MAX_KEYS_PER_PROBE = 16;
/** The largest key the key_ID probes ask for, in bits. */
const MAX_PROBE_KEY_BITS = 8192;
/** At most this many requests qkd014/6.3/4 makes to pool MONOBIT_MIN_BITS bits when the run has fewer. */
const MAX_FETCHES = 40;

/** Key sizes (bits, multiples of 8) a KME might serve differently: its smallest, its largest (capped) and one other than the default. */
function keySizes(st: Status): { min: number; max: number; other?: number } {
  const min = Math.ceil(st.min_key_size / 8) * 8;
  const max = Math.floor(Math.min(st.max_key_size, MAX_PROBE_KEY_BITS) / 8) * 8;
  const other = [512, 1024, 128, 64].find((s) => s !== st.key_size && s >= st.min_key_size && s <= st.max_key_size);
  return { min, max, ...(other ? { other } : {}) };
}

/** The entries of a key container as sent, whatever its array is called (that is qkd014/6.3/3's finding); undefined without one. */
function keyEntries(body: unknown): Array<Record<string, unknown>> | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const o = body as Record<string, unknown>;
  const member = Object.keys(o).find((k) => k.toLowerCase() === 'keys' && Array.isArray(o[k]));
  return member ? (o[member] as unknown[]).map((k) => (k && typeof k === 'object' && !Array.isArray(k) ? (k as Record<string, unknown>) : {})) : undefined;
}

/**
 * The distinct keys of the run, topped up with default-size keys (bounded: MAX_FETCHES requests of at
 * most max_key_per_request keys) until they hold MONOBIT_MIN_BITS bits. A refused request is a failed
 * prerequisite; a KME that hands out no new key stops the top-up early.
 */
async function keysOfRun(t: CheckContext): Promise<RunKey[]> {
  const bits = (ks: readonly RunKey[]): number => ks.reduce((sum, k) => sum + k.bytes.length * 8, 0);
  let keys = distinctKeys(t.target.keys.all());
  if (bits(keys) >= MONOBIT_MIN_BITS) return keys;
  const st = await t.status();
  for (let i = 0; i < MAX_FETCHES && bits(keys) < MONOBIT_MIN_BITS; i++) {
    const n = Math.max(1, Math.min(st.max_key_per_request, Math.ceil((MONOBIT_MIN_BITS - bits(keys)) / st.key_size)));
    await t.prerequisite(`POST enc_keys number=${n}`, async () => expectKeys(await t.master.encKeys(t.slaveId, { number: n }), n, st.key_size, `POST enc_keys number=${n}`));
    const before = keys.length;
    keys = distinctKeys(t.target.keys.all());
    if (keys.length === before) break;
  }
  return keys;
}

/** Evidence of the answer of this check that delivered `keyId` (the redacted container), when it made one. */
function deliveredBy(t: CheckContext, keyId: string): Evidence | undefined {
  const e = [...t.exchanges].reverse().find((x) => x.raw.status === 200 && x.raw.text().includes(keyId));
  return e && evidenceOf(e.raw, e.files);
}

await defineClause('6 Data formats', import.meta.url, [
  // Optional members are looked for where the body was otherwise judged: a 200 Status or key container, or an Error object.
  // A 200 body that is not JSON has no members to look at (it is not inspected: no pass on bodies never read).
  check('qkd014/6/1', (t) => judgeFormat(t, ['null-optional', 'invalid-optional'], (r) => (r.status === 200 && (r.data !== undefined || (r.schemaError !== undefined && r.raw.json() !== undefined))) || (r.status >= 400 && !!r.error && typeof r.error === 'object'))),

  // Every answer with a body, error answers included.
  check('qkd014/6/2', (t) => judgeFormat(t, ['invalid-utf8'], (r) => r.raw.body.length > 0)),

  check('qkd014/6.3/1', async (t) => {
    const st = await t.status();
    const n = Math.max(1, Math.min(st.max_key_per_request, MAX_KEYS_PER_PROBE));
    const { min, max, other } = keySizes(st);
    const from = new Map<string, string>(); // key_ID → the answer that delivered it first
    const notServed: string[] = [];
    const take = (what: string, r: CallResult<KeyContainer>): string[] => {
      const ids = containerKeys(r.raw.json()).map((k) => k.key_ID);
      if (r.status !== 200 || ids.length === 0) notServed.push(`${what} (${r.status}${r.status === 200 ? ', no key_ID' : ''})`);
      for (const id of ids) if (!from.has(id)) from.set(id, what);
      return r.status === 200 ? ids : [];
    };
    // Every size and number a KME might treat differently, by every endpoint that hands out key_IDs.
    const sized: string[] = [];
    for (const size of new Set([min, max, other].filter((s): s is number => s !== undefined && s !== st.key_size))) {
      sized.push(...take(`POST enc_keys size=${size}`, await t.master.encKeys(t.slaveId, { number: 1, size })));
    }
    const many = take(`POST enc_keys number=${n}`, await t.master.encKeys(t.slaveId, { number: n }));
    const query = { number: n, ...(other ? { size: other } : {}) };
    const getMany = take(`GET enc_keys?${new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString()}`, await t.master.encKeysGet(t.slaveId, query));
    const getOne = take('GET enc_keys', await t.master.encKeysGet(t.slaveId));
    if (many.length) take(`POST dec_keys with ${many.length} key_ID(s)`, await t.slave.decKeys(t.masterId, many));
    if (sized.length) take(`POST dec_keys with ${sized.length} key_ID(s) of other sizes`, await t.slave.decKeys(t.masterId, sized));
    for (const id of [getOne[0], getMany[0]]) if (id) take('GET dec_keys', await t.slave.decKeysGet(t.masterId, id));
    // …and every key_ID the run received before, whatever produced it.
    let earlier = 0;
    for (const k of t.target.keys.keyIds()) {
      if (from.has(k.key_ID)) continue;
      from.set(k.key_ID, `${k.via} (earlier in the run)`);
      earlier++;
    }
    if (from.size === 0) throw new CannotEvaluate(`no key_ID to judge: no request for keys was served (${notServed.join(', ')})`);

    const bad = new Map<string, string[]>();
    const odd: string[] = [];
    for (const [id, what] of from) {
      if (!UUID_RE.test(id)) bad.set(what, [...(bad.get(what) ?? []), id]);
      else if (!'12345678'.includes(id[14]!)) odd.push(`${id} (version ${id[14]})`);
    }
    for (const [what, ids] of bad) {
      await t.soft(() => {
        throw new Failure(`${what}: ${ids.length} key_ID(s) not in UUID format (8-4-4-4-12 hex), e.g. ${ids.slice(0, 2).map((id) => `"${truncate(id, 60)}"`).join(', ')}`, undefined, deliveredBy(t, ids[0]!));
      });
    }
    const judged = `${from.size} key_IDs judged (${from.size - earlier} from this check's requests of sizes ${[...new Set([st.key_size, ...[min, max, other].filter((s) => s !== undefined)])].join('/')} bits and numbers 1/${n}, ${earlier} from earlier in the run)${notServed.length ? `; not served, so not judged here: ${notServed.join(', ')}` : ''}`;
    if (odd.length) return { warn: `key_IDs with an unusual UUID version: ${odd.slice(0, 5).join(', ')}${odd.length > 5 ? ` and ${odd.length - 5} more` : ''}; ${judged}` };
    return { pass: judged };
  }),

  check('qkd014/6.3/2', async (t) => {
    const r = await t.master.raw({ method: 'POST', path: KmeClient.path(t.slaveId, 'enc_keys'), body: { number: 1 } });
    const entries = keyEntries(r.json());
    // What is judged is the encoding of keys; a refusal or an empty container leaves nothing to judge.
    if (r.status !== 200 || !entries) throw new CannotEvaluate(`prerequisite POST enc_keys {"number": 1} failed: answered ${r.status}${r.status === 200 ? ' without a key array' : ''}`);
    if (entries.length === 0) throw new CannotEvaluate('prerequisite POST enc_keys {"number": 1} answered an empty key container: no key to judge');
    for (const k of entries) {
      await t.soft(() => {
        if (typeof k.key !== 'string') throw new Failure(`key of ${String(k.key_ID)} is not a string (${k.key === undefined ? 'absent' : typeof k.key}; members: ${Object.keys(k).join(', ')})`);
        const problem = base64Problem(k.key);
        if (problem) throw new Failure(`key of ${String(k.key_ID)} is not standard padded Base64: ${problem}`);
      });
    }
  }),

  check('qkd014/6.3/3', async (t) => {
    const r = await t.master.raw({ method: 'POST', path: KmeClient.path(t.slaveId, 'enc_keys'), body: {} });
    const body = r.json() as Record<string, unknown> | undefined;
    if (r.status !== 200 || !body || typeof body !== 'object') throw new CannotEvaluate(`prerequisite POST enc_keys {} failed: answered ${r.status}${body ? '' : ' without JSON'}`);
    if (!Array.isArray(body.keys)) throw new Failure(`the key container has no "keys" array (members: ${Object.keys(body).join(', ')})`, 'Keys' in body ? 'keys-member' : undefined);
  }),

  check(
    'qkd014/6.3/4',
    async (t) => {
      const keys = await keysOfRun(t);
      await t.soft(() => {
        const found = keys.flatMap((key) => {
          const how = keyIdDerivation(key);
          return how ? [{ key, how }] : [];
        });
        if (found.length) throw new Failure(`${found.length} of ${keys.length} keys are computable from their public key_ID: ${describeRelations(found)}`, undefined, deliveredBy(t, found[0]!.key.key_ID));
      });
      await t.soft(() => {
        const found = repeatedMaterial(keys);
        if (found.length) throw new Failure(`key material repeats within the run (${found.length} pair(s)): ${describeRelations(found)}`, undefined, deliveredBy(t, found[0]!.key.key_ID));
      });
      const m = monobit(keys);
      if (m.bits < MONOBIT_MIN_BITS) throw new CannotEvaluate(`the monobit test needs ${MONOBIT_MIN_BITS} bits; the KME delivered only ${m.bits} bits of distinct keys (${keys.length} keys), and further requests brought no new key`);
      await t.soft(() => {
        if (m.pValue < MONOBIT_ALPHA) throw new Failure(`the run's pooled key bits fail the NIST SP 800-22 monobit test: ${m.ones} ones in ${m.bits} bits (${((100 * m.ones) / m.bits).toFixed(1)} %): p ${m.pValue === 0 ? '< 1e-300' : `= ${m.pValue.toExponential(2)}`}, below alpha = ${MONOBIT_ALPHA.toExponential()} (NIST SP 800-22 section 2.1)`);
      });
      return { pass: `${keys.length} distinct keys of the run: none a common hash of its key_ID, none repeated; monobit over ${m.bits} bits p = ${m.pValue.toPrecision(3)}` };
    },
    { timeoutMs: 90_000 },
  ),

  check(
    'qkd014/6.3/5',
    async (t) => {
      const st = await t.status();
      // Several keys of one size in one answer (a chain links neighbours), and keys long enough to hide a prefix extension.
      const n = Math.max(1, Math.min(st.max_key_per_request, 8));
      await t.prerequisite(`POST enc_keys number=${n}`, async () => expectKeys(await t.master.encKeys(t.slaveId, { number: n }), n, st.key_size, `POST enc_keys number=${n}`));
      const long = Math.floor(Math.min(st.max_key_size, 1024) / 8) * 8;
      if (long > st.key_size && long >= st.min_key_size) {
        const m = Math.max(1, Math.min(st.max_key_per_request, 2));
        await t.prerequisite(`POST enc_keys number=${m} size=${long}`, async () => expectKeys(await t.master.encKeys(t.slaveId, { number: m, size: long }), m, long, `POST enc_keys number=${m} size=${long}`));
      }
      const keys = distinctKeys(t.target.keys.all()).filter((k) => k.bytes.length >= MIN_JUDGED_BYTES);
      if (keys.length < 2) throw new CannotEvaluate(`only ${keys.length} key(s) of at least ${MIN_JUDGED_BYTES * 8} bits to relate`);
      await t.soft(() => {
        const found = keys.flatMap((key) => {
          const how = prefixExtension(key);
          return how ? [{ key, how }] : [];
        });
        if (found.length) throw new Failure(`${found.length} key(s) are their own first bytes extended by a hash: ${describeRelations(found)}`, undefined, deliveredBy(t, found[0]!.key.key_ID));
      });
      await t.soft(() => {
        const found = hashOfAnother(keys);
        if (found.length) throw new Failure(`${found.length} key(s) are a hash of another key delivered in the run: ${describeRelations(found)}`, undefined, deliveredBy(t, found[0]!.key.key_ID));
      });
      const sizes = [...new Set(keys.map((k) => k.bytes.length * 8))].sort((a, b) => a - b);
      return { pass: `${keys.length} distinct keys of the run (${sizes.join('/')} bits): none extends its own first bytes by a hash, none is a hash of another` };
    },
    { timeoutMs: 90_000 },
  ),
  check('qkd014/6.5/1', async (t) => {
    const st = await t.status();
    const answers = [
      await t.master.encKeys(t.slaveId, { number: st.max_key_per_request + 1 }),
      await t.slave.decKeys(t.masterId, ['00000000-0000-4000-8000-000000000000']),
      await t.master.raw({ method: 'POST', path: KmeClient.path(t.slaveId, 'enc_keys'), headers: { 'content-type': 'application/json' }, body: '{' }),
    ];
    // Status codes are judged by their own requirements; here every refusal's body must be an Error.
    const refusals = answers.map(rawOf).filter((raw) => raw.status >= 400 && raw.status !== 401);
    if (refusals.length === 0) throw new Skip('none of three bad requests was refused; no Error body to inspect');
    for (const raw of refusals) {
      await t.soft(() => {
        const problem = errorBodyProblem(raw);
        const seen = t.exchanges.find((e) => e.raw === raw); // this refusal's own evidence, not the last three exchanges
        if (problem) throw new Failure(`${raw.method} ${new URL(raw.url).pathname}: the ${raw.status} body is not an Error: ${problem}`, 'error-body', seen && evidenceOf(seen.raw, seen.files));
      });
    }
  }),
]);
