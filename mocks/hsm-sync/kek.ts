// The key ceremony that gives both tokens the same AES-256 key-encryption key — the stand-in for Luna's
// cloning domain:
// 1. the replica (B) generates an RSA-2048 transport key pair; its private key is sensitive and not
//    extractable, and only unwraps;
// 2. the primary (A) recreates B's public key from its modulus and exponent, generates a fresh AES-256
//    KEK, wraps it with RSA-OAEP (SHA-1 + MGF1-SHA-1, no label: all SoftHSM 2.6 offers; OAEP's security
//    does not rest on SHA-1's collision resistance) and makes its own KEK non-extractable at once;
// 3. B unwraps it as sensitive and non-extractable and drops the transport pair;
// 4. both compute the KCV (AES-ECB of a zero block, first 3 bytes) and compare: B against the KCV A
//    announced, A against the one B answers. A mismatch aborts: the new KEK is destroyed on both sides.
// Afterwards each KEK can wrap and unwrap only (CKA_ENCRYPT, needed for the KCV, is switched off).
//
// Every key here is a session object (CKA_TOKEN=false) of the agent's PKCS#11 session: it never shows in
// a token's inventory, so `hsm compare` is about application keys only, and it is gone when the agent
// (or its PKCS#11 worker) ends — the next session between the agents runs the ceremony again.
import type { Mechanism, Template } from 'pkcs11js';
import { readAttributes } from '../../src/hsm/attributes.ts';
import type { Handle } from '../../src/hsm/binding.ts';
import { rsaFingerprint, secretKeyKcv } from '../../src/hsm/key-fingerprint.ts';
import { destroyObject } from '../../src/hsm/objects.ts';
import type { TokenSession } from '../../src/hsm/token.ts';

/** The two KCVs differ: the KEKs are not the same key, so nothing may be wrapped under them. */
export class CeremonyAborted extends Error {
  override name = 'CeremonyAborted';
}

export interface Kek {
  handle: Handle;
  /** `kcv:` + 6 hex digits. */
  kcv: string;
}

export interface TransportKeyParts {
  modulus: Buffer;
  exponent: Buffer;
  /** sha256 over modulus ‖ exponent (as `hsm objects` shows RSA keys). */
  fingerprint: string;
}

const TRANSPORT_BITS = 2048;

function oaepSha1(s: TokenSession): Mechanism {
  const b = s.mod.binding;
  return { mechanism: b.CKM_RSA_PKCS_OAEP, parameter: { type: b.CK_PARAMS_RSA_OAEP, hashAlg: b.CKM_SHA_1, mgf: b.CKG_MGF1_SHA1, source: 1 /* CKZ_DATA_SPECIFIED, empty */ } as Mechanism['parameter'] };
}

/** The attributes of a KEK: a session AES key that wraps and unwraps; `extractable` only while A wraps it. */
function kekTemplate(s: TokenSession, extractable: boolean): Template {
  const b = s.mod.binding;
  return [
    { type: b.CKA_CLASS, value: b.CKO_SECRET_KEY },
    { type: b.CKA_KEY_TYPE, value: b.CKK_AES },
    { type: b.CKA_TOKEN, value: false },
    { type: b.CKA_PRIVATE, value: true },
    { type: b.CKA_SENSITIVE, value: true },
    { type: b.CKA_EXTRACTABLE, value: extractable },
    { type: b.CKA_WRAP, value: true },
    { type: b.CKA_UNWRAP, value: true },
    { type: b.CKA_ENCRYPT, value: true }, // for the KCV only; switched off right after (lockKek)
    { type: b.CKA_DECRYPT, value: false },
    { type: b.CKA_SIGN, value: false },
    { type: b.CKA_VERIFY, value: false },
    { type: b.CKA_DERIVE, value: false },
  ];
}

