// The HSM replication requirements (specs/requirements/hsm.yaml) as pure judgements over what the suite
// observed on the two tokens (A: keys are made there; B: the replica), the agents' status, the tunnel
// and the underlay. Each returns the Verdict of checks.ts: `fail` when the observation contradicts the
// requirement, `error` when the harness could not observe what it needs (a transport failure, an empty
// window) — never a pass for having seen nothing. Evidence: labels, IDs, fingerprints, KCVs, counts and
// times; never key bytes, plaintexts, signatures or PINs.
import type { Comparison, DifferenceKind } from '../../src/hsm/compare.ts';
import type { ExtractionReport } from '../../src/hsm/extraction.ts';
import type { Inventory, InventoryEntry } from '../../src/hsm/inventory.ts';
import type { KeyKind } from '../../src/hsm/keygen.ts';
import type { ObjectName } from '../../src/hsm/objects.ts';
import type { UnderlayProtocol, UnderlaySample } from '../../src/lab/underlay-counters.ts';
import { percentile } from '../../src/sites/timeline.ts';
import type { Verdict } from './checks.ts';

/** The requirement IDs, so the fault rows name them without looking like tests of their own. */
export const HSM = {
  appears: 'hsm/1',
  exactlyOnce: 'hsm/2',
  rsaAcross: 'hsm/3',
  aesAcross: 'hsm/4',
  signAcross: 'hsm/5',
  destroy: 'hsm/6',
  protection: 'hsm/7',
  route: 'hsm/8',
  wgCounters: 'hsm/9',
  underlay: 'hsm/10',
  unreachable: 'hsm/11',
  outage: 'hsm/12',
  rotation: 'hsm/13',
  latency: 'hsm/14',
} as const;

/** A key the suite made on A: its objects (one, or a public/private pair) and when the generate returned. */
export interface MadeKey {
  kind: KeyKind;
  label: string;
  id: string;
  objects: ObjectName[];
  /** Local clock (ms) when A confirmed the generation. */
  madeAt: number;
}

/** When B was first seen holding an object (any copy) and holding it with A's fingerprint. */
export interface Arrival {
  seenAt: number | null;
  matchedAt: number | null;
}

/** A failed call, classified: `transport` = the site or module did not answer (the harness cannot judge). */
export interface CallFailure {
  transport: boolean;
  message: string;
}

export const nameKey = (n: ObjectName): string => JSON.stringify([n.class, n.label, n.id]);
export const nameText = (n: ObjectName): string => `${n.class} "${n.label}" id ${n.id || '(empty)'}`;
const s = (ms: number | null): string => (ms === null ? 'never' : `${(ms / 1000).toFixed(1)} s`);

function verdict(id: string, problems: string[], errors: string[], ok: string, evidence: Record<string, unknown>): Verdict {
  if (problems.length) return { id, outcome: 'fail', summary: problems.slice(0, 5).join('; ') + (problems.length > 5 ? ` (+${problems.length - 5} more)` : ''), evidence };
  if (errors.length) return { id, outcome: 'error', summary: `cannot judge: ${errors.slice(0, 3).join('; ')}`, evidence };
  return { id, outcome: 'pass', summary: ok, evidence };
}

/** Entries of `inv` named `n`. */
export function entriesOf(inv: Inventory, n: ObjectName): InventoryEntry[] {
  return inv.objects.filter((e) => e.class === n.class && e.label === n.label && e.id === n.id);
}

const objectsOf = (made: MadeKey[]) => made.flatMap((k) => k.objects.map((o) => ({ key: k, o })));

/**
 * hsm/1: every object of every key made on A is on B within `deadlineMs` of its generation, under the
 * same class + label + ID, with A's fingerprint. `observedAt`: when `invB` was read — an absence is only
 * a failure once the deadline has passed (before that the harness cannot judge).
 */
