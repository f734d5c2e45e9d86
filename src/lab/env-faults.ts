// Faults injected from the ENVIRONMENT of a site's key control — its KMS, its PQC emulator, the network,
// its WireGuard interface — never into the key control itself, so they apply to any key control (the
// built-in agent, an external command, a real Arnika). Each is a window: put in effect, then undone.
//
//   kms-hang, kms-503   the site's mock KME re-reads a control file (mocks/kme/faults-file.ts; `mock --faults-file`)
//   pqc-stale, pqc-stop the site's PQC emulator re-reads one too (mocks/pqc/main.ts --faults-file)
//   kms-refuse          nft in the site's namespace: TCP to the KME port answered with a reset
//   underlay-cut        nft in both namespaces: every packet arriving on the underlay veth dropped
//   psk-overwrite       `wg set … preshared-key /dev/stdin` with a random key (through a pipe; fingerprint only)
//   decoy-peer          a peer with a fresh public key on the site's interface, removed at the end
//
// Everything is re-derived from the lab's LabInfo (names, lab dir), so `qkd-harness lab fault` works on
// a running lab from another process. Control-file windows carry absolute times and end by themselves
// should the injecting process die; nft tables live in the site namespaces and go with them; the decoy
// peer goes with the interface. Every step has a deadline.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ackPath, writeAtomic, type FaultsAck, type FaultWindowMs } from '../../mocks/kme/faults-file.ts';
import { fingerprintBase64 } from '../secrets/fingerprint.ts';
import { SiteDriver } from '../sites/driver.ts';
import { kmeFaultsFile, pqcFaultsFile } from './fault-files.ts';
import type { LabInfo } from './info.ts';
import type { Lab } from './lab.ts';
import { ADDRESSES, PORTS, SITES, labNames, type SiteName } from './names.ts';
import { generateKeyPair, randomKey } from './wireguard.ts';

export const ENV_FAULTS = {
  'kms-hang': "the site's KME accepts connections and requests but never answers those received in the window (they stay open until the client gives up)",
  'kms-refuse': "connections to the site's KME are refused (TCP reset), e.g. the KMS process is down",
  'kms-503': "the site's KME answers enc_keys with 503 and an ETSI Error body: the key pool is empty (dec_keys of keys already shared still work)",
  'pqc-stale': "the site's PQC emulator stops exchanging and replaces its key at once by a random key marked stale (Rosenpass on expiry)",
  'pqc-stop': "the site's PQC emulator stops exchanging: key_out keeps its last key, no fresh keys",
  'underlay-cut': 'the underlay between the sites drops every packet in both directions (nft in both namespaces); each site still reaches its own KME',
  'psk-overwrite': "someone else sets a random PSK on the site's peer (`wg set … preshared-key /dev/stdin`), behind the key control's back",
  'decoy-peer': "a second (decoy) peer with a random public key is added to the site's WireGuard interface for the window (removed after)",
} as const;
export type EnvFaultName = keyof typeof ENV_FAULTS;

export const isEnvFaultName = (n: string): n is EnvFaultName => Object.hasOwn(ENV_FAULTS, n);

/** One fault window as recorded for reports (no key material: a PSK set by psk-overwrite appears as its fingerprint only). */
export interface EnvFaultWindow {
  name: EnvFaultName;
  /** underlay-cut: the site named by the caller; the cut itself is both directions. */
  site: SiteName;
  /** Epoch ms when the fault was in effect. */
  startedAt: number;
  /** Epoch ms when it was undone (psk-overwrite: = startedAt, an instant fault). */
  endedAt?: number;
  /** What was done, e.g. 'nft reject tcp dport 8443 in qkdh-…-bob (table qkdh_fault_1a2b3c)'. */
  detail: string;
  /** psk-overwrite: fingerprint of the PSK it set. */
  pskFingerprint?: string;
  /**
   * psk-overwrite: fingerprint of the peer's PSK as `wg show` read it in the same shell right after the set,
   * i.e. proof the overwrite took before a key control that watches every second could undo it.
   */
  pskReadBack?: string;
  /** decoy-peer: the decoy's public key (it must never get a PSK). */
  decoyPublicKey?: string;
}

