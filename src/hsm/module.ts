// A PKCS#11 module (the vendor's shared library: SoftHSM's libsofthsm2.so, Luna's libCryptoki2_64.so)
// loaded through pkcs11js: C_Initialize, the slot and token lists (C_GetSlotList, C_GetSlotInfo,
// C_GetTokenInfo), the mechanism list (C_GetMechanismList) and C_Finalize.
//
// Every call is synchronous and may block for as long as the module likes (a network HSM behind a
// cut link blocked ~13 s here). Nothing in this directory can interrupt it: whoever must not hang runs
// these functions in a child process with a deadline (src/hsm/runner.ts does; `qkd-harness hsm`
// is that child from the harness's point of view).
import { existsSync } from 'node:fs';
import { UsageError } from '../cli/exit.ts';
import { pkcs11js, type Handle } from './binding.ts';
import { pkcs11Error } from './errors.ts';

type PKCS11 = InstanceType<ReturnType<typeof pkcs11js>['PKCS11']>;

/** A slot as C_GetSlotInfo describes it. `slot` is the CK_SLOT_ID in decimal (SoftHSM's are large). */
export interface SlotSummary {
  slot: string;
  description: string;
  manufacturer: string;
  tokenPresent: boolean;
  removable: boolean;
  hardware: boolean;
}

/** A token as C_GetTokenInfo describes it (blank padding trimmed). */
export interface TokenSummary {
  slot: string;
  label: string;
  manufacturer: string;
  model: string;
  serial: string;
  initialized: boolean;
  userPinInitialized: boolean;
  loginRequired: boolean;
}

/** Called with the PKCS#11 function's name before each call: the deadline's error names where it hung. */
export type CallObserver = (fn: string) => void;

/** A CK_ULONG handle or ID (pkcs11js: its bytes, little-endian here) → decimal string. */
export function handleText(handle: Handle): string {
  return handle.length >= 8 ? handle.readBigUInt64LE(0).toString() : handle.readUInt32LE(0).toString();
}

/** CK_SLOT_INFO flags (PKCS#11 2.40 §3.2); pkcs11js 2.1.7's typings lack them. */
const SLOT_FLAGS = { tokenPresent: 0x1, removable: 0x2, hardware: 0x4 };

const trim = (s: string): string => s.replace(/[\s\0]+$/, '');

export class Pkcs11Module {
  private closed = false;

  private constructor(
    readonly path: string,
    /** The pkcs11js instance; use `call` so errors name the function and the observer sees it. */
    readonly p11: PKCS11,
    readonly binding: ReturnType<typeof pkcs11js>,
    private readonly observe: CallObserver,
  ) {}

  /**
   * Loads the library and calls C_Initialize with CKF_OS_LOCKING_OK (p11-kit's client and some network
   * modules refuse to initialise without it: CKR_CANT_LOCK).
   * @throws UsageError when the file does not exist; Pkcs11CallError when it cannot be loaded or initialised.
   */
  static open(path: string, observe: CallObserver = () => {}): Pkcs11Module {
    if (!existsSync(path)) throw new UsageError(`PKCS#11 module ${path} does not exist`);
    const binding = pkcs11js();
    const p11 = new binding.PKCS11();
    const mod = new Pkcs11Module(path, p11, binding, observe);
    mod.call('load', () => p11.load(path));
    try {
      mod.call('C_Initialize', () => p11.C_Initialize({ flags: binding.CKF_OS_LOCKING_OK }));
    } catch (err) {
      p11.close();
      throw err;
    }
    return mod;
  }

  /** Runs one PKCS#11 call: reports its name, converts its error into a Pkcs11CallError naming it. */
  call<T>(fn: string, f: () => T): T {
    this.observe(fn);
    try {
      return f();
    } catch (err) {
      throw pkcs11Error(fn, err);
    }
  }

  /** C_GetInfo: the library's description and version. */
  info(): { manufacturer: string; description: string; version: string; cryptoki: string } {
    const i = this.call('C_GetInfo', () => this.p11.C_GetInfo());
    return { manufacturer: trim(i.manufacturerID), description: trim(i.libraryDescription), version: `${i.libraryVersion.major}.${i.libraryVersion.minor}`, cryptoki: `${i.cryptokiVersion.major}.${i.cryptokiVersion.minor}` };
  }

  /** C_GetSlotList(all) + C_GetSlotInfo per slot. */
  slots(): SlotSummary[] {
    return this.call('C_GetSlotList', () => this.p11.C_GetSlotList(false)).map((h) => {
      const s = this.call('C_GetSlotInfo', () => this.p11.C_GetSlotInfo(h));
      return { slot: handleText(h), description: trim(s.slotDescription), manufacturer: trim(s.manufacturerID), tokenPresent: (s.flags & SLOT_FLAGS.tokenPresent) !== 0, removable: (s.flags & SLOT_FLAGS.removable) !== 0, hardware: (s.flags & SLOT_FLAGS.hardware) !== 0 };
    });
  }

  /** C_GetSlotList(tokenPresent) + C_GetTokenInfo per slot, with the slot handles (for opening sessions). */
  tokens(): Array<TokenSummary & { handle: Handle }> {
    const b = this.binding;
    return this.call('C_GetSlotList', () => this.p11.C_GetSlotList(true)).map((h) => {
      const t = this.call('C_GetTokenInfo', () => this.p11.C_GetTokenInfo(h));
      return {
        handle: h,
        slot: handleText(h),
        label: trim(t.label),
        manufacturer: trim(t.manufacturerID),
        model: trim(t.model),
        serial: trim(t.serialNumber),
        initialized: (t.flags & b.CKF_TOKEN_INITIALIZED) !== 0,
        userPinInitialized: (t.flags & b.CKF_USER_PIN_INITIALIZED) !== 0,
        loginRequired: (t.flags & b.CKF_LOGIN_REQUIRED) !== 0,
      };
    });
  }

  /** C_GetMechanismList: the CKM_ values the token in `slot` supports. */
  mechanisms(slot: Handle): Set<number> {
    return new Set(this.call('C_GetMechanismList', () => this.p11.C_GetMechanismList(slot)));
  }

  /** C_Finalize and unload; idempotent. Errors are ignored: the process is done with the module. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.call('C_Finalize', () => this.p11.C_Finalize());
    } catch {
      /* a module that fails to finalise is still unloaded */
    }
    try {
      this.p11.close();
    } catch {
      /* already unloaded */
    }
  }
}