export function appearsOnB(made: MadeKey[], invA: Inventory, invB: Inventory, arrivals: Map<string, Arrival>, deadlineMs: number, observedAt: number): Verdict {
  const problems: string[] = [];
  const errors: string[] = [];
  const rows = objectsOf(made).map(({ key, o }) => {
    const a = entriesOf(invA, o);
    const b = entriesOf(invB, o);
    const fpA = a[0]?.fingerprint ?? null;
    const arr = arrivals.get(nameKey(o));
    const afterMs = arr?.matchedAt != null ? arr.matchedAt - key.madeAt : null;
    if (a.length !== 1 || fpA === null) errors.push(`${nameText(o)}: A holds ${a.length} copies${fpA === null && a.length ? ` without a fingerprint (${a[0]?.fingerprintNote ?? '?'})` : ''}`);
    else if (!b.length && observedAt - key.madeAt < deadlineMs) errors.push(`${nameText(o)} not on B yet, ${s(observedAt - key.madeAt)} after it was made (deadline ${s(deadlineMs)})`);
    else if (!b.length) problems.push(`${nameText(o)} not on B ${s(observedAt - key.madeAt)} after it was made on A (deadline ${s(deadlineMs)})`);
    else if (!b.some((e) => e.fingerprint === fpA)) problems.push(`${nameText(o)} on B with fingerprint ${b.map((e) => e.fingerprint ?? 'none').join(', ')} ≠ A's ${fpA}`);
    else if (afterMs === null || afterMs > deadlineMs) problems.push(`${nameText(o)} appeared on B ${s(afterMs)} after it was made (deadline ${s(deadlineMs)})`);
    return { object: o, fingerprintA: fpA, fingerprintsB: b.map((e) => e.fingerprint), afterMs };
  });
  if (!rows.length) errors.push('no key was made on A');
  return verdict(HSM.appears, problems, errors, `${rows.length} objects of ${made.length} keys appeared on B with A's fingerprint (slowest ${s(Math.max(0, ...rows.map((r) => r.afterMs ?? 0)))}, deadline ${s(deadlineMs)})`, { deadlineMs, objects: rows });
}

/** hsm/2: each object of the keys made on A is on B exactly once (and the comparison shows no duplicate of it). */
export function exactlyOnce(made: MadeKey[], invB: Inventory, comparison: Comparison): Verdict {
  const problems: string[] = [];
  const names = new Set(objectsOf(made).map(({ o }) => nameKey(o)));
  const rows = objectsOf(made).map(({ o }) => ({ object: o, copies: entriesOf(invB, o).length }));
  for (const r of rows) if (r.copies !== 1) problems.push(`${nameText(r.object)}: ${r.copies} copies on B`);
  const dups = comparison.differences.filter((d) => d.kind === 'duplicated' && names.has(nameKey(d.object)));
  for (const d of dups) if (!problems.some((p) => p.startsWith(nameText(d.object)))) problems.push(`${nameText(d.object)}: ${d.detail}`);
  const errors = rows.length ? [] : ['no key was made on A'];
  return verdict(HSM.exactlyOnce, problems, errors, `each of ${rows.length} replicated objects is on B exactly once`, { objects: rows, duplicatedOnEitherSide: comparison.counts.differences.duplicated });
}

/** One cross-site crypto trial: e.g. encrypt on A, decrypt on B. */
export interface CryptoTrial {
  what: string;
  key: ObjectName;
  mechanism?: string;
  /** true: the round trip worked (same plaintext, valid signature); false: it did not. */
  ok?: boolean;
  detail?: string;
  failure?: CallFailure;
}

function crypto(id: string, trials: CryptoTrial[], what: string): Verdict {
  const problems: string[] = [];
  const errors: string[] = [];
  for (const t of trials) {
    if (t.failure?.transport) errors.push(`${t.what}: ${t.failure.message}`);
    else if (t.failure) problems.push(`${t.what} with ${nameText(t.key)}: ${t.failure.message}`);
    else if (t.ok !== true) problems.push(`${t.what} with ${nameText(t.key)}: ${t.detail ?? 'did not round-trip'}`);
  }
  if (!trials.length) errors.push('no trial was run (no replicated key of this kind)');
  return verdict(id, problems, errors, `${trials.length} × ${what} (${[...new Set(trials.map((t) => t.mechanism).filter(Boolean))].join(', ')})`, { trials: trials.map(({ failure, ...t }) => ({ ...t, ...(failure ? { failure: failure.message } : {}) })) });
}

