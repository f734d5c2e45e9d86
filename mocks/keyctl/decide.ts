// What a key-control turn installs, per Arnika MODE, from the QKD key it got (or not) and the PQC file
// (absent, unreadable, or a key): a derived PSK, a random one (fail closed), or nothing (PSK unchanged).
import { randomBytes } from 'node:crypto';
import { hkdfSha3, derivePsk, type PskMode } from '../../src/psk/index.ts';
import type { Mode } from './config.ts';

export type PqcInput = { state: 'none' } | { state: 'unreadable'; why: string } | { state: 'ok'; key: Uint8Array };

export type Decision =
  | { action: 'install'; kind: PskMode | 'random'; psk: Uint8Array; why?: string }
  | { action: 'keep'; why: string };

/** The faithful derivation, or with `wrong` PQC before QKD (the wrong-derivation fault). */
function derive(kind: PskMode, qkd: Uint8Array | undefined, pqc: Uint8Array | undefined, wrong: boolean): Uint8Array {
  if (!wrong) return derivePsk({ mode: kind, qkd, pqc }).key;
  if (kind === 'hybrid') return hkdfSha3(new Uint8Array([...pqc!, ...qkd!]));
  return hkdfSha3(kind === 'qkd-only' ? qkd! : new Uint8Array([...pqc!, 0]));
}

export function decide(mode: Mode, qkd: Uint8Array | undefined, pqc: PqcInput, o: { wrongDerivation?: boolean } = {}): Decision {
  const p = pqc.state === 'ok' ? pqc.key : undefined;
  const pqcWhy = pqc.state === 'none' ? 'no PQC key file configured' : pqc.state === 'unreadable' ? pqc.why : '';
  const wrong = o.wrongDerivation === true;
  const random = (why: string): Decision => ({ action: 'install', kind: 'random', psk: new Uint8Array(randomBytes(32)), why });
  if (qkd && qkd.length !== 32 && !p) return { action: 'keep', why: `the KMS key has ${qkd.length} bytes; QKD-only needs 32` };
  switch (mode) {
    case 'AtLeastQkdRequired':
      if (!qkd) return { action: 'keep', why: 'no QKD key' };
      return p ? { action: 'install', kind: 'hybrid', psk: derive('hybrid', qkd, p, wrong) } : { action: 'install', kind: 'qkd-only', psk: derive('qkd-only', qkd, undefined, wrong), why: pqcWhy };
    case 'QkdAndPqcRequired':
      if (!qkd) return { action: 'keep', why: 'no QKD key' };
      return p ? { action: 'install', kind: 'hybrid', psk: derive('hybrid', qkd, p, wrong) } : random(`PQC required: ${pqcWhy}`);
    case 'AtLeastPqcRequired':
      if (!p) return random(`PQC required: ${pqcWhy}`);
      return qkd ? { action: 'install', kind: 'hybrid', psk: derive('hybrid', qkd, p, wrong) } : { action: 'install', kind: 'pqc-only', psk: derive('pqc-only', undefined, p, wrong), why: 'no QKD key' };
    case 'EitherQkdOrPqcRequired':
      if (qkd && p) return { action: 'install', kind: 'hybrid', psk: derive('hybrid', qkd, p, wrong) };
      if (qkd) return { action: 'install', kind: 'qkd-only', psk: derive('qkd-only', qkd, undefined, wrong), why: pqcWhy };
      if (p) return { action: 'install', kind: 'pqc-only', psk: derive('pqc-only', undefined, p, wrong), why: 'no QKD key' };
      return { action: 'keep', why: `no QKD key and ${pqcWhy}` };
  }
}
