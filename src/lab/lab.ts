// The two-site lab, top to bottom (in the spirit of WireGuard's netns.sh selftest):
//
//   alice (netns qkdh-<id>-alice)                      bob (netns qkdh-<id>-bob)
//   ┌──────────────────────────────────┐              ┌──────────────────────────────────┐
//   │ probe ⇄ qh<id>a 203.0.113.1/24 ══╪═ WireGuard ══╪═ qh<id>b 203.0.113.2/24 ⇄ probe  │
//   │ key control ── ETSI 014 ── KME A │              │ KME B ── ETSI 014 ── key control │
//   │ PQC emulator → key_out           │              │ key_out ← PQC emulator           │
//   │ token alice → sync primary ══════╪═ tunnel ═════╪▶ :5656 sync replica → token bob  │
//   │ qh<id>ua 198.51.100.1/24 ────────┼── veth ──────┼─ qh<id>ub 198.51.100.2/24        │
//   └──────────────────────────────────┘  underlay    └──────────────────────────────────┘
//
// The HSM part (src/lab/hsm.ts) is optional: SoftHSM2 tokens under the lab dir, one per site.
// Everything is recorded in the state file before it is created, and `down()` (also run when `up`
// fails) removes it all in reverse order.
import { mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SiteDriver } from '../sites/driver.ts';
import { teardownRecord, type CleanupReport } from './cleanup.ts';
import { kmeArgv, kmeUrl, kmsUrlFor, labPki, SAE_OF } from './kme.ts';
import { kmeFaultsFile, pqcFaultsFile } from './fault-files.ts';
import { addNamespace } from './namespace.ts';
import { ADDRESSES, PORTS, SITES, labNames, newRunId, type LabNames, type SiteName } from './names.ts';
import { entryArgv } from './node.ts';
import { labUnavailable } from './prerequisites.ts';
import { LabProcess, startProcess, lastLines } from './process.ts';
import { LabState, stateDir } from './state.ts';
import { labStatus, type LabStatus } from './status.ts';
import { INSTRUMENT_FAULTS, controlLine, runNegativeControl, type InstrumentFault, type NegativeControl } from './negative-control.ts';
import { probeAnswers } from './probe.ts';
import { addVethPair } from './veth.ts';
import { agentSpec, createSiteToken, hsmUnavailable, labHsmAddress, readSyncStatus, wipeToken, type HsmSiteInfo } from './hsm.ts';
import type { HsmAddress } from '../hsm/address.ts';
import { localSiteClient, type HsmSiteClient } from '../hsm/site-client.ts';
import { configureInterface, expireSessions, generateKeyPair, randomKey, socketPath, waitForSocket } from './wireguard.ts';
import { newSealKey } from '../secrets/seal.ts';
import type { FaultSpec, KeyControl, LabInfo, SiteInfo } from './info.ts';

export type { FaultSpec, KeyControl, LabInfo, SiteInfo } from './info.ts';