/** hsm/3: RSA-OAEP encrypt on A (public key) → decrypt on B (replicated private key) gives the plaintext. */
export const rsaAcross = (trials: CryptoTrial[]): Verdict => crypto(HSM.rsaAcross, trials, 'RSA-OAEP encrypt on A, decrypt on B');
/** hsm/4: AES (GCM, else CBC-PAD) encrypt on A → decrypt on B with the replicated key. */
export const aesAcross = (trials: CryptoTrial[]): Verdict => crypto(HSM.aesAcross, trials, 'AES encrypt on A, decrypt on B');
/** hsm/5: sign on B with the replicated private key → verify on A with the original public key. */
export const signAcross = (trials: CryptoTrial[]): Verdict => crypto(HSM.signAcross, trials, 'sign on B, verify on A');

/**
 * hsm/6: the objects destroyed on A are gone from B within `deadlineMs`, and the keys that were kept are
 * still there (a propagated delete takes nothing else along).
 */
export function destroyPropagates(destroyed: ObjectName[], destroyedAt: number | null, goneAt: Map<string, number | null>, kept: ObjectName[], invB: Inventory, deadlineMs: number, failure?: CallFailure): Verdict {
  const problems: string[] = [];
  const errors: string[] = [];
  if (failure) (failure.transport ? errors : problems).push(`destroy on A: ${failure.message}`);
  if (!destroyed.length && !failure) errors.push('nothing was destroyed on A');
  const rows = destroyed.map((o) => {
    const at = goneAt.get(nameKey(o)) ?? null;
    const afterMs = at !== null && destroyedAt !== null ? at - destroyedAt : null;
    const left = entriesOf(invB, o).length;
    if (left) problems.push(`${nameText(o)} destroyed on A is still on B (${left} ${left === 1 ? 'copy' : 'copies'}) after ${s(deadlineMs)}`);
    else if (afterMs === null || afterMs > deadlineMs) problems.push(`${nameText(o)} left B ${s(afterMs)} after the destroy (deadline ${s(deadlineMs)})`);
    return { object: o, goneAfterMs: afterMs, copiesLeft: left };
  });
  const lost = kept.filter((o) => entriesOf(invB, o).length === 0);
  for (const o of lost) problems.push(`${nameText(o)} (not destroyed) vanished from B too`);
  return verdict(HSM.destroy, problems, errors, `${destroyed.length} destroyed objects left B (slowest ${s(Math.max(0, ...rows.map((r) => r.goneAfterMs ?? 0)))}); ${kept.length} kept objects stayed`, { destroyed: rows, kept: kept.length, keptLost: lost });
}

/** One extraction attempt on B: the report, or why it was not run / failed. */
export interface ExtractionAttempt {
  object: ObjectName;
  report?: ExtractionReport;
  notRun?: string;
  failure?: CallFailure;
}

/**
 * hsm/7: B's copies of private and secret keys are sensitive and not extractable, their value is not
 * readable, the wrap-then-decrypt attack fails, and the comparison shows no weaker protection on B.
 * Attempts that could not be run (a remote site: no CLI command for it) are listed, not counted.
 */
