// Comparison of two token inventories — what an operator checks before go-live after replication
// (Luna HA cloning, or the harness's replication agent): the same objects, each exactly once, with the
// same key, protected at least as well on both sides.
//
// Objects are matched by class + CKA_LABEL + CKA_ID (never by handle). Counted as differences:
// - missing: on A, not on B;  extra: on B, not on A (A is the reference, B the replica);
// - duplicated: more than one object with the same name on a side (a replayed import);
// - fingerprint: the same name holds different key material (or an unverifiable fingerprint);
// - weaker-protection: CKA_SENSITIVE false on one side where it is true on the other (a copy whose value
//   can be read in clear).
// Shown but not counted: CKA_EXTRACTABLE, CKA_LOCAL, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE and
// CKA_PRIVATE — replication legitimately changes the first four (a copy made by unwrapping is not
// LOCAL, and its source had to be EXTRACTABLE).
import type { Inventory, InventoryEntry, Protection } from './inventory.ts';
import type { ObjectName } from './objects.ts';

export type DifferenceKind = 'missing' | 'extra' | 'duplicated' | 'fingerprint' | 'weaker-protection';
export type Side = 'a' | 'b';

export interface Difference {
  kind: DifferenceKind;
  object: ObjectName;
  /** The side the difference is about (missing/extra: the side lacking/holding it; weaker: the weaker side). */
  side?: Side;
  detail: string;
}

/** An attribute that differs without counting as a difference. */
export interface AttributeNote {
  object: ObjectName;
  attribute: 'EXTRACTABLE' | 'LOCAL' | 'ALWAYS_SENSITIVE' | 'NEVER_EXTRACTABLE' | 'PRIVATE';
  a: boolean | null;
  b: boolean | null;
}

/** One line of the comparison table: a name and what each side holds. */
export interface ComparisonRow {
  object: ObjectName;
  a: InventoryEntry[];
  b: InventoryEntry[];
  verdict: 'same' | DifferenceKind[];
}

export interface Comparison {
  /** No difference AND something was compared: two empty tokens (a wrong token or partition named) are not "identical". */
  identical: boolean;
  /** Both tokens hold no objects: nothing was compared, so nothing is claimed. */
  empty: boolean;
  differences: Difference[];
  notes: AttributeNote[];
  rows: ComparisonRow[];
  counts: { a: number; b: number; differences: Record<DifferenceKind, number> };
}

const SHOWN: Array<[keyof Protection, AttributeNote['attribute']]> = [
  ['extractable', 'EXTRACTABLE'],
  ['local', 'LOCAL'],
  ['alwaysSensitive', 'ALWAYS_SENSITIVE'],
  ['neverExtractable', 'NEVER_EXTRACTABLE'],
  ['private', 'PRIVATE'],
];

const keyOf = (n: ObjectName): string => JSON.stringify([n.class, n.label, n.id]);
const nameOf = (e: InventoryEntry): ObjectName => ({ class: e.class, label: e.label, id: e.id });
const short = (fp: string | null): string => (fp === null ? 'none' : fp.length > 24 ? `${fp.slice(0, 23)}…` : fp);

function group(inv: Inventory): Map<string, InventoryEntry[]> {
  const m = new Map<string, InventoryEntry[]>();
  for (const e of inv.objects) m.set(keyOf(e), [...(m.get(keyOf(e)) ?? []), e]);
  return m;
}

/** Compares inventory `a` (reference) with `b` (replica). Pure: no PKCS#11 call. */
export function compareInventories(a: Inventory, b: Inventory): Comparison {
  const ga = group(a);
  const gb = group(b);
  const names = [...new Set([...ga.keys(), ...gb.keys()])].sort();
  const differences: Difference[] = [];
  const notes: AttributeNote[] = [];
  const rows: ComparisonRow[] = [];
  for (const k of names) {
    const ea = ga.get(k) ?? [];
    const eb = gb.get(k) ?? [];
    const object = nameOf((ea[0] ?? eb[0])!);
    const found: Difference[] = [];
    if (ea.length && !eb.length) found.push({ kind: 'missing', object, side: 'b', detail: `on A (${a.token.label}), not on B (${b.token.label})` });
    if (eb.length && !ea.length) found.push({ kind: 'extra', object, side: 'b', detail: `on B (${b.token.label}), not on A (${a.token.label})` });
    for (const [side, list, inv] of [['a', ea, a], ['b', eb, b]] as const) {
      if (list.length > 1) found.push({ kind: 'duplicated', object, side, detail: `${list.length} objects on ${side.toUpperCase()} (${inv.token.label})` });
    }
    if (ea.length && eb.length) {
      found.push(...fingerprintDifference(object, ea, eb));
      found.push(...protectionDifference(object, ea, eb));
      notes.push(...attributeNotes(object, ea, eb));
    }
    differences.push(...found);
    rows.push({ object, a: ea, b: eb, verdict: found.length ? [...new Set(found.map((d) => d.kind))] : 'same' });
  }
  const counts = { missing: 0, extra: 0, duplicated: 0, fingerprint: 0, 'weaker-protection': 0 } as Record<DifferenceKind, number>;
  for (const d of differences) counts[d.kind]++;
  const empty = a.objects.length === 0 && b.objects.length === 0;
  return { identical: differences.length === 0 && !empty, empty, differences, notes, rows, counts: { a: a.objects.length, b: b.objects.length, differences: counts } };
}

/** Every copy on each side must carry a fingerprint, and the two sides the same set of them. */
function fingerprintDifference(object: ObjectName, ea: InventoryEntry[], eb: InventoryEntry[]): Difference[] {
  const missing = [...ea, ...eb].filter((e) => e.fingerprint === null);
  if (missing.length) return [{ kind: 'fingerprint', object, detail: `cannot be verified: ${missing.map((e) => e.fingerprintNote ?? 'no fingerprint').join('; ')}` }];
  const fa = new Set(ea.map((e) => e.fingerprint));
  const fb = new Set(eb.map((e) => e.fingerprint));
  const same = fa.size === fb.size && [...fa].every((f) => fb.has(f));
  if (same) return [];
  return [{ kind: 'fingerprint', object, detail: `A ${[...fa].map(short).join(', ')} ≠ B ${[...fb].map(short).join(', ')}` }];
}

/** CKA_SENSITIVE false on one side while every copy on the other side is sensitive. */
function protectionDifference(object: ObjectName, ea: InventoryEntry[], eb: InventoryEntry[]): Difference[] {
  const sensitive = (l: InventoryEntry[]) => l.every((e) => e.protection.sensitive === true);
  const exposed = (l: InventoryEntry[]) => l.some((e) => e.protection.sensitive === false);
  const out: Difference[] = [];
  if (sensitive(ea) && exposed(eb)) out.push({ kind: 'weaker-protection', object, side: 'b', detail: 'CKA_SENSITIVE is false on B, true on A: the copy can be read in clear' });
  if (sensitive(eb) && exposed(ea)) out.push({ kind: 'weaker-protection', object, side: 'a', detail: 'CKA_SENSITIVE is false on A, true on B' });
  return out;
}

function attributeNotes(object: ObjectName, ea: InventoryEntry[], eb: InventoryEntry[]): AttributeNote[] {
  const out: AttributeNote[] = [];
  for (const [k, attribute] of SHOWN) {
    const va = ea[0]!.protection[k];
    const vb = eb[0]!.protection[k];
    if (va !== vb) out.push({ object, attribute, a: va ?? null, b: vb ?? null });
  }
  return out;
}
