// The inventory of a token: every token object (CKA_TOKEN=true, found with C_FindObjects after login)
// named by class + CKA_LABEL + CKA_ID, with a fingerprint (key-fingerprint.ts) and its protection
// attributes. Handles are listed for diagnostics only: they differ per session and per HSM (Luna HA
// members included), so two inventories are matched by name and fingerprint (compare.ts).
import { createHash } from 'node:crypto';
import { fingerprint } from '../secrets/fingerprint.ts';
import { CURVES, bool, hex, readAttributes, ulong } from './attributes.ts';
import type { Handle } from './binding.ts';
import { ecFingerprint, pointFromSpki, rsaFingerprint, secretKeyKcv } from './key-fingerprint.ts';
import type { TokenSummary } from './module.ts';
import { describeObject, findObjects, type ObjectSummary } from './objects.ts';
import type { TokenSession } from './token.ts';

/** CKA_SENSITIVE … CKA_PRIVATE as read (absent when the attribute does not apply to the class). */
export interface Protection {
  sensitive?: boolean;
  extractable?: boolean;
  local?: boolean;
  alwaysSensitive?: boolean;
  neverExtractable?: boolean;
  private?: boolean;
}

export interface InventoryEntry extends ObjectSummary {
  /** RSA modulus bits, secret key bits (CKA_VALUE_LEN × 8). */
  bits?: number;
  /** EC curve name (P-256…) or the CKA_EC_PARAMS hex. */
  curve?: string;
  /** `sha256:…` (public parts), `kcv:…` (secret keys, computed) or null with `fingerprintNote`. */
  fingerprint: string | null;
  fingerprintNote?: string;
  protection: Protection;
}

export interface Inventory {
  token: TokenSummary;
  objects: InventoryEntry[];
}

/** CKA_PUBLIC_KEY_INFO (PKCS#11 3.0); absent from pkcs11js 2.1.7's constants. */
const CKA_PUBLIC_KEY_INFO = 0x129;

/**
 * Reads every token object visible in the session (log in first, or private objects are not seen).
 * EC private keys carry no point: it comes from CKA_PUBLIC_KEY_INFO when the module fills it, else from
 * the one EC public key with the same CKA_ID (how generated and replicated pairs are stored).
 */
export function takeInventory(s: TokenSession): Inventory {
  const b = s.mod.binding;
  const handles = findObjects(s, [{ type: b.CKA_TOKEN, value: true }]);
  const raw = handles.map((h) => ({ h, summary: describeObject(s, h) }));
  const publicEcPoints = new Map<string, Buffer[]>();
  const entries = raw.map(({ h, summary }) => {
    const { entry, ecPoint } = describe(s, h, summary);
    if (summary.class === 'public-key' && ecPoint) publicEcPoints.set(summary.id, [...(publicEcPoints.get(summary.id) ?? []), ecPoint]);
    return entry;
  });
  for (const e of entries) {
    if (e.class !== 'private-key' || e.keyType !== 'ec' || e.fingerprint) continue;
    const points = publicEcPoints.get(e.id) ?? [];
    if (points.length === 1) {
      e.fingerprint = ecFingerprint(points[0]!);
      e.fingerprintNote = 'EC point of the public key with the same CKA_ID';
    } else e.fingerprintNote = points.length ? `${points.length} EC public keys share this CKA_ID` : 'no EC public key with the same CKA_ID (and no CKA_PUBLIC_KEY_INFO)';
  }
  entries.sort((x, y) => x.class.localeCompare(y.class) || x.label.localeCompare(y.label) || x.id.localeCompare(y.id));
  const { handle: _h, ...token } = s.token;
  return { token, objects: entries };
}

