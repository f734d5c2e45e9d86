// The PKCS#11 side of an agent: one logged-in session on the site's token, its part of the cloning domain
// (kek.ts) and the replication operations (key-state.ts, replicate.ts), driven one request at a time.
// It runs inside the agent's PKCS#11 worker process (token-worker.ts), where a module that stops
// answering can be killed; tests drive it in-process on local SoftHSM tokens.
import { Pkcs11Module, type CallObserver } from '../../src/hsm/module.ts';
import type { TokenLocation } from '../../src/hsm/operations.ts';
import { findObjects, type ObjectName } from '../../src/hsm/objects.ts';
import { TokenSession } from '../../src/hsm/token.ts';
import { CloningDomain, type TransportKeyParts } from './kek.ts';
import { scanToken, type Unreplicable } from './key-state.ts';
import type { KeyDescriptor } from './protocol.ts';
import { deleteKeys, exportKey, importKey, type Exported, type ExportResult, type ImportFaults, type ImportResult } from './replicate.ts';

/** Each operation's arguments and result. */
export interface TokenOps {
  open: [{ location: TokenLocation; pin: string }, { token: string; slot: string }];
  kek: [Record<string, never>, { kcv: string | null }];
  'transport-key': [Record<string, never>, TransportKeyParts];
  'wrap-new-kek': [{ modulus: Buffer; exponent: Buffer }, { wrapped: Buffer; kcv: string }];
  'accept-kek': [{ wrapped: Buffer; kcv: string }, { kcv: string; agreed: boolean }];
  'commit-kek': [{ kcv: string | null; agreed: boolean }, { kcv: string }];
  'abort-kek': [Record<string, never>, Record<string, never>];
  scan: [Record<string, never>, { keys: KeyDescriptor[]; unreplicable: Unreplicable[]; objects: number }];
  export: [{ key: KeyDescriptor }, ExportResult];
  import: [{ exported: Exported; faults: ImportFaults }, ImportResult];
  delete: [{ name: ObjectName }, { deleted: number }];
  count: [Record<string, never>, { objects: number }];
}
export type TokenOp = keyof TokenOps;
export type OpArgs<K extends TokenOp> = TokenOps[K][0];
export type OpResult<K extends TokenOp> = TokenOps[K][1];

export class TokenSide {
  private mod: Pkcs11Module | undefined;
  private session: TokenSession | undefined;
  private domain: CloningDomain | undefined;

  constructor(private readonly observe: CallObserver = () => {}) {}

  /** The operations, each on the open session and cloning domain. */
  private readonly ops: { [K in TokenOp]: (args: OpArgs<K>) => OpResult<K> } = {
    open: (a) => this.open(a),
    kek: () => ({ kcv: this.d.current?.kcv ?? null }),
    'transport-key': () => this.d.transportKey(),
    'wrap-new-kek': (a) => this.d.wrapNewKek(a),
    'accept-kek': (a) => this.d.acceptKek(a.wrapped, a.kcv),
    'commit-kek': (a) => ({ kcv: this.d.commit(a.kcv, a.agreed).kcv }),
    'abort-kek': () => {
      this.d.abort();
      return {};
    },
    scan: () => {
      const r = scanToken(this.s);
      return { keys: r.keys.map((k) => k.key), unreplicable: r.unreplicable, objects: r.keys.length + r.unreplicable.length };
    },
    export: (a) => exportKey(this.s, this.d.current, a.key),
    import: (a) => importKey(this.s, this.d.current, a.exported, a.faults),
    delete: (a) => ({ deleted: deleteKeys(this.s, a.name) }),
    count: () => ({ objects: findObjects(this.s, [{ type: this.s.mod.binding.CKA_TOKEN, value: true }]).length }),
  };

  /** Runs one operation. @throws what the operation throws (Pkcs11CallError, KekMismatch, CeremonyAborted, UsageError). */
  run<K extends TokenOp>(op: K, args: OpArgs<K>): OpResult<K> {
    const f = this.ops[op] as ((a: OpArgs<K>) => OpResult<K>) | undefined;
    if (!f) throw new Error(`unknown token operation ${String(op)}`);
    return f(args);
  }

  /** C_Finalize (session objects, the KEK among them, go with it). */
  close(): void {
    this.session?.close();
    this.mod?.close();
    this.session = this.domain = this.mod = undefined;
  }

  private open({ location, pin }: OpArgs<'open'>): OpResult<'open'> {
    this.close();
    this.mod = Pkcs11Module.open(location.module, this.observe);
    this.session = TokenSession.open(this.mod, location);
    this.session.login(pin);
    this.domain = new CloningDomain(this.session);
    return { token: this.session.token.label, slot: this.session.token.slot };
  }

  private get s(): TokenSession {
    if (!this.session) throw new Error('the token is not open');
    return this.session;
  }

  private get d(): CloningDomain {
    if (!this.domain) throw new Error('the token is not open');
    return this.domain;
  }
}