export interface EnvFaultHandle {
  readonly window: EnvFaultWindow;
  /** Resolves when the window ended (timer of forS, or end()); never rejects (a failed undo is in window.detail). */
  readonly ended: Promise<EnvFaultWindow>;
  /** Ends the fault now (idempotent). @throws when the fault could not be undone. */
  end(): Promise<EnvFaultWindow>;
}

/** The allowed IP of the decoy peer (TEST-NET-1: routes nowhere in the lab). */
export const DECOY_ALLOWED_IP = '192.0.2.77/32';
/** Deadline of each command (nft, wg) and of a mock's acknowledgement of its control file. */
const STEP_MS = 10_000;

const recorded = new WeakMap<object, EnvFaultWindow[]>();

/**
 * Puts the fault in effect now on `site` and resolves once it is (the rule installed, the control file
 * read by the process, the peer added …); ends it by itself after `forS` seconds. Every step has a deadline.
 * @throws when the lab lacks the part (e.g. pqc-* in a lab without PQC) or the fault could not be installed.
 */
export function injectEnvFault(lab: Lab, f: { name: EnvFaultName; site: SiteName; forS: number }): Promise<EnvFaultHandle> {
  let list = recorded.get(lab);
  if (!list) recorded.set(lab, (list = []));
  return injectEnvFaultInto(lab.info, f, list);
}

/** Every window injected into this lab so far, in order (for reports). */
export function envFaultWindows(lab: Lab): EnvFaultWindow[] {
  return [...(recorded.get(lab) ?? [])];
}

/** The journal of a lab's windows, one JSON line per start and end (any process that injects appends). */
export const journalPath = (info: Pick<LabInfo, 'dir'>): string => join(info.dir, 'env-faults.jsonl');

interface Installed {
  detail: string;
  extra?: Partial<EnvFaultWindow>;
  /** Undefined: an instant fault. */
  undo?: () => Promise<void>;
}

/**
 * `injectEnvFault` on a lab known by its LabInfo only (what `qkd-harness lab fault` has); windows are
 * pushed on `record` when given.
 */
export async function injectEnvFaultInto(info: LabInfo, f: { name: EnvFaultName; site: SiteName; forS: number }, record?: EnvFaultWindow[]): Promise<EnvFaultHandle> {
  if (!isEnvFaultName(f.name)) throw new Error(`unknown environmental fault "${String(f.name)}" (known: ${Object.keys(ENV_FAULTS).join(', ')})`);
  if (!SITES.includes(f.site)) throw new Error(`unknown site "${String(f.site)}" (alice or bob)`);
  const instant = f.name === 'psk-overwrite';
  if (!instant && !(Number.isFinite(f.forS) && f.forS > 0)) throw new Error(`${f.name}: the window needs a positive duration in seconds, got ${f.forS}`);
  const done = await install(info, f.name, f.site, instant ? 0 : f.forS);
  const window: EnvFaultWindow = { name: f.name, site: f.site, startedAt: Date.now(), detail: done.detail, ...done.extra };
  record?.push(window);
  journal(info, { event: 'start', ...window });
  let settle!: (w: EnvFaultWindow) => void;
  const ended = new Promise<EnvFaultWindow>((r) => (settle = r));
  if (!done.undo) {
    window.endedAt = window.startedAt;
    settle(window);
    return { window, ended, end: () => Promise.resolve(window) };
  }
  const undo = done.undo;
  let ending: Promise<EnvFaultWindow> | undefined;
  const end = (): Promise<EnvFaultWindow> => {
    ending ??= (async () => {
      clearTimeout(timer);
      try {
        // A lab torn down meanwhile took the fault with it (namespaces, interface, lab dir).
        if (labGone(info)) window.detail += '; the lab was gone by the end';
        else await undo();
        window.endedAt = Date.now();
        journal(info, { event: 'end', ...window });
        return window;
      } catch (err) {
        window.detail += `; UNDO FAILED: ${err instanceof Error ? err.message : String(err)}`;
        throw err;
      } finally {
        settle(window);
      }
    })();
    return ending;
  };
  const timer = setTimeout(() => void end().catch(() => undefined), f.forS * 1000);
  return { window, ended, end };
}

