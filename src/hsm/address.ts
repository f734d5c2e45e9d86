// Which token a command talks to, and where its PIN may come from:
// - directly: `--module PATH --token LABEL` (or `--slot ID`);
// - a site of a target profile: `--target FILE --site NAME` reads `sites.NAME.hsm` ({module, token|slot, pin?});
//   a site with a non-empty `exec` is remote: the request runs there (src/sites/hsm-remote.ts).
// - a site of the running lab: `--site alice|bob` without --target (`--run-id ID` when several labs run)
//   finds the lab's record in the state directory (src/lab/state.ts): its SoftHSM2 module, token label
//   = site, the site's own SOFTHSM2_CONF, and the lab's PIN file as the last source of the PIN.
// The address already carries what it will need (an environment such as the site's SOFTHSM2_CONF).
import { UsageError } from '../cli/exit.ts';
import type { TokenLocation } from './operations.ts';
import type { HsmEntry } from '../target/schema.ts';

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
  /** A lab site: the lab's 0600 file with the token's throwaway PIN, read when no PIN variable is set. */
  pinFile?: string;
  /** A profile site with a non-empty `exec`: the token is on that site, reached through the prefix (src/sites/hsm-remote.ts). */
  remote?: { exec: string[]; entry: HsmEntry };
}

export interface AddressOptions {
  module?: string;
  token?: string;
  slot?: string;
  target?: string;
  site?: string;
  /** The lab, when `site` names a site of a running lab and several run. */
  runId?: string;
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
    if (o.target === undefined) return labAddress(o.site, o.runId);
    if (o.runId !== undefined) throw new UsageError('--run-id picks a lab; with --target FILE the site is the profile\'s');
    return profileAddress(o.target, o.site);
  }
  if (o.runId !== undefined) throw new UsageError('--run-id picks a lab: give it with --site alice|bob');
  if (o.module === undefined) throw new UsageError('name the PKCS#11 module: --module PATH (e.g. /usr/lib/softhsm/libsofthsm2.so, Luna: /usr/safenet/lunaclient/lib/libCryptoki2_64.so) or --target FILE --site NAME');
  if (needToken && o.token === undefined && o.slot === undefined) throw new UsageError('name the token: --token LABEL or --slot ID');
  return { name: o.token ?? (o.slot !== undefined ? `slot ${o.slot}` : o.module), location: { module: o.module, ...(o.token !== undefined ? { token: o.token } : {}), ...(o.slot !== undefined ? { slot: o.slot } : {}) }, env: {}, pinVariables: [PIN_VARIABLE] };
}

/** `sites.<site>.hsm` of the profile at `file`. The loader (zod, yaml: ~1 s) is imported only here. */
export async function profileAddress(file: string, site: string): Promise<HsmAddress> {
  // Sites only: an HSM check needs no KME entries or SAE certificates (the Luna go-live profile).
  const { loadSitesProfile } = await import('../target/load.ts');
  const profile = loadSitesProfile(file);
  const entry = profile.sites?.[site];
  if (!entry) throw new UsageError(`target profile ${profile.source}: no site "${site}" under sites (sites: ${Object.keys(profile.sites ?? {}).join(', ') || 'none'})`);
  if (!entry.hsm) throw new UsageError(`target profile ${profile.source}: site "${site}" has no hsm entry (sites.${site}.hsm: {module, token, pin})`);
  const { module, token, slot, pin } = entry.hsm;
  const location = { module, ...(token !== undefined ? { token } : {}), ...(slot !== undefined ? { slot: String(slot) } : {}) };
  // A pin naming an unset variable was dropped by the loader: that variable joins the ones asked for.
  const pinVariables = [sitePinVariable(site), ...(profile.unsetPinVariables?.[site] ?? []), PIN_VARIABLE];
  return { name: site, location, env: {}, pinVariables, ...(pin ? { profilePin: pin } : {}), ...(entry.exec.length ? { remote: { exec: entry.exec, entry: entry.hsm } } : {}) };
}

/** The lab's record as far as this needs it (src/lab/lab.ts LabInfo, sites.*.hsm). */
interface LabHsmInfo {
  sites?: Record<string, { hsm?: { module: string; token: string; conf: string; pinFile: string } }>;
}

/**
 * `site` of the running lab: `runId` picks one, else the only one that is up.
 * @throws UsageError when no lab is up, several are and `runId` is missing, the lab has no tokens or no such site.
 */
export async function labAddress(site: string, runId?: string): Promise<HsmAddress> {
  const { isAlive, listRecords, stateDir } = await import('../lab/state.ts');
  const dir = stateDir();
  const up = listRecords(dir).filter((r) => r.record.info && r.record.phase === 'up' && isAlive(r.record.owner));
  const hits = runId === undefined ? up : up.filter((r) => r.record.runId === runId);
  if (!hits.length) {
    if (runId !== undefined) throw new UsageError(`no lab ${runId} is up (running: ${up.map((r) => r.record.runId).join(', ') || 'none'}; state dir ${dir})`);
    throw new UsageError(`--site ${site} without --target addresses a site of the running lab, and no lab is up: start one with \`qkd-harness lab up\` first (or give --target FILE, or --module PATH --token LABEL)`);
  }
  const { defaultLab } = await import('../lab/select.ts');
  const { record } = runId === undefined ? defaultLab(hits)! : hits[0]!;
  const info = record.info as LabHsmInfo;
  const sites = Object.keys(info.sites ?? {});
  const entry = info.sites?.[site];
  if (!entry) throw new UsageError(`lab ${record.runId} has no site "${site}" (sites: ${sites.join(', ')})`);
  if (!entry.hsm) throw new UsageError(`lab ${record.runId} has no HSM tokens (it was started with --hsm off, or without SoftHSM2/pkcs11js): start a lab with --hsm on`);
  const { module, token, conf, pinFile } = entry.hsm;
  // Not the generic QKD_HSM_PIN: set for a real token, it would fail the lab's login with a PIN it never had.
  return { name: site, location: { module, token }, env: { SOFTHSM2_CONF: conf }, pinVariables: [sitePinVariable(site)], pinFile };
}
