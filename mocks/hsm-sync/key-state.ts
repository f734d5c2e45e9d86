// What the agents know about a key on a token: its name, key type, fingerprint and usages — the same
// fingerprints `hsm compare` computes (src/hsm/inventory.ts), so that what the agents check and what the
// operator's comparison checks cannot drift apart:
// - RSA keys: SHA-256 of modulus ‖ exponent; EC public keys: SHA-256 of the point; EC private keys: the
//   point of CKA_PUBLIC_KEY_INFO, else of the one EC public key with the same CKA_ID;
// - AES keys: the KCV computed on the token (AES-ECB of a zero block, first 3 bytes).
import type { Template } from 'pkcs11js';
import { bool, readAttributes } from '../../src/hsm/attributes.ts';
import type { Handle } from '../../src/hsm/binding.ts';
import { ecFingerprint, pointFromSpki, rsaFingerprint, secretKeyKcv } from '../../src/hsm/key-fingerprint.ts';
import { describeObject, findObjects, selectObjects, type ObjectName, type ObjectSummary } from '../../src/hsm/objects.ts';
import type { TokenSession } from '../../src/hsm/token.ts';
import type { KeyDescriptor, Usage, Usages, WireName } from './protocol.ts';

/** CKA_PUBLIC_KEY_INFO (PKCS#11 3.0), absent from pkcs11js 2.1.7's constants. */
const CKA_PUBLIC_KEY_INFO = 0x129;

/** The usage attributes that apply to each class (others are not read, not sent, not set). */
export const USAGES_OF: Record<WireName['class'], Usage[]> = {
  'public-key': ['encrypt', 'verify', 'wrap', 'derive'],
  'private-key': ['decrypt', 'sign', 'unwrap', 'derive'],
  'secret-key': ['encrypt', 'decrypt', 'sign', 'verify', 'wrap', 'unwrap', 'derive'],
};

export function usageAttribute(s: TokenSession, u: Usage): number {
  const b = s.mod.binding;
  return { encrypt: b.CKA_ENCRYPT, decrypt: b.CKA_DECRYPT, sign: b.CKA_SIGN, verify: b.CKA_VERIFY, wrap: b.CKA_WRAP, unwrap: b.CKA_UNWRAP, derive: b.CKA_DERIVE }[u];
}

/** The usages of one key, as read (attributes the module does not report are left out). */
export function readUsages(s: TokenSession, h: Handle, cls: WireName['class']): Usages {
  const list = USAGES_OF[cls];
  const a = readAttributes(s, h, list.map((u) => usageAttribute(s, u)));
  const out: Usages = {};
  for (const u of list) {
    const v = bool(a.get(usageAttribute(s, u)));
    if (v !== undefined) out[u] = v;
  }
  return out;
}

/** The template entries that set `usages`. */
export function usageTemplate(s: TokenSession, usages: Usages): Template {
  return Object.entries(usages).map(([u, v]) => ({ type: usageAttribute(s, u as Usage), value: v }));
}

/** The fingerprint of one key (see the header), or null with the reason. */
export function fingerprintOf(s: TokenSession, h: Handle, o: ObjectSummary): { fingerprint: string | null; why?: string } {
  const b = s.mod.binding;
  if (o.keyType === 'rsa') {
    const a = readAttributes(s, h, [b.CKA_MODULUS, b.CKA_PUBLIC_EXPONENT]);
    const n = a.get(b.CKA_MODULUS);
    const e = a.get(b.CKA_PUBLIC_EXPONENT);
    return n?.length && e?.length ? { fingerprint: rsaFingerprint(n, e) } : { fingerprint: null, why: 'CKA_MODULUS or CKA_PUBLIC_EXPONENT not readable' };
  }
  if (o.keyType === 'ec') {
    if (o.class === 'public-key') {
      const p = readAttributes(s, h, [b.CKA_EC_POINT]).get(b.CKA_EC_POINT);
      return p?.length ? { fingerprint: ecFingerprint(p) } : { fingerprint: null, why: 'CKA_EC_POINT not readable' };
    }
    const spki = readAttributes(s, h, [CKA_PUBLIC_KEY_INFO]).get(CKA_PUBLIC_KEY_INFO);
    const own = spki?.length ? pointFromSpki(spki) : undefined;
    if (own) return { fingerprint: ecFingerprint(own) };
    const publics = selectObjects(s, { id: o.id, classes: ['public-key'] }).filter((p) => p.summary.keyType === 'ec');
    if (publics.length !== 1) return { fingerprint: null, why: publics.length ? `${publics.length} EC public keys share CKA_ID ${o.id}` : `no EC public key with CKA_ID ${o.id || '(empty)'}` };
    const p = readAttributes(s, publics[0]!.handle, [b.CKA_EC_POINT]).get(b.CKA_EC_POINT);
    return p?.length ? { fingerprint: ecFingerprint(p) } : { fingerprint: null, why: 'CKA_EC_POINT of the public key not readable' };
  }
  if (o.class === 'secret-key') {
    const { kcv, why } = secretKeyKcv(s, h, o.keyType ?? '');
    return kcv ? { fingerprint: kcv } : { fingerprint: null, why: why ?? 'no KCV' };
  }
  return { fingerprint: null, why: `no fingerprint rule for ${o.keyType ?? 'unknown'} ${o.class}` };
}