/**
 * KCV of a fresh KEK, then CKA_ENCRYPT off (and CKA_EXTRACTABLE, on A's): from now on it only wraps and
 * unwraps. CKA_EXTRACTABLE may only ever go from true to false (PKCS#11 2.40 §4.9; SoftHSM refuses even
 * false → false with CKR_ATTRIBUTE_READ_ONLY), so it is set only where it was true.
 */
function lockKek(s: TokenSession, h: Handle, extractable: boolean): string {
  const b = s.mod.binding;
  const { kcv, why } = secretKeyKcv(s, h, 'aes');
  if (!kcv) throw new Error(`cannot compute the KEK's check value: ${why}`);
  if (extractable) s.mod.call('C_SetAttributeValue', () => s.mod.p11.C_SetAttributeValue(s.handle, h, [{ type: b.CKA_EXTRACTABLE, value: false }]));
  s.mod.call('C_SetAttributeValue', () => s.mod.p11.C_SetAttributeValue(s.handle, h, [{ type: b.CKA_ENCRYPT, value: false }]));
  return kcv;
}

const destroyQuietly = (s: TokenSession, h: Handle | undefined): void => {
  if (!h) return;
  try {
    destroyObject(s, h);
  } catch {
    /* a session object that is already gone */
  }
};

/** One side's part of the cloning domain: the current KEK and the ceremony in progress. */
export class CloningDomain {
  private kek: Kek | undefined;
  private pending: Kek | undefined;
  private transport: { pub: Handle; priv: Handle } | undefined;

  constructor(private readonly s: TokenSession) {}

  /** The established KEK, if any. */
  get current(): Kek | undefined {
    return this.kek;
  }

