// A faithful copy of token objects from one token to another, as the replication agent will make it:
// private and secret keys wrapped with CKM_AES_KEY_WRAP_PAD under a key-encryption key both tokens hold,
// unwrapped under an explicit template; public keys recreated from their public parts. Tests use it to
// build replicas (and deliberately unfaithful ones) for the comparison.
import { randomBytes } from 'node:crypto';
import type { Handle } from '../binding.ts';
import { bool, readAttributes } from '../attributes.ts';
import { selectOne, type ObjectName } from '../objects.ts';
import type { TokenSession } from '../token.ts';
import { createPublicKey, publicParts, unwrapKey, unwrapTemplate, wrapKey, type UnwrapSpec } from '../wrap.ts';

/**
 * The same AES-256 KEK on each session, as a session object (CKA_TOKEN=false: not in inventories),
 * made with C_CreateObject from one random value — a test shortcut for the key ceremony.
 */
export function sharedKek(...sessions: TokenSession[]): Handle[] {
  const value = randomBytes(32);
  return sessions.map((s) => {
    const b = s.mod.binding;
    return s.mod.call('C_CreateObject', () =>
      s.mod.p11.C_CreateObject(s.handle, [
        { type: b.CKA_CLASS, value: b.CKO_SECRET_KEY },
        { type: b.CKA_KEY_TYPE, value: b.CKK_AES },
        { type: b.CKA_TOKEN, value: false },
        { type: b.CKA_VALUE, value },
        { type: b.CKA_WRAP, value: true },
        { type: b.CKA_UNWRAP, value: true },
        { type: b.CKA_ENCRYPT, value: false },
        { type: b.CKA_DECRYPT, value: false },
      ]),
    );
  });
}

export interface CopyOptions {
  /** CKA_SENSITIVE of the copy (default true; false makes the weaker copy a faulty receiver would). */
  sensitive?: boolean;
  /** CKA_EXTRACTABLE of the copy (default false: the agent's pinned template). */
  extractable?: boolean;
  /** Unwrap the blob this many times (default 1; 2 makes the duplicate a replayed import would). */
  times?: number;
}

/** Copies the object `name` from `from` to `to` (KEKs `kekFrom`/`kekTo`). */
export function copyObject(from: TokenSession, to: TokenSession, kekFrom: Handle, kekTo: Handle, name: ObjectName, o: CopyOptions = {}): void {
  const src = selectOne(from, { label: name.label, id: name.id, classes: [name.class] }, 'copy');
  const keyType = src.summary.keyType as UnwrapSpec['keyType'];
  for (let i = 0; i < (o.times ?? 1); i++) {
    if (name.class === 'public-key') {
      createPublicKey(to, name, publicParts(from, src.handle, keyType));
      continue;
    }
    const b = from.mod.binding;
    const flags = readAttributes(from, src.handle, [b.CKA_ENCRYPT, b.CKA_DECRYPT, b.CKA_SIGN]);
    const usages: UnwrapSpec['usages'] = name.class === 'secret-key' ? { encrypt: bool(flags.get(b.CKA_ENCRYPT)) ?? false, decrypt: bool(flags.get(b.CKA_DECRYPT)) ?? false } : keyType === 'rsa' ? { decrypt: bool(flags.get(b.CKA_DECRYPT)) ?? false, sign: bool(flags.get(b.CKA_SIGN)) ?? false } : { sign: bool(flags.get(b.CKA_SIGN)) ?? false };
    const blob = wrapKey(from, kekFrom, src.handle);
    unwrapKey(to, kekTo, blob, unwrapTemplate(to, { ...name, keyType, sensitive: o.sensitive ?? true, extractable: o.extractable ?? false, usages }));
  }
}