function labGone(info: LabInfo): boolean {
  return !existsSync(info.dir) || SITES.some((s) => !existsSync(`/run/netns/${info.sites[s].namespace}`));
}

function journal(info: LabInfo, entry: object): void {
  try {
    appendFileSync(journalPath(info), `${JSON.stringify(entry)}\n`, { mode: 0o600 });
  } catch {
    /* the lab dir is gone: nothing to journal to */
  }
}

async function install(info: LabInfo, name: EnvFaultName, site: SiteName, forS: number): Promise<Installed> {
  const s = info.sites[site];
  const driver = SiteDriver.netns(site, s.namespace);
  const iface = s.wireguard.interface;
  switch (name) {
    case 'kms-hang':
      return controlWindow(kmeFaultsFile(info.dir, site), 'hang', forS, `KME of ${site}`);
    case 'kms-503':
      return controlWindow(kmeFaultsFile(info.dir, site), 'unavailable', forS, `KME of ${site}`);
    case 'pqc-stale':
    case 'pqc-stop': {
      if (!info.pqc || !s.pqc) throw new Error(`${name}: lab ${info.runId} runs without the PQC emulators`);
      const keyOut = s.pqc.keyOut;
      const before = keyFingerprint(keyOut);
      const w = await controlWindow(pqcFaultsFile(info.dir, site), name === 'pqc-stale' ? 'stale' : 'stop', forS, `PQC emulator of ${site}`);
      if (name === 'pqc-stale') {
        // In effect once key_out holds the stale key (the emulator replaces it at its next tick).
        for (const until = Date.now() + STEP_MS; keyFingerprint(keyOut) === before; ) {
          if (Date.now() > until) {
            await w.undo!().catch(() => undefined);
            throw new Error(`pqc-stale: the PQC emulator of ${site} acknowledged the window but key_out did not change within ${STEP_MS} ms`);
          }
          await sleep(50);
        }
      }
      return w;
    }
    case 'kms-refuse': {
      const table = tableName();
      const kme = ADDRESSES.underlay[site];
      // Output hook: the key control runs in the same namespace, so its SYN leaves through OUTPUT (lo).
      const rules = [`table inet ${table} {`, '  chain out {', '    type filter hook output priority 0; policy accept;', `    ip daddr ${kme} tcp dport ${PORTS.kme} counter reject with tcp reset`, '  }', '}'];
      await driver.check(['nft', '-f', '-'], { input: `${rules.join('\n')}\n`, timeoutMs: STEP_MS });
      return { detail: `nft reject with tcp reset of tcp dport ${PORTS.kme} to ${kme} in ${s.namespace} (table inet ${table})`, undo: () => dropTable(driver, table) };
    }
    case 'underlay-cut': {
      const table = tableName();
      const veth = labNames(info.runId).veth;
      // Dropped where packets arrive, in both namespaces: senders see no error (a cut cable, not a local
      // EPERM), and traffic to a site's own KME (on lo) is untouched.
      const drivers = SITES.map((x) => ({ site: x, driver: SiteDriver.netns(x, info.sites[x].namespace), veth: veth[x] }));
      const undo = async () => {
        const errs: string[] = [];
        for (const d of drivers) await dropTable(d.driver, table).catch((e: Error) => errs.push(`${d.site}: ${e.message}`));
        if (errs.length) throw new Error(errs.join('; '));
      };
      try {
        for (const d of drivers) {
          const rules = [`table inet ${table} {`, '  chain in {', '    type filter hook prerouting priority -200; policy accept;', `    iifname "${d.veth}" counter drop`, '  }', '}'];
          await d.driver.check(['nft', '-f', '-'], { input: `${rules.join('\n')}\n`, timeoutMs: STEP_MS });
        }
      } catch (err) {
        await undo().catch(() => undefined);
        throw err;
      }
      return { detail: `nft drop of every packet arriving on ${veth.alice} (alice) and ${veth.bob} (bob) (table inet ${table})`, undo };
    }
    case 'psk-overwrite': {
      const psk = randomKey();
      // Set and read back in one shell: a separate poll can come after a fast key control already restored it.
      const script = 'cat | "$0" set "$1" peer "$2" preshared-key /dev/stdin && exec "$0" show "$1" preshared-keys';
      const shown = await driver.check(['sh', '-c', script, 'wg', iface, s.wireguard.peer], { input: `${psk}\n`, timeoutMs: STEP_MS });
      const fp = fingerprintBase64(psk);
      const line = shown.split('\n').find((l) => l.split('\t')[0] === s.wireguard.peer);
      const readBack = line?.split('\t')[1]?.trim();
      return { detail: `PSK ${fp} set on peer ${s.wireguard.peer} of ${iface} (wg set, key on stdin)`, extra: { pskFingerprint: fp, ...(readBack ? { pskReadBack: fingerprintBase64(readBack) } : {}) } };
    }
    case 'decoy-peer': {
      const decoy = generateKeyPair().publicKey;
      await driver.check(['wg', 'set', iface, 'peer', decoy, 'allowed-ips', DECOY_ALLOWED_IP], { timeoutMs: STEP_MS });
      return {
        detail: `decoy peer ${decoy} (allowed-ips ${DECOY_ALLOWED_IP}) on ${iface}`,
        extra: { decoyPublicKey: decoy },
        undo: () => driver.check(['wg', 'set', iface, 'peer', decoy, 'remove'], { timeoutMs: STEP_MS }).then(() => undefined),
      };
    }
  }
}