  /** Replica, step 1: a fresh RSA transport key pair (replacing an unfinished one); its public parts. */
  transportKey(): TransportKeyParts {
    const { s } = this;
    const b = s.mod.binding;
    this.dropTransport();
    const kp = s.mod.call('C_GenerateKeyPair', () =>
      s.mod.p11.C_GenerateKeyPair(
        s.handle,
        { mechanism: b.CKM_RSA_PKCS_KEY_PAIR_GEN },
        [
          { type: b.CKA_TOKEN, value: false },
          { type: b.CKA_MODULUS_BITS, value: TRANSPORT_BITS },
          { type: b.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
          { type: b.CKA_ENCRYPT, value: false },
          { type: b.CKA_VERIFY, value: false },
          { type: b.CKA_WRAP, value: false },
        ],
        [
          { type: b.CKA_TOKEN, value: false },
          { type: b.CKA_PRIVATE, value: true },
          { type: b.CKA_SENSITIVE, value: true },
          { type: b.CKA_EXTRACTABLE, value: false },
          { type: b.CKA_UNWRAP, value: true },
          { type: b.CKA_DECRYPT, value: false },
          { type: b.CKA_SIGN, value: false },
          { type: b.CKA_DERIVE, value: false },
        ],
      ),
    );
    this.transport = { pub: kp.publicKey, priv: kp.privateKey };
    const a = readAttributes(s, kp.publicKey, [b.CKA_MODULUS, b.CKA_PUBLIC_EXPONENT]);
    const modulus = a.get(b.CKA_MODULUS)!;
    const exponent = a.get(b.CKA_PUBLIC_EXPONENT)!;
    return { modulus, exponent, fingerprint: rsaFingerprint(modulus, exponent) };
  }

  /** The transport private key's handle while a ceremony runs (tests check its protection). */
  get transportPrivateKey(): Handle | undefined {
    return this.transport?.priv;
  }

  /**
   * Primary, step 2: a fresh KEK wrapped for B's transport key (RSA-OAEP SHA-1). The KEK stays pending
   * until commit() sees B's KCV.
   */
  wrapNewKek(transport: { modulus: Buffer; exponent: Buffer }): { wrapped: Buffer; kcv: string } {
    const { s } = this;
    const b = s.mod.binding;
    this.abort();
    const pub = s.mod.call('C_CreateObject', () =>
      s.mod.p11.C_CreateObject(s.handle, [
        { type: b.CKA_CLASS, value: b.CKO_PUBLIC_KEY },
        { type: b.CKA_KEY_TYPE, value: b.CKK_RSA },
        { type: b.CKA_TOKEN, value: false },
        { type: b.CKA_MODULUS, value: transport.modulus },
        { type: b.CKA_PUBLIC_EXPONENT, value: transport.exponent },
        { type: b.CKA_WRAP, value: true },
        { type: b.CKA_ENCRYPT, value: false },
        { type: b.CKA_VERIFY, value: false },
      ]),
    );
    let kek: Handle | undefined;
    try {
      kek = s.mod.call('C_GenerateKey', () => s.mod.p11.C_GenerateKey(s.handle, { mechanism: b.CKM_AES_KEY_GEN }, [...kekTemplate(s, true), { type: b.CKA_VALUE_LEN, value: 32 }]));
      const wrapped = Buffer.from(s.mod.call('C_WrapKey', () => s.mod.p11.C_WrapKey(s.handle, oaepSha1(s), pub, kek!, Buffer.alloc(TRANSPORT_BITS / 8 * 2))));
      const kcv = lockKek(s, kek, true);
      this.pending = { handle: kek, kcv };
      return { wrapped, kcv };
    } catch (err) {
      destroyQuietly(s, kek);
      throw err;
    } finally {
      destroyQuietly(s, pub);
    }
  }

  /**
   * Replica, step 3: unwraps the KEK with the transport private key, computes its KCV and compares it
   * with the one A announced. Agreed: it replaces the current KEK. Not agreed: it is destroyed (the
   * current KEK, if any, stays). The transport pair is dropped either way.
   */
  acceptKek(wrapped: Buffer, announcedKcv: string): { kcv: string; agreed: boolean } {
    const { s } = this;
    if (!this.transport) throw new CeremonyAborted('a KEK arrived without a ceremony in progress (no transport key)');
    let kek: Handle | undefined;
    try {
      kek = s.mod.call('C_UnwrapKey', () => s.mod.p11.C_UnwrapKey(s.handle, oaepSha1(s), this.transport!.priv, wrapped, kekTemplate(s, false)));
      const kcv = lockKek(s, kek, false);
      if (kcv !== announcedKcv) {
        destroyQuietly(s, kek);
        return { kcv, agreed: false };
      }
      destroyQuietly(s, this.kek?.handle);
      this.kek = { handle: kek, kcv };
      return { kcv, agreed: true };
    } catch (err) {
      destroyQuietly(s, kek);
      throw err;
    } finally {
      this.dropTransport();
    }
  }

  /**
   * Primary, step 4: B's KCV equals the pending KEK's: it becomes the KEK. Otherwise the ceremony is
   * aborted and the pending KEK destroyed.
   * @throws CeremonyAborted naming both KCVs (public values).
   */
  commit(replicaKcv: string | null, replicaAgreed: boolean): Kek {
    const p = this.pending;
    this.pending = undefined;
    if (!p) throw new CeremonyAborted('no ceremony in progress');
    if (!replicaAgreed || replicaKcv !== p.kcv) {
      destroyQuietly(this.s, p.handle);
      throw new CeremonyAborted(`key ceremony aborted: the KEK check values differ (primary ${p.kcv}, replica ${replicaKcv ?? 'none'})`);
    }
    destroyQuietly(this.s, this.kek?.handle);
    this.kek = p;
    return p;
  }

  /** Drops an unfinished ceremony (pending KEK, transport pair); the current KEK stays. */
  abort(): void {
    destroyQuietly(this.s, this.pending?.handle);
    this.pending = undefined;
    this.dropTransport();
  }

  private dropTransport(): void {
    destroyQuietly(this.s, this.transport?.pub);
    destroyQuietly(this.s, this.transport?.priv);
    this.transport = undefined;
  }
}