export function protectionKept(replicated: ObjectName[], invB: Inventory, comparison: Comparison, attempts: ExtractionAttempt[]): Verdict {
  const problems: string[] = [];
  const errors: string[] = [];
  const keys = replicated.filter((o) => o.class === 'private-key' || o.class === 'secret-key');
  const rows = keys.map((o) => {
    const copies = entriesOf(invB, o);
    if (!copies.length) errors.push(`${nameText(o)} is not on B (hsm/1 judges that)`);
    for (const c of copies) {
      if (c.protection.sensitive !== true) problems.push(`${nameText(o)} on B: CKA_SENSITIVE=${c.protection.sensitive ?? 'unreadable'}`);
      if (c.protection.extractable !== false) problems.push(`${nameText(o)} on B: CKA_EXTRACTABLE=${c.protection.extractable ?? 'unreadable'}`);
    }
    return { object: o, copies: copies.map((c) => ({ sensitive: c.protection.sensitive ?? null, extractable: c.protection.extractable ?? null, fingerprint: c.fingerprint })) };
  });
  const names = new Set(keys.map(nameKey));
  for (const d of comparison.differences.filter((x) => x.kind === 'weaker-protection' && names.has(nameKey(x.object)))) problems.push(`${nameText(d.object)}: ${d.detail}`);
  const attemptRows = attempts.map((a) => {
    if (a.failure) (a.failure.transport ? errors : problems).push(`extraction attempt on ${nameText(a.object)}: ${a.failure.message}`);
    const r = a.report;
    if (r?.read.outcome === 'readable') problems.push(`${nameText(a.object)} on B: the value is readable (${r.read.bytes} bytes)`);
    if (r?.wrap.outcome === 'extracted') problems.push(`${nameText(a.object)} on B: wrapped with a caller-controlled key (${r.wrap.mechanism}) and decrypted to ${r.wrap.bytes} bytes${r.wrap.kcvMatches ? ' that reproduce its KCV' : ''}`);
    if (r?.wrap.outcome === 'wrapped-not-recovered') problems.push(`${nameText(a.object)} on B: C_WrapKey under a caller-controlled key succeeded (${r.wrap.mechanism})`);
    return { object: a.object, read: r?.read ?? null, wrap: r?.wrap ?? null, ...(a.notRun ? { notRun: a.notRun } : {}), ...(a.failure ? { failure: a.failure.message } : {}) };
  });
  if (!keys.length) errors.push('no private or secret key was replicated');
  const run = attempts.filter((a) => a.report).length;
  const notRun = attempts.filter((a) => a.notRun);
  return verdict(HSM.protection, problems, errors, `${keys.length} replicated private/secret keys are sensitive and not extractable on B; ${run} extraction attempts refused${notRun.length ? ` (${notRun.length} not run: ${notRun[0]!.notRun})` : ''}`, { keys: rows, attempts: attemptRows });
}

/** The agents' session addresses (status files) and the route A's kernel takes to the service. */
export interface RouteObservation {
  /** The primary's last session: `local` (its source) and `remote` (the service) as HOST:PORT. */
  primary: { local: string; remote: string } | null;
  /** The replica's last session: `remote` is where the primary came from. */
  replica: { local: string; remote: string } | null;
  /** `ip route get <service host>` on A: the device. */
  routeDevice: string | null;
  wgInterface: string;
  /** The service's tunnel address (where it must be reached). */
  serviceHost: string;
  /** A's tunnel address. */
  primaryTunnelHost: string;
}

const host = (hp: string | undefined): string | undefined => hp?.replace(/^\[/, '').replace(/\]?:\d+$/, '');

/** hsm/8: the session to the remote HSM service runs between the tunnel addresses, and the route goes through the WireGuard device. */
export function routeViaTunnel(o: RouteObservation): Verdict {
  const problems: string[] = [];
  const errors: string[] = [];
  if (!o.primary) errors.push("the primary's status shows no session (replication never connected)");
  else {
    if (host(o.primary.remote) !== o.serviceHost) problems.push(`the primary connected to ${o.primary.remote}, not to the service's tunnel address ${o.serviceHost}`);
    if (host(o.primary.local) !== o.primaryTunnelHost) problems.push(`the primary's session left from ${o.primary.local}, not from A's tunnel address ${o.primaryTunnelHost}`);
  }
  if (o.replica && host(o.replica.local) !== o.serviceHost) problems.push(`the replica accepted the session on ${o.replica.local}, not on its tunnel address`);
  if (o.primary) {
    if (o.routeDevice === null) errors.push(`no route to ${host(o.primary.remote)} could be read on A`);
    else if (o.routeDevice !== o.wgInterface) problems.push(`A routes ${host(o.primary.remote)} via ${o.routeDevice}, not the WireGuard interface ${o.wgInterface}`);
  }
  return verdict(HSM.route, problems, errors, `replication runs ${o.primary?.local} → ${o.primary?.remote} via ${o.routeDevice}`, { ...o });
}

