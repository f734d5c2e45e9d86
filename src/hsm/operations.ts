// What `qkd-harness hsm` does on one token, as one request → one result: open the module
// (C_Initialize), find the token, open a session, log in, run the operation, close everything.
// Runs inside the child process of runner.ts, so that a module that never answers can be killed.
import { UsageError } from '../cli/exit.ts';
import { decrypt, encrypt, type AesMode, type OaepHash } from './cipher.ts';
import { tryExtraction, type ExtractionReport } from './extraction.ts';
import { takeInventory, type Inventory } from './inventory.ts';
import { generateKey, type GeneratedKey, type KeySpec } from './keygen.ts';
import { Pkcs11Module, type CallObserver, type SlotSummary, type TokenSummary } from './module.ts';
import { destroyObject, selectObjects, selectOne, describeSelector, formatName, type ObjectSelector, type ObjectSummary } from './objects.ts';
import { sign, verify } from './signature.ts';
import { TokenSession, type TokenSelector } from './token.ts';

/** Where the token is: the module's path and the token's label or slot. */
export interface TokenLocation extends TokenSelector {
  module: string;
}

export type HsmRequest =
  | { op: 'slots' }
  | { op: 'tokens' }
  | { op: 'objects' }
  | { op: 'generate'; spec: KeySpec }
  | { op: 'encrypt' | 'decrypt'; key: ObjectSelector; data: Buffer; oaepHash?: OaepHash; aesMode?: AesMode }
  | { op: 'sign'; key: ObjectSelector; data: Buffer }
  | { op: 'verify'; key: ObjectSelector; data: Buffer; signature: Buffer }
  | { op: 'destroy'; key: ObjectSelector; all: boolean }
  /** Harness only (no CLI command): tries to get the key's value out (extraction.ts); reports outcomes, never bytes. */
  | { op: 'extraction'; key: ObjectSelector };

export type HsmResult =
  | { op: 'slots'; module: ModuleInfo; slots: SlotSummary[] }
  | { op: 'tokens'; module: ModuleInfo; tokens: TokenSummary[] }
  | { op: 'objects'; inventory: Inventory }
  | { op: 'generate'; token: string; key: GeneratedKey }
  | { op: 'encrypt' | 'decrypt'; token: string; key: ObjectSummary; mechanism: string; output: Buffer }
  | { op: 'sign'; token: string; key: ObjectSummary; mechanism: string; signature: Buffer }
  | { op: 'verify'; token: string; key: ObjectSummary; mechanism: string; valid: boolean }
  | { op: 'destroy'; token: string; destroyed: ObjectSummary[] }
  | ({ op: 'extraction'; token: string } & ExtractionReport);

export interface ModuleInfo {
  path: string;
  manufacturer: string;
  description: string;
  version: string;
  cryptoki: string;
}

/** Operations that act on one token and need the user's PIN. */
export const needsLogin = (op: HsmRequest['op']): boolean => op !== 'slots' && op !== 'tokens';

/**
 * Runs `req` against `loc`. `pin` is required for needsLogin operations and used for C_Login only.
 * @throws UsageError (bad selector, no such token/key), Pkcs11CallError (the module said no).
 */
export function execute(loc: TokenLocation, pin: string | undefined, req: HsmRequest, observe?: CallObserver): HsmResult {
  const mod = Pkcs11Module.open(loc.module, observe);
  try {
    if (req.op === 'slots') return { op: 'slots', module: { path: loc.module, ...mod.info() }, slots: mod.slots() };
    if (req.op === 'tokens') return { op: 'tokens', module: { path: loc.module, ...mod.info() }, tokens: mod.tokens().map(({ handle: _h, ...t }) => t) };
    if (pin === undefined) throw new UsageError(`${req.op} needs the token's PIN`);
    const s = TokenSession.open(mod, loc);
    try {
      s.login(pin);
      return onToken(s, req);
    } finally {
      s.close();
    }
  } finally {
    mod.close();
  }
}

function onToken(s: TokenSession, req: HsmRequest): HsmResult {
  const token = s.token.label;
  switch (req.op) {
    case 'objects':
      return { op: 'objects', inventory: takeInventory(s) };
    case 'generate':
      return { op: 'generate', token, key: generateKey(s, req.spec) };
    case 'encrypt':
    case 'decrypt': {
      const key = selectOne(s, { ...req.key, classes: req.op === 'encrypt' ? ['public-key', 'secret-key'] : ['private-key', 'secret-key'] }, req.op);
      const r = (req.op === 'encrypt' ? encrypt : decrypt)(s, key, req.data, { oaepHash: req.oaepHash, aesMode: req.aesMode });
      return { op: req.op, token, key: key.summary, mechanism: r.mechanism, output: r.output };
    }
    case 'sign': {
      const key = selectOne(s, { ...req.key, classes: ['private-key'] }, 'sign');
      const r = sign(s, key, req.data);
      return { op: 'sign', token, key: key.summary, mechanism: r.mechanism, signature: r.signature };
    }
    case 'verify': {
      const key = selectOne(s, { ...req.key, classes: ['public-key'] }, 'verify');
      const r = verify(s, key, req.data, req.signature);
      return { op: 'verify', token, key: key.summary, mechanism: r.mechanism, valid: r.valid };
    }
    case 'destroy': {
      if (req.key.label === undefined && req.key.id === undefined) throw new UsageError('destroy: name the objects with --label and/or --id');
      const hits = selectObjects(s, req.key);
      if (hits.length === 0) throw new UsageError(`destroy: no object with ${describeSelector(req.key)} on token "${token}"`);
      if (hits.length > 1 && !req.all) throw new UsageError(`destroy: ${hits.length} objects match ${describeSelector(req.key)} (${hits.map((h) => formatName(h.summary)).join('; ')}): add --class or --id, or --all to destroy them all`);
      for (const h of hits) destroyObject(s, h.handle);
      return { op: 'destroy', token, destroyed: hits.map((h) => h.summary) };
    }
    case 'extraction':
      return { op: 'extraction', token, ...tryExtraction(s, req.key) };
    default:
      throw new UsageError(`unknown operation ${(req as { op: string }).op}`);
  }
}