/** A key on the primary's token that the agent can replicate, with the handle it has in this session. */
export interface ScannedKey {
  key: KeyDescriptor;
  handle: Handle;
}

/** A token object the agent leaves alone, and why (reported in the status, once per name in the log). */
export interface Unreplicable {
  name: ObjectName;
  why: string;
}

const REPLICABLE_TYPES = new Set(['rsa', 'ec', 'aes']);

/**
 * Every token object of the session, split into replicable keys and the rest. Replicable: RSA/EC public
 * keys (recreated from their public parts), RSA/EC private keys and AES keys with CKA_EXTRACTABLE=true
 * (wrapped), each with a fingerprint, and alone under its class + label + ID (a duplicate is ambiguous).
 */
export function scanToken(s: TokenSession): { keys: ScannedKey[]; unreplicable: Unreplicable[] } {
  const b = s.mod.binding;
  const objects = findObjects(s, [{ type: b.CKA_TOKEN, value: true }]).map((handle) => ({ handle, summary: describeObject(s, handle) }));
  const byName = new Map<string, number>();
  for (const o of objects) byName.set(nameKey(o.summary), (byName.get(nameKey(o.summary)) ?? 0) + 1);
  const keys: ScannedKey[] = [];
  const unreplicable: Unreplicable[] = [];
  for (const { handle, summary: o } of objects) {
    const name = { class: o.class, label: o.label, id: o.id };
    const skip = (why: string) => unreplicable.push({ name, why });
    if (o.class !== 'public-key' && o.class !== 'private-key' && o.class !== 'secret-key') {
      skip(`${o.class} objects are not replicated by this agent`);
      continue;
    }
    if (!REPLICABLE_TYPES.has(o.keyType ?? '') || (o.class === 'secret-key') !== (o.keyType === 'aes')) {
      skip(`${o.keyType ?? 'unknown'} keys are not replicated by this agent (RSA, EC and AES are)`);
      continue;
    }
    if ((byName.get(nameKey(o)) ?? 0) > 1) {
      skip(`${byName.get(nameKey(o))} objects share this class, label and ID: ambiguous`);
      continue;
    }
    if (o.class !== 'public-key' && bool(readAttributes(s, handle, [b.CKA_EXTRACTABLE]).get(b.CKA_EXTRACTABLE)) !== true) {
      skip('CKA_EXTRACTABLE is false: the key cannot be wrapped (generate it extractable to replicate it)');
      continue;
    }
    const fp = fingerprintOf(s, handle, o);
    if (!fp.fingerprint) {
      skip(`no fingerprint, so a copy could not be verified (${fp.why})`);
      continue;
    }
    keys.push({ handle, key: { class: o.class, label: o.label, id: o.id, keyType: o.keyType as KeyDescriptor['keyType'], fingerprint: fp.fingerprint, usages: readUsages(s, handle, o.class) } });
  }
  // Public keys first: an EC private key's fingerprint on the replica comes from its public key.
  const rank = { 'public-key': 0, 'private-key': 1, 'secret-key': 2 } as const;
  keys.sort((x, y) => rank[x.key.class] - rank[y.key.class] || x.key.label.localeCompare(y.key.label) || x.key.id.localeCompare(y.key.id));
  return { keys, unreplicable };
}

export const nameKey = (n: ObjectName): string => JSON.stringify([n.class, n.label, n.id]);

/** What must match for a copy to count as the same key: material (fingerprint), key type and usages. */
export function versionOf(k: KeyDescriptor): string {
  return JSON.stringify([k.fingerprint, k.keyType, Object.entries(k.usages).sort(([x], [y]) => x.localeCompare(y))]);
}