export interface LabOptions {
  /** For both sites, or per site (default builtin). */
  keyControl?: KeyControl | Partial<Record<SiteName, KeyControl>>;
  /** Key-control INTERVAL in seconds (default 20). */
  intervalS?: number;
  /** Run the PQC emulators and mix their keys in (default true). */
  pqc?: boolean;
  /** Rosenpass time scale for the PQC emulators (default 1: rekey after 120 s). */
  pqcTimeScale?: number;
  /** Arnika MODE (default AtLeastQkdRequired, Arnika's default). */
  mode?: string;
  /** Per-site key-control settings an external command may want too (passed to both). */
  extraEnv?: Partial<Record<SiteName, Record<string, string>>>;
  faults?: Partial<Record<SiteName, FaultSpec>>;
  probeIntervalMs?: number;
  /** SoftHSM2 token per site + replication agents (default: on when SoftHSM2 and pkcs11js are usable). */
  hsm?: boolean;
  /** Fault switches of the agents (mocks/hsm-sync/faults.ts), per site (alice = primary, bob = replica). */
  hsmSyncFaults?: Partial<Record<SiteName, string[]>>;
  stateDir?: string;
  runId?: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Aborting it during the build stops the build at once (running processes SIGKILLed), removes what exists, and `up` rejects with LabAborted. */
  signal?: AbortSignal;
  /** `cli` for `lab up`: only such labs are picked by commands given no --run-id (default api: a test's lab is never taken by accident). */
  origin?: 'cli' | 'api';
  /**
   * Prove the instruments before key control starts (wg/22, src/lab/negative-control.ts; default true,
   * ~4–5 s): different PSKs carry nothing, one equal PSK carries traffic. A failed control does not stop
   * the lab; it is in `info.negativeControl` and makes every e2e verdict of the lab `error`.
   */
  negativeControl?: boolean;
  /** Break an instrument on purpose, to show the control catches it (tests; default: QKDH_INSTRUMENT_FAULTS, comma-separated, else none). */
  instrumentFaults?: InstrumentFault[];
}

