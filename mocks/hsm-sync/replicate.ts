// Copying one key from the primary's token to the replica's, and deleting it there:
// - export (A): the key as it is now — public parts for a public key, or the key wrapped under the KEK
//   with CKM_AES_KEY_WRAP_PAD (RFC 5649) for a private or secret key; "gone"/"changed" when the token no
//   longer holds what the journal entry describes (a later entry carries the new state);
// - import (B): idempotent — the name (class + label + ID) is looked up first, and a single copy with the
//   same fingerprint, usages and protection is left alone; otherwise the new copy is made under the
//   pinned template (token object, CKA_PRIVATE, CKA_SENSITIVE=true, CKA_EXTRACTABLE=false, A's usages),
//   its attributes and fingerprint are read back and checked, and only then are older copies destroyed;
// - delete (B): every object with the name (a tombstone names the object, not a handle).
import type { Template } from 'pkcs11js';
import { bool, hex, readAttributes, ulong, utf8 } from '../../src/hsm/attributes.ts';
import type { Handle } from '../../src/hsm/binding.ts';
import { ckrOf } from '../../src/hsm/errors.ts';
import { classValue, destroyObject, describeObject, parseId, selectObjects, type ObjectName } from '../../src/hsm/objects.ts';
import type { TokenSession } from '../../src/hsm/token.ts';
import { publicParts, unwrapKey, unwrapTemplate, wrapKey } from '../../src/hsm/wrap.ts';
import type { Kek } from './kek.ts';
import { fingerprintOf, readUsages, usageAttribute, usageTemplate, versionOf } from './key-state.ts';
import type { KeyDescriptor, Usages } from './protocol.ts';

/** The public parts of a public key (binary; base64 on the wire). */
export type PublicPartsBin = { keyType: 'rsa'; modulus: Buffer; exponent: Buffer } | { keyType: 'ec'; params: Buffer; point: Buffer };

/** What A sends for one key. Exactly one of `public` / `wrapped`. */
export interface Exported {
  key: KeyDescriptor;
  kek: string;
  public?: PublicPartsBin;
  wrapped?: Buffer;
}

export type ExportResult = { status: 'ok'; exported: Exported } | { status: 'gone' | 'changed' | 'ambiguous' };

/** The replica holds no KEK, or another one than the blob was wrapped under: run the ceremony again. */
export class KekMismatch extends Error {
  override name = 'KekMismatch';
}

/** Exports the key `expected` names, if the token still holds it in that version (versionOf). */
export function exportKey(s: TokenSession, kek: Kek | undefined, expected: KeyDescriptor): ExportResult {
  const hits = selectObjects(s, { label: expected.label, id: expected.id, classes: [expected.class] });
  if (hits.length === 0) return { status: 'gone' };
  if (hits.length > 1) return { status: 'ambiguous' };
  const { handle, summary } = hits[0]!;
  const fp = fingerprintOf(s, handle, summary);
  const key: KeyDescriptor = { class: expected.class, label: expected.label, id: expected.id, keyType: summary.keyType as KeyDescriptor['keyType'], fingerprint: fp.fingerprint ?? '', usages: readUsages(s, handle, expected.class) };
  if (!fp.fingerprint || versionOf(key) !== versionOf(expected)) return { status: 'changed' };
  if (key.class === 'public-key') {
    if (!kek) throw new KekMismatch('no KEK established');
    return { status: 'ok', exported: { key, kek: kek.kcv, public: publicParts(s, handle, key.keyType) as PublicPartsBin } };
  }
  if (!kek) throw new KekMismatch('no KEK established');
  return { status: 'ok', exported: { key, kek: kek.kcv, wrapped: wrapKey(s, kek.handle, handle) } };
}

/** Receiver faults (fault switches of the replica agent). */
export interface ImportFaults {
  /** Skip the lookup and import every key twice (a replayed import). */
  duplicate?: boolean;
  /** Unwrap with CKA_SENSITIVE=false (a receiver choosing a weaker template). */
  nonSensitive?: boolean;
}