/** hsm/9: A's WireGuard tx/rx grew by at least what the primary sent/received over the same window. */
export function wgCountersCover(wg: { tx: number; rx: number }, agent: { sent: number; received: number }, windowMs: number): Verdict {
  const problems: string[] = [];
  const errors: string[] = [];
  if (agent.sent <= 0) errors.push('the replication sent nothing in the window');
  if (wg.tx < agent.sent) problems.push(`WireGuard tx grew by ${wg.tx} bytes, the replication sent ${agent.sent}`);
  if (wg.rx < agent.received) problems.push(`WireGuard rx grew by ${wg.rx} bytes, the replication received ${agent.received}`);
  return verdict(HSM.wgCounters, problems, errors, `WireGuard tx +${wg.tx} B ≥ replication sent ${agent.sent} B; rx +${wg.rx} B ≥ received ${agent.received} B over ${s(windowMs)}`, { windowMs, wireguard: wg, replication: agent });
}

/** What may cross the underlay (besides link housekeeping). */
export const UNDERLAY_ALLOWED: readonly UnderlayProtocol[] = ['wireguard', 'key-control', 'pqc', 'kms-link', 'link'];

/** hsm/10: over the window, on each site's underlay interface, only allowed protocols were counted, and WireGuard was among them. */
export function underlayOnlyAllowed(deltas: Record<string, UnderlaySample>, windowMs: number): Verdict {
  const problems: string[] = [];
  const errors: string[] = [];
  const rows: Record<string, Record<string, { packets: number; bytes: number }>> = {};
  for (const [site, d] of Object.entries(deltas)) {
    rows[site] = Object.fromEntries(Object.entries(d.protocols).map(([p, c]) => [p, { packets: c.packets, bytes: c.bytes }]));
    for (const [p, c] of Object.entries(d.protocols)) {
      if (!UNDERLAY_ALLOWED.includes(p as UnderlayProtocol) && c.packets > 0) problems.push(`${site}: ${c.packets} ${p} packets (${c.bytes} B) on the underlay`);
    }
    if (d.protocols.wireguard.packets === 0) errors.push(`${site}: no WireGuard packet on the underlay in the window (were the counters on the right interface?)`);
  }
  if (!Object.keys(deltas).length) errors.push('no underlay counters were read');
  return verdict(HSM.underlay, problems, errors, `${Object.entries(rows).map(([site, r]) => `${site}: ${UNDERLAY_ALLOWED.filter((p) => r[p]!.packets).map((p) => `${p} ${r[p]!.packets}`).join(', ')}`).join('; ')} packets; nothing else, over ${s(windowMs)}`, { windowMs, sites: rows });
}

/** A TCP connection attempt's outcome. */
export type ConnectOutcome = 'connected' | 'refused' | 'timeout' | 'unreachable' | 'error';

/** hsm/11: the service refuses (or never answers) on B's underlay address while it accepts on the tunnel address (the control). */
export function underlayUnreachable(underlay: { target: string; outcome: ConnectOutcome; detail?: string }, tunnel: { target: string; outcome: ConnectOutcome; detail?: string }): Verdict {
  const problems: string[] = [];
  const errors: string[] = [];
  if (underlay.outcome === 'connected') problems.push(`the HSM service accepted a connection on the underlay address ${underlay.target}`);
  if (underlay.outcome === 'error') errors.push(`the attempt on ${underlay.target} failed for another reason: ${underlay.detail ?? '?'}`);
  if (tunnel.outcome !== 'connected') errors.push(`the control attempt on the tunnel address ${tunnel.target} did not connect (${tunnel.outcome}${tunnel.detail ? `: ${tunnel.detail}` : ''}): the service is not up, so its absence on the underlay proves nothing`);
  return verdict(HSM.unreachable, problems, errors, `${underlay.target}: ${underlay.outcome}; ${tunnel.target}: connected`, { underlay, tunnel });
}