/** Instrument faults named in QKDH_INSTRUMENT_FAULTS (comma-separated). @throws on an unknown name. */
export function instrumentFaultsFromEnv(env: NodeJS.ProcessEnv = process.env): InstrumentFault[] {
  const names = (env.QKDH_INSTRUMENT_FAULTS ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  for (const n of names) if (!(n in INSTRUMENT_FAULTS)) throw new Error(`QKDH_INSTRUMENT_FAULTS: unknown instrument fault "${n}" (known: ${Object.keys(INSTRUMENT_FAULTS).join(', ')})`);
  return names as InstrumentFault[];
}

const other = (s: SiteName): SiteName => (s === 'alice' ? 'bob' : 'alice');

/** `Lab.up` was aborted through `LabOptions.signal`; everything built was removed. */
export class LabAborted extends Error {
  override name = 'LabAborted';
}

export class Lab {
  readonly processes: LabProcess[] = [];
  private downing: Promise<CleanupReport> | undefined;

  private constructor(
    readonly names: LabNames,
    readonly state: LabState,
    readonly dir: string,
    readonly options: LabOptions,
  ) {
    this.paths = { alice: sitePaths(join(dir, 'alice')), bob: sitePaths(join(dir, 'bob')) };
  }

  /** Every file of a site, named once (the build, the key-control environment and `info` use these). */
  private readonly paths: Record<SiteName, SitePaths>;

  info!: LabInfo;
  private privateKeys = {} as Record<SiteName, string>;
  /** The tokens' throwaway user PINs (also in each site's 0600 pinFile); never in info or state. */
  private hsmPins: Partial<Record<SiteName, string>> = {};
  private hsmSites: Partial<Record<SiteName, HsmSiteInfo>> = {};
  private syncFaults: Partial<Record<SiteName, string[]>> = {};
  /** Seals the key inputs the built-in agents record (src/secrets/seal.ts); memory only, never in info or state. */
  readonly observationKey = newSealKey();
  /** When the build began, and its steps timed so far (`step` opens one, the next closes it). */
  private readonly startedAt = Date.now();
  private steps: Array<{ step: string; ms: number }> = [];
  private stepOpen: { step: string; at: number } | undefined;

  get runId(): string {
    return this.names.runId;
  }

  driver(site: SiteName): SiteDriver {
    return SiteDriver.netns(site, this.names.namespace[site]);
  }

  /** Builds the lab; on any failure removes what was built and rethrows. */
  static async up(options: LabOptions = {}): Promise<Lab> {
    const unavailable = labUnavailable();
    if (unavailable) throw new Error(unavailable);
    const names = labNames(options.runId ?? newRunId());
    const state = LabState.create(names.runId, options.stateDir ?? stateDir());
    const dir = mkdtempSync(join(tmpdir(), `qkdh-${names.runId}-`));
    state.update((r) => {
      r.dir = dir;
      r.origin = options.origin ?? 'api';
    });
    const lab = new Lab(names, state, dir, options);
    // An abort kills what runs now, so whatever the build awaits fails at once; the build's own
    // checkpoints (say, start) stop it creating more.
    const onAbort = () => {
      for (const p of lab.processes) p.signal('SIGKILL');
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      lab.checkAborted();
      await lab.build();
      lab.checkAborted();
      return lab;
    } catch (err) {
      await lab.down().catch(() => undefined);
      if (options.signal?.aborted) throw new LabAborted(`lab ${names.runId} aborted during its build (${String(options.signal.reason)}); everything it built was removed`);
      throw err;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  private checkAborted(): void {
    if (this.options.signal?.aborted) throw new LabAborted(`aborted (${String(this.options.signal.reason)})`);
  }

  private say(line: string): void {
    this.checkAborted();
    this.options.log?.(`lab ${this.runId}: ${line}`);
  }

  /** Closes the open build step (its duration into `steps`) and opens `step`, saying it. */
  private step(step: string | undefined): void {
    const now = Date.now();
    if (this.stepOpen) this.steps.push({ step: this.stepOpen.step, ms: now - this.stepOpen.at });
    this.stepOpen = step === undefined ? undefined : { step, at: now };
    if (step !== undefined) this.say(step);
  }

  private start(spec: Parameters<typeof startProcess>[0]): LabProcess {
    this.checkAborted();
    const p = startProcess(spec, (id) => this.state.update((r) => r.processes.push(id)));
    this.processes.push(p);
    return p;
  }

  private siteDir(site: SiteName, ...rest: string[]): string {
    return join(this.dir, site, ...rest);
  }

  private async build(): Promise<void> {
    const { names, options: o } = this;
    const intervalS = o.intervalS ?? 20;
    const pqc = o.pqc ?? true;
    const pqcTimeScale = o.pqcTimeScale ?? 1;
    const kc = (site: SiteName): KeyControl => {
      const k = o.keyControl;
      if (k && 'kind' in k) return k as KeyControl;
      return (k as Partial<Record<SiteName, KeyControl>> | undefined)?.[site] ?? { kind: 'builtin' };
    };
    const describeKc = (k: KeyControl) => (k.kind === 'builtin' ? 'builtin' : `exec:${k.command}`);
    const mode = o.mode ?? 'AtLeastQkdRequired';
    const hsmWhyNot = hsmUnavailable();
    if (o.hsm === true && hsmWhyNot) throw new Error(`the lab's HSM part cannot run here: ${hsmWhyNot}`);
    const hsm = o.hsm ?? !hsmWhyNot;
    for (const site of SITES) mkdirSync(this.siteDir(site), { recursive: true, mode: 0o700 });

    // 1. Two network namespaces, one per site.
    this.step('namespaces');
    for (const site of SITES) {
      this.checkAborted();
      this.state.update((r) => r.namespaces.push(names.namespace[site]));
      await addNamespace(names.namespace[site]);
    }

    // 2. The underlay: a veth pair between them, 198.51.100.1/24 ↔ 198.51.100.2/24.
    this.step('underlay');
    await addVethPair(
      { namespace: names.namespace.alice, name: names.veth.alice, address: ADDRESSES.underlay.alice, prefix: ADDRESSES.underlay.prefix },
      { namespace: names.namespace.bob, name: names.veth.bob, address: ADDRESSES.underlay.bob, prefix: ADDRESSES.underlay.prefix },
    );

    // 3. WireGuard: wireguard-go per site, keys, and deliberately different random PSKs — the tunnel
    //    carries traffic only once key control has installed the same PSK on both sides.
    this.step('wireguard');
    const keys = { alice: generateKeyPair(), bob: generateKeyPair() };
    for (const site of SITES) {
      const iface = names.wg[site];
      this.state.update((r) => r.sockets.push(socketPath(iface)));
      const wg = this.start({ name: 'wireguard-go', site, namespace: names.namespace[site], argv: ['wireguard-go', '-f', iface], logFile: this.paths[site].wireguardLog, env: { ...process.env, LOG_LEVEL: 'error' } });
      await Promise.race([waitForSocket(iface), wg.exited.then((e) => Promise.reject(new Error(`wireguard-go exited (${e.code ?? e.signal}): ${lastLines(wg.errLog() || wg.log())}`)))]);
      this.privateKeys[site] = keys[site].privateKey;
      writeFileSync(this.paths[site].privateKey, `${keys[site].privateKey}\n`, { mode: 0o600 });
      await configureInterface(this.driver(site), {
        iface,
        privateKeyFile: this.paths[site].privateKey,
        listenPort: PORTS.wireguard,
        peerPublicKey: keys[other(site)].publicKey,
        psk: randomKey(),
        endpoint: `${ADDRESSES.underlay[other(site)]}:${PORTS.wireguard}`,
        allowedIps: `${ADDRESSES.overlay[other(site)]}/32`,
        address: ADDRESSES.overlay[site],
        prefix: ADDRESSES.overlay.prefix,
      });
    }

    // 4. A mock KME per site, linked over the underlay, sharing one PKI and QKD-link seed.
    this.step('KMEs');
    const pki = await labPki(join(this.dir, 'pki'));
    const seed = randomBytes(16).toString('hex');
    const kmes = SITES.map((site) => this.start({ name: 'kme', site, namespace: names.namespace[site], argv: kmeArgv(site, pki.dir, seed, kmeFaultsFile(this.dir, site)), logFile: this.paths[site].kmeLog }));
    await Promise.all(kmes.map((k) => k.waitForLine((l) => l.startsWith('{') && l.includes('"kmes"'), 30_000)));

    // 5. PQC: an emulator per site that exchanges an ML-KEM key with its peer and writes key_out.
    if (pqc) {
      this.step('PQC emulators');
      for (const site of SITES) {
        mkdirSync(this.paths[site].pqcDir, { recursive: true, mode: 0o700 });
        this.start({
          name: 'pqc',
          site,
          namespace: names.namespace[site],
          env: { ...process.env, ...this.faultEnv(site) },
          logFile: this.paths[site].pqcLog,
          argv: entryArgv('mocks/pqc/main.ts', [
            ...['--name', site, '--peer-name', other(site)],
            ...['--listen', `${ADDRESSES.underlay[site]}:${PORTS.pqc}`, '--peer', `${ADDRESSES.underlay[other(site)]}:${PORTS.pqc}`],
            ...['--key-out', this.paths[site].keyOut, '--events', this.paths[site].pqcEvents],
            ...['--time-scale', String(pqcTimeScale), ...(site === 'alice' ? ['--initiator'] : [])],
            ...['--faults-file', pqcFaultsFile(this.dir, site)],
          ]),
        });
      }
      await this.waitFor(() => SITES.every((s) => readable(this.paths[s].keyOut)), 30_000, 'the first PQC key exchange');
    }

    // 6. The probe: UDP echo on each site and a prober towards the other, across the tunnel. Before key
    //    control: the negative control needs it, and it does not depend on key control.
    this.step('probes');
    const instrumentFaults = o.instrumentFaults ?? instrumentFaultsFromEnv();
    for (const site of SITES) {
      this.start({
        name: 'probe',
        site,
        namespace: names.namespace[site],
        logFile: this.paths[site].probeOut,
        argv: entryArgv('src/lab/probe-main.ts', [
          ...['--target', ADDRESSES.overlay[other(site)], '--port', String(PORTS.probeEcho), '--log', this.paths[site].probeLog, '--interval-ms', String(o.probeIntervalMs ?? 100)],
          ...(instrumentFaults.includes('probe-always-replies') ? ['--instrument-fault', 'always-replies'] : []),
        ]),
      });
    }
    await Promise.all(this.processes.filter((p) => p.spec.name === 'probe').map((p) => p.waitForLine((l) => l.includes('"ready"'), 30_000)));
    this.checkDead('at start-up');

    // 7. The negative control (wg/22): with the different PSKs of step 3 nothing gets through, with one
    //    equal PSK the probe and a handshake must; then different PSKs again, before any key control.
    let negativeControl: NegativeControl | undefined;
    if (o.negativeControl ?? true) {
      this.step('negative control');
      negativeControl = await runNegativeControl(
        Object.fromEntries(
          SITES.map((site) => [
            site,
            {
              driver: this.driver(site),
              iface: names.wg[site],
              peer: keys[other(site)].publicKey,
              answers: () => probeAnswers(readText(this.paths[site].probeLog)),
              expire: () => expireSessions(names.wg[site], this.privateKeys[site], 10_000),
            },
          ]),
        ) as Parameters<typeof runNegativeControl>[0],
        { instrumentFaults, checkAborted: () => this.checkAborted() },
      );
      this.say(controlLine(negativeControl));
    }

    // 8. Key control per site: the built-in agent or an external command, same environment. The backup
    //    (bob, odd ARNIKA_ID) first, and alice once bob listens: an Arnika that sends its first key_ID at
    //    once finds the peer listening, so the documented roles hold. Ready when it listens for its peer
    //    (the same test for the built-in agent and an external one).
    this.step('key control');
    //    Agents that honour QKDH_SCHEDULE_ORIGIN_FILE (ours) take no turn before the lab writes the
    //    instant both count from, once both listen: alice leads however long either took to start.
    const keyControlOrder: SiteName[] = ['bob', 'alice'];
    const originFile = join(this.dir, 'schedule-origin');
    for (const site of keyControlOrder) {
      const env = { ...this.keyControlEnv(site, { intervalS, pqc, mode, pki: { ca: pki.ca, ...pki.saes[SAE_OF[site]]! }, peerPublicKey: keys[other(site)].publicKey }), QKDH_SCHEDULE_ORIGIN_FILE: originFile };
      const k = kc(site);
      const argv = k.kind === 'builtin' ? entryArgv('mocks/keyctl/main.ts') : ['sh', '-c', k.command];
      this.start({ name: 'key-control', site, namespace: names.namespace[site], argv, env: { ...process.env, ...env }, logFile: this.paths[site].keyControlLog });
      await this.waitForListener(site, PORTS.keyControl, 30_000, 'key control');
    }
    writeFileSync(`${originFile}.tmp`, String(Date.now()));
    renameSync(`${originFile}.tmp`, originFile);
    this.checkDead('at start-up');

    // 9. HSM: a SoftHSM2 token per site (own SOFTHSM2_CONF under the site's directory) and the
    //    replication agents — replica on bob's tunnel address, primary in alice dialling it through the
    //    tunnel. Keys flow once key control has installed matching PSKs; the primary retries with
    //    back-off until then, so only the agents' readiness is awaited here, not a first session.
    if (hsm) {
      this.step('HSM tokens and replication agents');
      for (const site of SITES) {
        const t = createSiteToken(this.siteDir(site), site);
        this.hsmSites[site] = t.info;
        this.hsmPins[site] = t.pin;
      }
      await this.startHsmSync(o.hsmSyncFaults ?? {});
    }

    this.step(undefined);
    const upAt = Date.now();
    this.info = {
      runId: this.runId,
      stateFile: this.state.file,
      dir: this.dir,
      intervalS,
      keyControl: describeKc(kc('alice')) === describeKc(kc('bob')) ? describeKc(kc('alice')) : SITES.map((x) => `${x}: ${describeKc(kc(x))}`).join(', '),
      pqc,
      pqcTimeScale,
      mode,
      faults: o.faults ?? {},
      hsm,
      hsmSyncFaults: hsm ? (o.hsmSyncFaults ?? {}) : {},
      ca: pki.ca,
      sites: Object.fromEntries(SITES.map((site) => [site, this.siteInfo(site, keys, pqc, kc(site))])) as Record<SiteName, SiteInfo>,
      ...(negativeControl ? { negativeControl } : {}),
      keyControlOrder,
      setup: { startedAt: this.startedAt, upAt, ms: upAt - this.startedAt, steps: this.steps },
    };
    this.state.update((r) => {
      r.info = this.info;
      r.phase = 'up';
    });
    this.say(`up in ${(this.info.setup.ms / 1000).toFixed(1)} s (${this.steps.map((x) => `${x.step} ${(x.ms / 1000).toFixed(1)} s`).join(', ')})`);
  }

  private faultEnv(site: SiteName): Record<string, string> {
    const f = this.options.faults?.[site];
    if (!f) return {};
    return { QKDH_FAULT: f.fault, ...(f.fromS !== undefined ? { QKDH_FAULT_FROM: String(f.fromS) } : {}), ...(f.forS !== undefined ? { QKDH_FAULT_FOR: String(f.forS) } : {}), ...f.env };
  }

  /** Arnika 1.x's environment for one site (docs/lab.md): what a real Arnika would be given. */
  private keyControlEnv(site: SiteName, c: { intervalS: number; pqc: boolean; mode: string; pki: { ca: string; cert: string; key: string }; peerPublicKey: string }): Record<string, string> {
    return {
      LISTEN_ADDRESS: `${ADDRESSES.underlay[site]}:${PORTS.keyControl}`,
      SERVER_ADDRESS: `${ADDRESSES.underlay[other(site)]}:${PORTS.keyControl}`,
      ARNIKA_ID: site === 'alice' ? '2' : '1', // bob odd: his first turn comes INTERVAL/2 later, alice leads
      INTERVAL: `${c.intervalS}s`,
      KMS_URL: kmsUrlFor(site),
      KMS_HTTP_TIMEOUT: '2s',
      KMS_BACKOFF_MAX_RETRIES: '5',
      KMS_BACKOFF_BASE_DELAY: '100ms',
      CERTIFICATE: c.pki.cert,
      PRIVATE_KEY: c.pki.key,
      CA_CERTIFICATE: c.pki.ca,
      WIREGUARD_INTERFACE: this.names.wg[site],
      WIREGUARD_PEER_PUBLIC_KEY: c.peerPublicKey,
      ...(c.pqc ? { PQC_PSK_FILE: this.paths[site].keyOut } : {}),
      MODE: c.mode,
      QKDH_SITE: site,
      QKDH_OBSERVATION_LOG: this.paths[site].observations,
      QKDH_OBSERVATION_KEY: this.observationKey.toString('hex'),
      ...this.faultEnv(site),
      ...this.options.extraEnv?.[site],
    };
  }

  private siteInfo(site: SiteName, keys: Record<SiteName, { publicKey: string }>, pqc: boolean, kc: KeyControl): SiteInfo {
    return {
      namespace: this.names.namespace[site],
      exec: ['ip', 'netns', 'exec', this.names.namespace[site]],
      underlay: ADDRESSES.underlay[site],
      overlay: ADDRESSES.overlay[site],
      wireguard: { interface: this.names.wg[site], publicKey: keys[site].publicKey, peer: keys[other(site)].publicKey, socket: socketPath(this.names.wg[site]), listenPort: PORTS.wireguard },
      kme: { url: kmeUrl(site), kmsUrl: kmsUrlFor(site), sae: SAE_OF[site], requestLog: this.paths[site].kmeRequestLog },
      keyControl: { listen: `${ADDRESSES.underlay[site]}:${PORTS.keyControl}`, command: kc.kind === 'builtin' ? 'builtin' : kc.command, log: this.paths[site].keyControlLog, observations: this.paths[site].observations },
      ...(pqc ? { pqc: { keyOut: this.paths[site].keyOut, events: this.paths[site].pqcEvents, log: this.paths[site].pqcLog } } : {}),
      probe: { target: ADDRESSES.overlay[other(site)], port: PORTS.probeEcho, log: this.paths[site].probeLog },
      ...(this.hsmSites[site] ? { hsm: this.hsmSites[site] } : {}),
    };
  }

  /** Throws when a lab process has exited (`when`: 'at start-up', 'while waiting for …'). */
  private checkDead(when: string): void {
    const dead = this.processes.find((p) => p.exitStatus);
    if (dead) throw new Error(`${dead.spec.name} (${dead.spec.site}) exited ${when}: ${lastLines(dead.errLog() || dead.log())}`);
  }

  /** Polls `ok` every 100 ms until it holds; throws when a lab process exits meanwhile or after `timeoutMs`. */
  private async waitFor(ok: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!(await ok())) {
      this.checkDead(`while waiting for ${what}`);
      if (Date.now() > until) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /** Waits until something listens on TCP `port` in the site's namespace. */
  private waitForListener(site: SiteName, port: number, timeoutMs: number, what: string): Promise<void> {
    const listening = async () => {
      const r = await this.driver(site).run(['ss', '-ltnH', `sport = :${port}`], { timeoutMs: 5_000 });
      return r.code === 0 && r.stdout.trim() !== '';
    };
    return this.waitFor(listening, timeoutMs, `${what} of ${site} to listen on port ${port}`);
  }

  /** Starts the fault windows of `fromS: 'signal'` faults now (SIGUSR2 to the site's agent and PQC emulator). */
  injectFaults(): string[] {
    const hit: string[] = [];
    for (const [site, f] of Object.entries(this.options.faults ?? {})) {
      if (f?.fromS !== 'signal') continue;
      for (const p of this.processes.filter((x) => x.spec.site === site && (x.spec.name === 'pqc' || (x.spec.name === 'key-control' && !x.spec.argv.includes('-c'))))) {
        p.signalMain('SIGUSR2');
        hit.push(`${site}/${p.spec.name}`);
      }
    }
    return hit;
  }

  /** Expires the current WireGuard sessions on `site` so the next packet handshakes with the current PSK. */
  expireSessions(site: SiteName = 'alice'): Promise<void> {
    return expireSessions(this.names.wg[site], this.privateKeys[site]);
  }

  /** Starts both agents and waits until each printed its ready line (a primary up before its replica retries with back-off). */
  private async startHsmSync(faults: Partial<Record<SiteName, string[]>>): Promise<void> {
    this.syncFaults = faults;
    const agents = (['bob', 'alice'] as const).map((site) => this.start(agentSpec(site, this.names.namespace[site], this.siteDir(site), this.hsmSite(site), this.hsmPins[site]!, faults)));
    // Each its own ready line: the log is appended to across restarts, and the ready line carries the pid.
    await Promise.all(agents.map((p) => p.waitForLine((l) => l.includes('"ready":true') && l.includes(`"pid":${p.pid},`), 90_000)));
  }

  private hsmSite(site: SiteName): HsmSiteInfo {
    const h = this.hsmSites[site];
    if (!h) throw new Error(`lab ${this.runId} has no HSM tokens (started with hsm off, or SoftHSM2/pkcs11js missing)`);
    return h;
  }

  /** The site's token for src/hsm: module, label = site, env { SOFTHSM2_CONF } of that site only. @throws when the lab has no tokens. */
  hsmAddress(site: SiteName): HsmAddress {
    return labHsmAddress(site, this.hsmSite(site));
  }

  /** The site token's throwaway user PIN (tests and harness only: never print it). */
  hsmPin(site: SiteName): string {
    this.hsmSite(site);
    return this.hsmPins[site]!;
  }

  /** A client that runs requests on the site's token in a child process under a deadline. */
  hsmClient(site: SiteName): HsmSiteClient {
    return localSiteClient(site, this.hsmAddress(site), this.hsmPin(site));
  }

  /** The agent's status file, parsed (shape: docs/hsm-sync.md); undefined when missing or unreadable. */
  hsmSyncStatus(site: SiteName): unknown {
    return readSyncStatus(this.hsmSite(site));
  }

  /** The agents' current fault switches. */
  hsmSyncFaults(): Partial<Record<SiteName, string[]>> {
    return this.syncFaults;
  }

  /**
   * Stops both agents (SIGTERM, their clean exit), optionally destroys every object on bob's token
   * (`wipeReplica`: the token is re-initialised, same label and PIN), and starts them again with
   * `faults` (default none), waiting until both are ready. The old processes leave the state file.
   */
  async restartHsmSync(o: { faults?: Partial<Record<SiteName, string[]>>; wipeReplica?: boolean } = {}): Promise<void> {
    this.hsmSite('alice');
    const old = this.processes.filter((p) => p.spec.name === 'hsm-sync');
    // Primary first: it would otherwise dial a replica that is going away and log the refusal.
    for (const p of SITES.flatMap((site) => old.filter((x) => x.spec.site === site))) await p.stop(5_000);
    const stray = old.find((p) => p.running);
    if (stray) throw new Error(`the hsm-sync agent of ${stray.spec.site} (pid ${stray.pid}) did not stop`);
    for (const p of old) this.processes.splice(this.processes.indexOf(p), 1);
    this.state.update((r) => (r.processes = r.processes.filter((x) => !old.some((p) => p.pid === x.pid && p.id.start === x.start))));
    if (o.wipeReplica) wipeToken(this.hsmSite('bob'), this.hsmPins.bob!);
    await this.startHsmSync(o.faults ?? {});
  }

  /** Cuts (false) or restores (true) the underlay: `ip link set <veth> down|up` in both namespaces. */
  async setUnderlay(up: boolean): Promise<void> {
    const host = SiteDriver.local('host');
    for (const site of SITES) await host.check(['ip', '-n', this.names.namespace[site], 'link', 'set', this.names.veth[site], up ? 'up' : 'down'], { timeoutMs: 10_000 });
  }

  status(): Promise<LabStatus> {
    return labStatus(this.info);
  }

  /** Stops everything in reverse order and removes it; idempotent. */
  down(): Promise<CleanupReport> {
    this.downing ??= (async () => {
      this.state.update((r) => (r.phase = 'stopping'));
      await Promise.all([...this.processes].reverse().map((p) => p.stop(2_000)));
      return teardownRecord(this.state.record, this.state.file);
    })();
    return this.downing;
  }
}

interface SitePaths {
  privateKey: string;
  wireguardLog: string;
  kmeLog: string;
  /** The KME's stderr: its request log (mocks/kme/request-log.ts). */
  kmeRequestLog: string;
  pqcDir: string;
  pqcLog: string;
  keyOut: string;
  pqcEvents: string;
  probeOut: string;
  probeLog: string;
  keyControlLog: string;
  observations: string;
}

function sitePaths(dir: string): SitePaths {
  return {
    privateKey: join(dir, 'private.key'),
    wireguardLog: join(dir, 'wireguard-go.log'),
    kmeLog: join(dir, 'kme.log'),
    kmeRequestLog: join(dir, 'kme.log.err'), // startProcess: stderr to `<logFile>.err`
    pqcDir: join(dir, 'pqc'),
    pqcLog: join(dir, 'pqc.log'),
    keyOut: join(dir, 'pqc', 'key_out'),
    pqcEvents: join(dir, 'pqc', 'events.jsonl'),
    probeOut: join(dir, 'probe.out'),
    probeLog: join(dir, 'probe.jsonl'),
    keyControlLog: join(dir, 'key-control.log'),
    observations: join(dir, 'observations.jsonl'),
  };
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function readable(file: string): boolean {
  try {
    return readFileSync(file).length > 0;
  } catch {
    return false;
  }
}
