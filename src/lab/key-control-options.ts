// The key control under test and its settings, as `lab up` and `e2e --lab` take them on the command line
// (--key-control builtin | exec:COMMAND, per site --key-control-alice/-bob, --mode, --interval) and as
// the end-to-end suites read them back from the environment (QKD_E2E_KEY_CONTROL[_ALICE|_BOB],
// QKD_E2E_MODE). One parser, so both commands accept and refuse exactly the same values.
import { MODES } from '../../mocks/keyctl/config.ts';
import { UsageError } from '../cli/exit.ts';
import type { KeyControl } from './lab.ts';
import type { SiteName } from './names.ts';

/** `builtin` or `exec:COMMAND` (COMMAND non-empty); `flag` names the option in the error. */
export function parseKeyControl(v: string, flag: string): KeyControl {
  if (v === 'builtin') return { kind: 'builtin' };
  if (v.startsWith('exec:') && v.length > 5) return { kind: 'exec', command: v.slice(5) };
  throw new UsageError(`${flag} must be builtin or exec:COMMAND, got "${v}"`);
}

/** The inverse of parseKeyControl (for the environment and reports). */
export const keyControlText = (k: KeyControl): string => (k.kind === 'builtin' ? 'builtin' : `exec:${k.command}`);

export interface KeyControlFlags {
  keyControl?: string;
  keyControlAlice?: string;
  keyControlBob?: string;
}

const FLAGS = { keyControl: '--key-control', keyControlAlice: '--key-control-alice', keyControlBob: '--key-control-bob' };

/**
 * Per site: the site's own flag, else --key-control, else `dflt` (undefined: nothing was given for that
 * site, so the caller keeps its own choice).
 */
export function keyControlsFrom(o: KeyControlFlags, dflt?: KeyControl, names: Record<keyof KeyControlFlags, string> = FLAGS): Partial<Record<SiteName, KeyControl>> {
  const both = o.keyControl !== undefined ? parseKeyControl(o.keyControl, names.keyControl) : dflt;
  const out: Partial<Record<SiteName, KeyControl>> = {};
  const alice = o.keyControlAlice !== undefined ? parseKeyControl(o.keyControlAlice, names.keyControlAlice) : both;
  const bob = o.keyControlBob !== undefined ? parseKeyControl(o.keyControlBob, names.keyControlBob) : both;
  if (alice) out.alice = alice;
  if (bob) out.bob = bob;
  return out;
}

/** Arnika's MODE values (mocks/keyctl/config.ts). */
export function parseMode(v: string, flag = '--mode'): string {
  if (!(MODES as readonly string[]).includes(v)) throw new UsageError(`${flag} must be one of ${MODES.join(', ')}, got "${v}"`);
  return v;
}

/** The key-control INTERVAL in seconds: a positive number. */
export function parseInterval(v: string, flag = '--interval'): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number of seconds, got "${v}"`);
  return n;
}

/** Environment variables that carry the flags from `e2e` to the suites (suites/e2e/fixture.ts). */
export const KEY_CONTROL_ENV = {
  keyControl: 'QKD_E2E_KEY_CONTROL',
  keyControlAlice: 'QKD_E2E_KEY_CONTROL_ALICE',
  keyControlBob: 'QKD_E2E_KEY_CONTROL_BOB',
  mode: 'QKD_E2E_MODE',
} as const;

/** Reads the key-control settings back from the environment; errors name the variable. */
export function keyControlFromEnv(env: NodeJS.ProcessEnv = process.env): { keyControl: Partial<Record<SiteName, KeyControl>>; mode?: string } {
  const v = (name: string) => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  const keyControl = keyControlsFrom({ keyControl: v(KEY_CONTROL_ENV.keyControl), keyControlAlice: v(KEY_CONTROL_ENV.keyControlAlice), keyControlBob: v(KEY_CONTROL_ENV.keyControlBob) }, undefined, KEY_CONTROL_ENV);
  const mode = v(KEY_CONTROL_ENV.mode);
  return { keyControl, ...(mode !== undefined ? { mode: parseMode(mode, KEY_CONTROL_ENV.mode) } : {}) };
}