function describe(s: TokenSession, h: Handle, summary: ObjectSummary): { entry: InventoryEntry; ecPoint?: Buffer } {
  const b = s.mod.binding;
  const isKey = summary.class === 'private-key' || summary.class === 'secret-key';
  const attrs = readAttributes(s, h, [
    b.CKA_PRIVATE,
    ...(isKey ? [b.CKA_SENSITIVE, b.CKA_EXTRACTABLE, b.CKA_LOCAL, b.CKA_ALWAYS_SENSITIVE, b.CKA_NEVER_EXTRACTABLE] : summary.class === 'public-key' ? [b.CKA_LOCAL] : []),
    ...(summary.keyType === 'rsa' ? [b.CKA_MODULUS, b.CKA_PUBLIC_EXPONENT] : []),
    ...(summary.keyType === 'ec' ? [b.CKA_EC_PARAMS, ...(summary.class === 'public-key' ? [b.CKA_EC_POINT] : [CKA_PUBLIC_KEY_INFO])] : []),
    ...(summary.class === 'secret-key' ? [b.CKA_VALUE_LEN] : []),
    // Certificates and data objects: their value is what identifies them.
    ...(summary.class === 'certificate' || summary.class === 'data' ? [b.CKA_VALUE] : []),
  ]);
  const protection: Protection = {};
  const set = (k: keyof Protection, type: number) => {
    const v = bool(attrs.get(type));
    if (v !== undefined) protection[k] = v;
  };
  set('sensitive', b.CKA_SENSITIVE);
  set('extractable', b.CKA_EXTRACTABLE);
  set('local', b.CKA_LOCAL);
  set('alwaysSensitive', b.CKA_ALWAYS_SENSITIVE);
  set('neverExtractable', b.CKA_NEVER_EXTRACTABLE);
  set('private', b.CKA_PRIVATE);
  const entry: InventoryEntry = { ...summary, fingerprint: null, protection };
  let ecPoint: Buffer | undefined;
  if (summary.keyType === 'rsa') {
    const n = attrs.get(b.CKA_MODULUS);
    const e = attrs.get(b.CKA_PUBLIC_EXPONENT);
    if (n?.length) entry.bits = bitLength(n);
    if (n?.length && e?.length) entry.fingerprint = rsaFingerprint(n, e);
    else entry.fingerprintNote = 'CKA_MODULUS or CKA_PUBLIC_EXPONENT not readable';
  } else if (summary.keyType === 'ec') {
    const params = hex(attrs.get(b.CKA_EC_PARAMS));
    if (params) entry.curve = CURVES[params] ?? params;
    const point = summary.class === 'public-key' ? attrs.get(b.CKA_EC_POINT) : pointFromSpki(attrs.get(CKA_PUBLIC_KEY_INFO) ?? Buffer.alloc(0));
    if (point?.length) {
      ecPoint = point;
      entry.fingerprint = ecFingerprint(point);
    }
  } else if (summary.class === 'secret-key') {
    const len = ulong(attrs.get(b.CKA_VALUE_LEN));
    if (len) entry.bits = len * 8;
    const { kcv, why } = secretKeyKcv(s, h, summary.keyType ?? '');
    entry.fingerprint = kcv ?? null;
    if (why) entry.fingerprintNote = why;
  } else if (summary.class === 'certificate' || summary.class === 'data') {
    // A certificate is public: full hash. A data object may hold a secret (a password): the short
    // fingerprint of src/secrets, like any other material the harness shows.
    const v = attrs.get(b.CKA_VALUE);
    if (v) entry.fingerprint = summary.class === 'certificate' ? `sha256:${createHash('sha256').update(v).digest('hex')}` : fingerprint(v);
    else entry.fingerprintNote = 'CKA_VALUE not readable';
  }
  return { entry, ...(ecPoint ? { ecPoint } : {}) };
}

function bitLength(n: Buffer): number {
  let i = 0;
  while (i < n.length && n[i] === 0) i++;
  if (i === n.length) return 0;
  return (n.length - i - 1) * 8 + (32 - Math.clz32(n[i]!));
}
