// The lab's HSM part: a SoftHSM2 token per site and the replication agents (mocks/hsm-sync/) between
// them — the stand-in for a Luna HA group replicating through the tunnel (docs/lab.md, docs/hsm-sync.md).
//
//   alice: token "alice" ── hsm-sync --role primary ══ WireGuard ══▶ 203.0.113.2:5656 hsm-sync --role replica ── token "bob"
//
// Each site's token lives in its own SoftHSM2 store under the lab directory (`<lab dir>/<site>/softhsm/`);
// namespaces do not isolate the filesystem, so a site is kept to its own tokens by its SOFTHSM2_CONF
// alone: every process of the site gets that site's, and only that. The user PIN is a random throwaway
// per site, kept in a 0600 file (`pinFile`) and in the lab's memory; agents get it in their environment
// (QKD_HSM_PIN), never on a command line; the state file and `lab up`/`lab status` show only the path.
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PIN_VARIABLE, sitePinVariable, type HsmAddress } from '../hsm/address.ts';
import { bindingUnavailable } from '../hsm/binding.ts';
import { runHsm } from '../hsm/runner.ts';
import { SoftHsmStore, softhsmModule, softhsmUnavailable } from '../hsm/softhsm.ts';
import { ADDRESSES, PORTS, type SiteName } from './names.ts';
import { entryArgv } from './node.ts';
import type { StartSpec } from './process.ts';

/** What the lab records about a site's token and agent (paths and addresses only, never the PIN). */
export interface HsmSiteInfo {
  /** SoftHSM2 module path. */
  module: string;
  /** Token label: the site's name. */
  token: string;
  /** This site's SOFTHSM2_CONF (its own token directory under the lab dir). */
  conf: string;
  /** 0600 file with the lab's throwaway user PIN for this token. */
  pinFile: string;
  sync: {
    role: 'primary' | 'replica';
    /** The agent's status JSON file (shape: docs/hsm-sync.md). */
    status: string;
    /** The agent's JSON-lines events (stderr). */
    log: string;
    /** Replica: where it listens (bob's overlay address); primary: its peer (the same address). */
    service: string;
  };
}

/** Alice makes keys (primary), bob receives them (replica). */
export const SYNC_ROLE: Record<SiteName, 'primary' | 'replica'> = { alice: 'primary', bob: 'replica' };

/** The replica's service on bob's tunnel address, and on his underlay address (send-outside-tunnel only). */
export const SYNC_SERVICE = `${ADDRESSES.overlay.bob}:${PORTS.hsmSync}`;
export const SYNC_SERVICE_UNDERLAY = `${ADDRESSES.underlay.bob}:${PORTS.hsmSync}`;

/** Why the lab cannot have tokens here (SoftHSM2 or the pkcs11js binding missing), or undefined. */
export function hsmUnavailable(): string | undefined {
  return softhsmUnavailable() ?? bindingUnavailable();
}

/**
 * Creates `<siteDir>/softhsm/` with the site's token (label = site) and a fresh random user PIN in a 0600
 * file. softhsm2-util takes the PIN on its command line for the instant of the init (its only
 * non-interactive way); the token and the PIN are throwaways of this lab, owned by root.
 * @throws CannotRunError when softhsm2-util fails.
 */
export function createSiteToken(siteDir: string, site: SiteName): { info: HsmSiteInfo; pin: string } {
  const module = softhsmModule();
  if (!module) throw new Error(softhsmUnavailable() ?? 'SoftHSM2 is not installed');
  const store = SoftHsmStore.at(join(siteDir, 'softhsm'));
  const pin = randomBytes(12).toString('hex');
  const pinFile = join(store.dir, 'user.pin');
  writeFileSync(pinFile, `${pin}\n`, { mode: 0o600 });
  store.initToken(site, pin, randomBytes(12).toString('hex'));
  const info: HsmSiteInfo = {
    module,
    token: site,
    conf: store.conf,
    pinFile,
    sync: { role: SYNC_ROLE[site], status: join(siteDir, 'hsm-sync.json'), log: join(siteDir, 'hsm-sync.log'), service: SYNC_SERVICE },
  };
  return { info, pin };
}

/**
 * Destroys every object on a token by re-initialising it (same label, same PIN): nothing of the old
 * token survives, including objects no selector could name. Only while no agent uses the token.
 */
export function wipeToken(info: HsmSiteInfo, pin: string): void {
  const store = storeOf(info);
  const tokens = join(store.dir, 'tokens');
  for (const t of readdirSync(tokens)) rmSync(join(tokens, t), { recursive: true, force: true });
  store.initToken(info.token, pin, randomBytes(12).toString('hex'));
}

function storeOf(info: HsmSiteInfo): SoftHsmStore {
  // The store's directory is the one holding softhsm2.conf; `at` rewrites the same configuration.
  return SoftHsmStore.at(join(info.conf, '..'));
}

/** The PIN the lab wrote for this token. @throws Error naming the file when it cannot be read. */
export function readPinFile(info: HsmSiteInfo): string {
  try {
    const pin = readFileSync(info.pinFile, 'utf8').trim();
    if (pin) return pin;
  } catch {
    /* reported below */
  }
  throw new Error(`the lab's PIN file ${info.pinFile} cannot be read (only root can; is the lab still up?)`);
}