const tableName = (): string => `qkdh_fault_${randomBytes(3).toString('hex')}`;

async function dropTable(driver: SiteDriver, table: string): Promise<void> {
  await driver.check(['nft', 'delete', 'table', 'inet', table], { timeoutMs: STEP_MS });
}

function keyFingerprint(file: string): string | undefined {
  try {
    return fingerprintBase64(readFileSync(file, 'utf8').trim());
  } catch {
    return undefined;
  }
}

/** Puts window `key` of `forS` seconds into a mock's control file and waits for its acknowledgement; undo takes it out again. */
async function controlWindow(file: string, key: string, forS: number, who: string): Promise<Installed> {
  const from = Date.now();
  const window: FaultWindowMs = { from, until: from + Math.round(forS * 1000) };
  await updateControl(file, who, (doc) => (doc[key] = window));
  return {
    detail: `window ${key} in ${file}, acknowledged by the ${who}`,
    undo: () =>
      updateControl(file, who, (doc) => {
        if (doc[key]?.from === from) delete doc[key];
      }),
  };
}

/** Read-modify-write of a control file (expired windows pruned), atomic and 0600, then the mock's acknowledgement of the new id. */
async function updateControl(file: string, who: string, change: (doc: Record<string, FaultWindowMs>) => void): Promise<void> {
  let doc: Record<string, FaultWindowMs> = {};
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    for (const [k, v] of Object.entries(parsed)) {
      const w = v as FaultWindowMs;
      if (k !== 'id' && typeof w?.from === 'number' && typeof w?.until === 'number' && w.until > Date.now()) doc[k] = w;
    }
  } catch {
    doc = {};
  }
  change(doc);
  const id = randomBytes(6).toString('hex');
  const written = Date.now();
  writeAtomic(file, JSON.stringify({ id, ...doc }));
  const until = written + STEP_MS;
  let last: FaultsAck | undefined;
  for (;;) {
    try {
      last = JSON.parse(readFileSync(ackPath(file), 'utf8')) as FaultsAck;
    } catch {
      last = undefined;
    }
    if (last?.id === id) return;
    if (last?.error && last.at >= written) throw new Error(`the ${who} refused its control file ${file}: ${last.error}`);
    if (Date.now() > until) throw new Error(`the ${who} did not acknowledge its control file ${file} within ${STEP_MS} ms (is it running? a lab started before run-time faults existed must be restarted)`);
    await sleep(50);
  }
}
