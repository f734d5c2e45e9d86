// Which token a command talks to, and where its PIN may come from:
// - directly: `--module PATH --token LABEL` (or `--slot ID`);
// - a site of a target profile: `--target FILE --site NAME` reads `sites.NAME.hsm` ({module, token, pin?}).
// A site of the running lab (`--site alice|bob` without --target) comes with the lab's tokens; the
// address already carries what it will need (an environment such as the site's SOFTHSM2_CONF).
import { UsageError } from '../cli/exit.ts';
import type { TokenLocation } from './operations.ts';

export interface HsmAddress {
  /** How the user named it: the site name, or the token label / slot. */
  name: string;
  location: TokenLocation;
  /** Environment for the module's process (e.g. SOFTHSM2_CONF of a lab site). */
  env: Record<string, string>;
  /** Environment variables holding the PIN, most specific first. */
  pinVariables: string[];
  /** The profile's `pin` (already ${ENV}-substituted by the loader), if it has one. */
  profilePin?: string;
}

export interface AddressOptions {
  module?: string;
  token?: string;
  slot?: string;
  target?: string;
  site?: string;
}

/** The generic PIN variable, and the one per site (`QKD_HSM_PIN_ALICE` for site alice). */
export const PIN_VARIABLE = 'QKD_HSM_PIN';
export const sitePinVariable = (site: string): string => `${PIN_VARIABLE}_${site.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;

/**
 * The address the options give. `needToken` false (slots, tokens) allows a module alone.
 * @throws UsageError when the options are incomplete or contradict each other, or the profile lacks the site.
 */
export async function resolveAddress(o: AddressOptions, needToken = true): Promise<HsmAddress> {
  if (o.target !== undefined || o.site !== undefined) {
    if (o.module !== undefined || o.token !== undefined || o.slot !== undefined) throw new UsageError('give either --target FILE --site NAME, or --module PATH with --token LABEL/--slot ID, not both');
    if (o.site === undefined) throw new UsageError('--target needs --site NAME (a site under the profile\'s sites with an hsm entry)');
    if (o.target === undefined) throw new UsageError(`--site ${o.site} without --target would address a site of the running lab, which has no HSM tokens yet: give --target FILE, or --module PATH --token LABEL`);
    return profileAddress(o.target, o.site);
  }
  if (o.module === undefined) throw new UsageError('name the PKCS#11 module: --module PATH (e.g. /usr/lib/softhsm/libsofthsm2.so, Luna: /usr/safenet/lunaclient/lib/libCryptoki2_64.so) or --target FILE --site NAME');
  if (needToken && o.token === undefined && o.slot === undefined) throw new UsageError('name the token: --token LABEL or --slot ID');
  return { name: o.token ?? (o.slot !== undefined ? `slot ${o.slot}` : o.module), location: { module: o.module, ...(o.token !== undefined ? { token: o.token } : {}), ...(o.slot !== undefined ? { slot: o.slot } : {}) }, env: {}, pinVariables: [PIN_VARIABLE] };
}

/** `sites.<site>.hsm` of the profile at `file`. The loader (zod, yaml: ~1 s) is imported only here. */
export async function profileAddress(file: string, site: string): Promise<HsmAddress> {
  const { loadTargetProfile } = await import('../target/load.ts');
  const profile = loadTargetProfile(file);
  const entry = profile.sites?.[site];
  if (!entry) throw new UsageError(`target profile ${profile.source}: no site "${site}" under sites (sites: ${Object.keys(profile.sites ?? {}).join(', ') || 'none'})`);
  if (!entry.hsm) throw new UsageError(`target profile ${profile.source}: site "${site}" has no hsm entry (sites.${site}.hsm: {module, token, pin})`);
  const { module, token, pin } = entry.hsm;
  return { name: site, location: { module, token }, env: {}, pinVariables: [sitePinVariable(site), PIN_VARIABLE], ...(pin ? { profilePin: pin } : {}) };
}