export interface ImportResult {
  result: 'imported' | 'replaced' | 'present' | 'rejected';
  /** Why a key was rejected, or a note (e.g. fingerprint not verifiable). No key material. */
  detail?: string;
  /** The copy's fingerprint as computed here (null when it cannot be). */
  fingerprint: string | null;
  /** Objects with this name on the token afterwards. */
  copies: number;
}

/** What a copy must look like: the name, key type, usages and the pinned protection. */
interface Expected {
  key: KeyDescriptor;
  /** Private/secret keys only. */
  sensitive?: boolean;
}

/**
 * Reads a copy's attributes back and lists every one that is not as expected (an empty list: the copy is
 * right). Public keys: class, key type, label, ID, token, usages. Private/secret keys also: CKA_PRIVATE
 * true, CKA_SENSITIVE as pinned, CKA_EXTRACTABLE false.
 */
export function checkCopy(s: TokenSession, h: Handle, e: Expected): string[] {
  const b = s.mod.binding;
  const isPublic = e.key.class === 'public-key';
  const usageTypes = Object.keys(e.key.usages).map((u) => usageAttribute(s, u as keyof Usages));
  const a = readAttributes(s, h, [b.CKA_CLASS, b.CKA_KEY_TYPE, b.CKA_LABEL, b.CKA_ID, b.CKA_TOKEN, ...(isPublic ? [] : [b.CKA_PRIVATE, b.CKA_SENSITIVE, b.CKA_EXTRACTABLE]), ...usageTypes]);
  const problems: string[] = [];
  const want = (what: string, got: unknown, expected: unknown) => {
    if (got !== expected) problems.push(`${what} is ${got === undefined ? 'unreadable' : String(got)}, expected ${String(expected)}`);
  };
  want('CKA_CLASS', ulong(a.get(b.CKA_CLASS)), classValue(e.key.class));
  want('CKA_KEY_TYPE', ulong(a.get(b.CKA_KEY_TYPE)), { rsa: b.CKK_RSA, ec: b.CKK_EC, aes: b.CKK_AES }[e.key.keyType]);
  want('CKA_LABEL', utf8(a.get(b.CKA_LABEL)), e.key.label);
  want('CKA_ID', hex(a.get(b.CKA_ID)), e.key.id);
  want('CKA_TOKEN', bool(a.get(b.CKA_TOKEN)), true);
  if (!isPublic) {
    want('CKA_PRIVATE', bool(a.get(b.CKA_PRIVATE)), true);
    want('CKA_SENSITIVE', bool(a.get(b.CKA_SENSITIVE)), e.sensitive ?? true);
    want('CKA_EXTRACTABLE', bool(a.get(b.CKA_EXTRACTABLE)), false);
  }
  for (const [u, v] of Object.entries(e.key.usages)) want(`CKA_${u.toUpperCase()}`, bool(a.get(usageAttribute(s, u as keyof Usages))), v);
  return problems;
}

function publicTemplate(s: TokenSession, key: KeyDescriptor, parts: PublicPartsBin): Template {
  const b = s.mod.binding;
  return [
    { type: b.CKA_CLASS, value: b.CKO_PUBLIC_KEY },
    { type: b.CKA_TOKEN, value: true },
    { type: b.CKA_PRIVATE, value: false },
    { type: b.CKA_LABEL, value: Buffer.from(key.label, 'utf8') },
    { type: b.CKA_ID, value: key.id ? parseId(key.id) : Buffer.alloc(0) },
    ...(parts.keyType === 'rsa'
      ? [
          { type: b.CKA_KEY_TYPE, value: b.CKK_RSA },
          { type: b.CKA_MODULUS, value: parts.modulus },
          { type: b.CKA_PUBLIC_EXPONENT, value: parts.exponent },
        ]
      : [
          { type: b.CKA_KEY_TYPE, value: b.CKK_EC },
          { type: b.CKA_EC_PARAMS, value: parts.params },
          { type: b.CKA_EC_POINT, value: parts.point },
        ]),
    ...usageTemplate(s, key.usages),
  ];
}