/** What the outage phase observed. */
export interface OutageObservation {
  outageMs: number;
  made: ObjectName[];
  destroyed: ObjectName[];
  /** Objects of `made` already on B (or `destroyed` already gone) while the underlay was still cut: the cut did not work. */
  leakedDuringOutage: string[];
  restoredAt: number;
  /** When B first matched A again for these objects (null: not within the deadline). */
  caughtUpAt: number | null;
  deadlineMs: number;
  invB: Inventory;
  comparison: Comparison;
  failure?: CallFailure;
}

/** hsm/12: after the outage B catches up: every key made during it once, the destroyed one gone, the tokens identical; catch-up time measured. */
export function outageCatchUp(o: OutageObservation): Verdict {
  const problems: string[] = [];
  const errors: string[] = [];
  if (o.failure) (o.failure.transport ? errors : problems).push(o.failure.message);
  if (!o.made.length) errors.push('no key was made during the outage');
  if (o.leakedDuringOutage.length) errors.push(`B changed while the underlay was cut (${o.leakedDuringOutage.slice(0, 3).join(', ')}): the outage was not one`);
  for (const n of o.made) {
    const c = entriesOf(o.invB, n).length;
    if (c !== 1) problems.push(`${nameText(n)} made during the outage: ${c} copies on B`);
  }
  for (const n of o.destroyed) if (entriesOf(o.invB, n).length) problems.push(`${nameText(n)} destroyed during the outage is still on B`);
  const counted: DifferenceKind[] = ['missing', 'extra', 'duplicated', 'fingerprint'];
  for (const d of o.comparison.differences.filter((x) => counted.includes(x.kind))) problems.push(`after catch-up: ${d.kind} ${nameText(d.object)} (${d.detail})`);
  const catchUpMs = o.caughtUpAt === null ? null : o.caughtUpAt - o.restoredAt;
  if (catchUpMs === null && !problems.length) problems.push(`B did not catch up within ${s(o.deadlineMs)} of the underlay's return`);
  return verdict(HSM.outage, problems, errors, `after a ${s(o.outageMs)} outage B caught up in ${s(catchUpMs)}: ${o.made.length} keys made and ${o.destroyed.length} destroyed during it, tokens identical`, {
    outageMs: o.outageMs,
    catchUpMs,
    deadlineMs: o.deadlineMs,
    made: o.made,
    destroyed: o.destroyed,
    leakedDuringOutage: o.leakedDuringOutage,
    differences: o.comparison.counts.differences,
  });
}

/** The tunnel's PSK on A over the run, and around each key's generation (sampled just before and just after it). */
export interface RotationObservation {
  /** PSK fingerprints on A in the order seen, with when each was first seen. */
  psks: Array<{ fp: string; seenAt: number }>;
  /** Per key made: the PSK right before its generation started and right after it returned. */
  keys: Array<{ label: string; id: string; before: string; after: string }>;
}

/**
 * hsm/13: keys were made under at least two different PSKs (so at least one rotation fell between them
 * while replication ran), and every key made is on B exactly once. A key whose generation straddled a
 * change belongs to neither side; with keys under one PSK only the harness cannot judge.
 */