/** The address of a lab site's token for src/hsm (runner, site client, `qkd-harness hsm`). */
export function labHsmAddress(site: SiteName, info: HsmSiteInfo): HsmAddress {
  return { name: site, location: { module: info.module, token: info.token }, env: { SOFTHSM2_CONF: info.conf }, pinVariables: [sitePinVariable(site), PIN_VARIABLE] };
}

/**
 * The environment of a site's agent: this host's, without any PIN variable, fault variable or
 * SOFTHSM2_CONF it may carry, plus the site's own SOFTHSM2_CONF and its PIN.
 */
export function agentEnv(info: HsmSiteInfo, pin: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (!k.startsWith(PIN_VARIABLE) && k !== 'QKDH_HSM_SYNC_FAULT' && k !== 'SOFTHSM2_CONF') env[k] = v;
  return { ...env, SOFTHSM2_CONF: info.conf, [PIN_VARIABLE]: pin };
}

/**
 * How to start a site's agent (for the lab's startProcess). `faults`: fault switch names of
 * mocks/hsm-sync/faults.ts; `send-outside-tunnel` on the primary makes the replica listen on its
 * underlay address too, so the stray traffic is carried (and can be counted) rather than refused.
 */
export function agentSpec(site: SiteName, namespace: string, siteDir: string, info: HsmSiteInfo, pin: string, faults: Partial<Record<SiteName, string[]>> = {}): StartSpec {
  const outside = (faults.alice ?? []).includes('send-outside-tunnel');
  const common = ['--site', site, '--module', info.module, '--token', info.token, '--status', info.sync.status, ...(faults[site] ?? []).flatMap((f) => ['--fault', f])];
  const roleArgs =
    info.sync.role === 'replica'
      ? ['--role', 'replica', '--listen', SYNC_SERVICE, ...(outside ? ['--listen', SYNC_SERVICE_UNDERLAY] : [])]
      : ['--role', 'primary', '--peer', SYNC_SERVICE, '--peer-underlay', SYNC_SERVICE_UNDERLAY, '--bind', ADDRESSES.overlay[site]];
  return {
    name: 'hsm-sync',
    site,
    namespace,
    argv: entryArgv('mocks/hsm-sync/main.ts', [...roleArgs, ...common]),
    env: agentEnv(info, pin),
    logFile: join(siteDir, 'hsm-sync.out'),
    stderrFile: info.sync.log,
  };
}

/** The agent's status file, parsed; undefined when it is missing or half-written. */
export function readSyncStatus(info: HsmSiteInfo): unknown {
  try {
    return JSON.parse(readFileSync(info.sync.status, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** A site's HSM part in `lab status`: no PIN, no key material. */
export interface HsmSiteStatus {
  token: string;
  /** Objects on the token (the agent's last count, else an `objects` request); null when unknown. */
  objects: number | null;
  agent: {
    role: string;
    state: string;
    /** The open session's remote end (the route the replication takes), or null. */
    remote: string | null;
    /** Primary: puts sent; replica: keys imported (new or replaced). */
    sent: number;
    imported: number;
    rejected: number;
    /** Primary: keys it cannot replicate (e.g. CKA_EXTRACTABLE false) — they will be missing on the replica. */
    unreplicable: number;
    /** Primary: journal entries not yet acknowledged by the replica. */
    pending: number | null;
  } | null;
  error?: string;
}

interface StatusShape {
  role?: string;
  state?: string;
  token?: { objects?: number | null };
  session?: { remote?: string } | null;
  counters?: Record<string, number>;
  unreplicable?: unknown[];
  journal?: { pending?: number } | null;
}

/** Reads the agent's status file; counts the token's objects itself (under `timeoutMs`) when the agent has not. */
export async function hsmSiteStatus(site: SiteName, info: HsmSiteInfo, timeoutMs = 15_000): Promise<HsmSiteStatus> {
  const s = readSyncStatus(info) as StatusShape | undefined;
  const agent = s ? { role: s.role ?? '?', state: s.state ?? '?', remote: s.session?.remote ?? null, sent: s.counters?.sent ?? 0, imported: (s.counters?.imported ?? 0) + (s.counters?.replaced ?? 0), rejected: s.counters?.rejected ?? 0, unreplicable: Array.isArray(s.unreplicable) ? s.unreplicable.length : 0, pending: s.journal?.pending ?? null } : null;
  let objects = typeof s?.token?.objects === 'number' ? s.token.objects : null;
  const errors = s ? [] : [`no agent status file (${info.sync.status})`];
  if (objects === null) {
    try {
      const r = await runHsm(labHsmAddress(site, info).location, readPinFile(info), { op: 'objects' }, { timeoutMs, env: { SOFTHSM2_CONF: info.conf } });
      if (r.op === 'objects') objects = r.inventory.objects.length;
    } catch (err) {
      errors.push(`cannot count the token's objects: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { token: info.token, objects, agent, ...(errors.length ? { error: errors.join('; ') } : {}) };
}