const sameUsages = (x: Usages, y: Usages): boolean => Object.entries(y).every(([u, v]) => x[u as keyof Usages] === v);

/**
 * Imports what A exported (see the header).
 * @throws KekMismatch when a wrapped key arrives and this side's KEK is absent or another one.
 */
export function importKey(s: TokenSession, kek: Kek | undefined, x: Exported, faults: ImportFaults = {}): ImportResult {
  const { key } = x;
  const isPublic = key.class === 'public-key';
  if (!isPublic && (!kek || kek.kcv !== x.kek)) throw new KekMismatch(kek ? `the key is wrapped under KEK ${x.kek}, this replica holds ${kek.kcv}` : 'this replica holds no KEK');
  if (isPublic !== Boolean(x.public) || isPublic === Boolean(x.wrapped)) return { result: 'rejected', detail: `a ${key.class} must come with ${isPublic ? 'its public parts' : 'a wrapped blob'} only`, fingerprint: null, copies: count(s, key) };
  const expected: Expected = { key, ...(isPublic ? {} : { sensitive: !faults.nonSensitive }) };

  const existing = faults.duplicate ? [] : selectObjects(s, { label: key.label, id: key.id, classes: [key.class] });
  if (existing.length === 1) {
    const [{ handle, summary }] = existing as [(typeof existing)[0]];
    if (fingerprintOf(s, handle, summary).fingerprint === key.fingerprint && sameUsages(readUsages(s, handle, key.class), key.usages) && checkCopy(s, handle, expected).length === 0) {
      return { result: 'present', fingerprint: key.fingerprint, copies: 1 };
    }
  }

  let made: Handle | undefined;
  let note: string | undefined;
  for (let i = 0; i < (faults.duplicate ? 2 : 1); i++) {
    try {
      made = isPublic
        ? s.mod.call('C_CreateObject', () => s.mod.p11.C_CreateObject(s.handle, publicTemplate(s, key, x.public!)))
        : unwrapKey(s, kek!.handle, x.wrapped!, unwrapTemplate(s, { ...key, sensitive: expected.sensitive!, extractable: false, usages: key.usages }));
    } catch (err) {
      return { result: 'rejected', detail: `${isPublic ? 'recreating the public key' : 'unwrapping'} failed: ${ckrOf(err) ?? (err as Error).message}`, fingerprint: null, copies: count(s, key) };
    }
    const problems = checkCopy(s, made, expected);
    const fp = fingerprintOf(s, made, describeObject(s, made));
    if (fp.fingerprint !== null && fp.fingerprint !== key.fingerprint) problems.push(`its fingerprint is ${fp.fingerprint}, expected ${key.fingerprint}`);
    if (problems.length) {
      destroyObject(s, made);
      return { result: 'rejected', detail: `the copy was destroyed: ${problems.join('; ')}`, fingerprint: fp.fingerprint, copies: count(s, key) };
    }
    if (fp.fingerprint === null) note = `fingerprint not verifiable here (${fp.why})`;
  }
  for (const e of existing) destroyObject(s, e.handle);
  return { result: existing.length ? 'replaced' : 'imported', ...(note ? { detail: note } : {}), fingerprint: note ? null : key.fingerprint, copies: count(s, key) };
}

/** Destroys every object named `name`; how many there were. */
export function deleteKeys(s: TokenSession, name: ObjectName): number {
  const hits = selectObjects(s, { label: name.label, id: name.id, classes: [name.class] });
  for (const h of hits) destroyObject(s, h.handle);
  return hits.length;
}

const count = (s: TokenSession, n: ObjectName): number => selectObjects(s, { label: n.label, id: n.id, classes: [n.class] }).length;