export function rotationLosesNothing(made: MadeKey[], rot: RotationObservation, invB: Inventory): Verdict {
  const problems: string[] = [];
  const errors: string[] = [];
  const epochOf = (fp: string) => rot.psks.findIndex((p) => p.fp === fp);
  const epochs = rot.keys.filter((k) => k.before === k.after).map((k) => ({ ...k, epoch: epochOf(k.after) }));
  const distinct = [...new Set(epochs.map((e) => e.epoch))].sort((x, y) => x - y);
  if (rot.psks.length < 2) errors.push('no PSK rotation happened while keys were being made (shorten QKD_E2E_INTERVAL)');
  else if (distinct.length < 2) errors.push(`every key made under one PSK (${rot.psks[distinct[0] ?? 0]?.fp ?? '?'}) — the rotations fell inside generations only`);
  for (const k of made) for (const o of k.objects) {
    const c = entriesOf(invB, o).length;
    const e = epochs.find((x) => x.label === k.label && x.id === k.id);
    if (c !== 1) problems.push(`${nameText(o)} (made under PSK #${e?.epoch ?? '?'}): ${c} copies on B`);
  }
  return verdict(HSM.rotation, problems, errors, `${made.length} keys made under ${distinct.length} successive PSKs (${rot.psks.length - 1} rotations seen) are each on B once`, {
    rotations: rot.psks.map((p) => ({ psk: p.fp, seenAt: new Date(p.seenAt).toISOString() })),
    keysPerPsk: distinct.map((d) => ({ psk: rot.psks[d]?.fp, keys: epochs.filter((e) => e.epoch === d).length })),
    keysStraddling: rot.keys.length - epochs.length,
  });
}

/** Made on A → found on B (with A's fingerprint) per object that arrived, for hsm/14's chart. */
export function objectLatencies(made: MadeKey[], arrivals: Map<string, Arrival>): Array<{ label: string; class: string; kind: string; ms: number }> {
  return objectsOf(made).flatMap(({ key, o }) => {
    const at = arrivals.get(nameKey(o))?.matchedAt ?? null;
    return at === null ? [] : [{ label: o.label, class: o.class, kind: key.kind, ms: at - key.madeAt }];
  });
}

/** hsm/14 (measurement): latency per object (made on A → found on B; agent put → ack) and throughput. */
export function latencyReport(made: MadeKey[], arrivals: Map<string, Arrival>, agent: { n: number; p50: number | null; p95: number | null } | null): Verdict {
  const perKey = made
    .map((k) => {
      const at = k.objects.map((o) => arrivals.get(nameKey(o))?.matchedAt ?? null);
      return at.every((x) => x !== null) ? Math.max(...(at as number[])) - k.madeAt : null;
    })
    .filter((x): x is number => x !== null);
  const errors: string[] = [];
  if (!perKey.length) errors.push('no key was seen arriving on B');
  const objects = made.reduce((n, k) => n + k.objects.length, 0);
  const firstMade = Math.min(...made.map((k) => k.madeAt));
  const lastFound = Math.max(...made.flatMap((k) => k.objects.map((o) => arrivals.get(nameKey(o))?.matchedAt ?? -Infinity)));
  const spanMs = Number.isFinite(lastFound) && Number.isFinite(firstMade) ? lastFound - firstMade : null;
  const perSecond = spanMs && spanMs > 0 ? Math.round((objects / (spanMs / 1000)) * 100) / 100 : null;
  const ev = {
    keys: made.length,
    objects,
    madeToFoundMs: { n: perKey.length, p50: percentile(perKey, 50), p95: percentile(perKey, 95), max: perKey.length ? Math.max(...perKey) : null },
    agentPutToAckMs: agent,
    objectsPerSecond: perSecond,
    spanMs,
    note: 'made→found includes the suite polling B through a child process per inventory (about a second); the agent figure is the tunnel round trip of one put',
  };
  return verdict(HSM.latency, [], errors, `made on A → found on B p50 ${ev.madeToFoundMs.p50} ms, p95 ${ev.madeToFoundMs.p95} ms per key; agent put → ack p50 ${agent?.p50 ?? '?'} ms, p95 ${agent?.p95 ?? '?'} ms (n ${agent?.n ?? 0}); ${perSecond ?? '?'} objects/s`, ev);
}
