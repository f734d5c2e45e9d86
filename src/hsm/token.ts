// A token addressed by label (or slot ID), and a read-write session on it: C_OpenSession,
// C_Login(CKU_USER), C_Logout, C_CloseSession.
import { UsageError } from '../cli/exit.ts';
import type { Handle } from './binding.ts';
import { ckrOf } from './errors.ts';
import type { Pkcs11Module, TokenSummary } from './module.ts';

/** How a token is named: its label from C_GetTokenInfo (blank padding ignored), or a slot ID. */
export interface TokenSelector {
  token?: string;
  /** CK_SLOT_ID in decimal or 0x-hex. */
  slot?: string;
}

function parseSlot(v: string): bigint {
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(v)) throw new UsageError(`--slot must be a slot ID (decimal or 0x-hex), got "${v}"`);
  return BigInt(v);
}

/**
 * The token the selector names. A label must match exactly one initialised token (two tokens with
 * the same label need --slot).
 * @throws UsageError naming the labels seen when none or several match.
 */
export function findToken(mod: Pkcs11Module, sel: TokenSelector): TokenSummary & { handle: Handle } {
  if (!sel.token && !sel.slot) throw new UsageError('name the token: --token LABEL or --slot ID');
  const tokens = mod.tokens();
  const seen = tokens.map((t) => `"${t.label}" (slot ${t.slot})`).join(', ') || 'none';
  let hits = tokens;
  if (sel.slot !== undefined) {
    const want = parseSlot(sel.slot).toString();
    hits = hits.filter((t) => t.slot === want);
  }
  if (sel.token !== undefined) hits = hits.filter((t) => t.label === sel.token);
  const what = [sel.token !== undefined ? `label "${sel.token}"` : '', sel.slot !== undefined ? `slot ${sel.slot}` : ''].filter(Boolean).join(' in ');
  if (hits.length === 0) throw new UsageError(`no token with ${what} in ${mod.path} (tokens: ${seen})`);
  if (hits.length > 1) throw new UsageError(`${hits.length} tokens have ${what} in ${mod.path}: add --slot (tokens: ${seen})`);
  return hits[0]!;
}

/** A read-write serial session on one token. */
export class TokenSession {
  private constructor(
    readonly mod: Pkcs11Module,
    readonly token: TokenSummary & { handle: Handle },
    readonly handle: Handle,
  ) {}

  /** C_OpenSession(CKF_SERIAL_SESSION | CKF_RW_SESSION) on the selected token. */
  static open(mod: Pkcs11Module, sel: TokenSelector): TokenSession {
    const token = findToken(mod, sel);
    const b = mod.binding;
    const h = mod.call('C_OpenSession', () => mod.p11.C_OpenSession(token.handle, b.CKF_SERIAL_SESSION | b.CKF_RW_SESSION));
    return new TokenSession(mod, token, h);
  }

  /**
   * C_Login as the normal user (Crypto Officer on Luna). Login state is per application and token, so
   * CKR_USER_ALREADY_LOGGED_IN (another session of this process) counts as success.
   * @throws Pkcs11CallError (exit 2 for CKR_PIN_INCORRECT/CKR_PIN_INVALID/CKR_PIN_LEN_RANGE).
   */
  login(pin: string): void {
    try {
      this.mod.call('C_Login', () => this.mod.p11.C_Login(this.handle, this.mod.binding.CKU_USER, pin));
    } catch (err) {
      if (ckrOf(err) !== 'CKR_USER_ALREADY_LOGGED_IN') throw err;
    }
  }

  /** The token's mechanisms (C_GetMechanismList), cached per session. */
  mechanisms(): Set<number> {
    this.mechs ??= this.mod.mechanisms(this.token.handle);
    return this.mechs;
  }
  private mechs: Set<number> | undefined;

  /** C_CloseSession (which also ends this session's part of the login); errors ignored. */
  close(): void {
    try {
      this.mod.call('C_CloseSession', () => this.mod.p11.C_CloseSession(this.handle));
    } catch {
      /* the session is gone either way */
    }
  }
}
