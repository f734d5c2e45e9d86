// What a conformance check works with: one typed client per SAE role, the target's Status, negative
// TLS material, and a log of every exchange (kept as evidence when the check fails).
import { readFileSync } from 'node:fs';
import { KmeClient, type Status } from '../kme/client.ts';
import { SaeIdentity, type IdentityOptions } from '../kme/identity.ts';
import type { RawResponse } from '../kme/transport.ts';
import { clientFor, closeClients, type Role, type RoleClient } from '../target/clients.ts';
import type { LoadedProfile } from '../target/load.ts';
import { evidenceOf, tlsLimitsOf, type Evidence, type IdentityFiles } from './evidence.ts';
import { KeyJournal } from './key-journal.ts';
import { ENV } from './target.ts';
import { statusView } from './status-view.ts';
import { CannotEvaluate, Failure, Skip, type Deviation, type ProfileName } from './verdict.ts';
import { KmeTransportError } from '../kme/errors.ts';

export interface Target {
  profile: LoadedProfile;
  profileName: ProfileName;
  roles: { master: RoleClient; slave: RoleClient; outsider?: RoleClient };
  /** Deliberately bad client material signed by the target's CA (expired), when the profile has it. */
  negative: { expired?: { cert: string; key: string } };
  /** Whether checks may empty the key pool (always for the embedded mock; opt-in for real targets). */
  allowExhaustion: boolean;
  /** Every key the run received (memory only, never written anywhere): for checks over the whole run. */
  keys: KeyJournal;
  close(): Promise<void>;
}

export function targetFromProfile(profile: LoadedProfile, opts: { strict?: boolean; allowExhaustion?: boolean; onClose?: () => Promise<void> } = {}): Target {
  const master = clientFor(profile, 'master')!;
  const slave = clientFor(profile, 'slave')!;
  const outsider = clientFor(profile, 'outsider');
  return {
    profile,
    profileName: opts.strict ? 'strict' : profile.profile,
    roles: { master, slave, ...(outsider ? { outsider } : {}) },
    negative: profile.negative?.expired_client ? { expired: profile.negative.expired_client } : {},
    allowExhaustion: opts.allowExhaustion ?? profile.allow_exhaustion,
    keys: new KeyJournal(process.env[ENV.keyIds]),
    async close() {
      await closeClients([master, slave, outsider]);
      await opts.onClose?.();
    },
  };
}

/** The per-check view: clients that record their exchanges, and helpers that turn surprises into Failures. */
export class CheckContext {
  readonly exchanges: Array<{ raw: RawResponse; files: IdentityFiles }> = [];
  /** Deviations found so far; a check reports every one (see soft()). */
  readonly deviations: Deviation[] = [];
  private readonly extra: SaeIdentity[] = [];
  private probeStart = 0;

  constructor(readonly target: Target) {}

  private observe(raw: RawResponse, files: IdentityFiles): void {
    this.exchanges.push({ raw, files });
    this.target.keys.add(raw);
  }

  /** Records a deviation with the exchanges of the probe that showed it (most recent first). */
  record(f: Failure): void {
    const own = this.exchanges.slice(this.probeStart);
    const evidence = f.evidence ? [f.evidence] : (own.length ? own : this.exchanges).slice(-3).reverse().map((e) => evidenceOf(e.raw, e.files));
    this.deviations.push({ message: f.message, ...(f.tolerance ? { tolerance: f.tolerance } : {}), evidence });
    this.probeStart = this.exchanges.length;
  }

  /**
   * Runs one probe of a check and goes on after a deviation: a Failure is recorded (with this probe's
   * evidence) instead of ending the check, so every deviation of a multi-probe check is reported.
   * Anything else (transport errors, CannotEvaluate) still ends the check.
   */
  async soft<T>(probe: () => Promise<T> | T): Promise<T | undefined> {
    this.probeStart = this.exchanges.length;
    try {
      return await probe();
    } catch (err) {
      if (!(err instanceof Failure)) throw err;
      this.record(err);
      return undefined;
    }
  }

  /**
   * A call the check depends on but does not judge (enc_keys before a dec_keys check): when it fails
   * or deviates, the check is an `error` naming the prerequisite, not a verdict on its own requirement.
   */
  async prerequisite<T>(what: string, step: () => Promise<T> | T): Promise<T> {
    try {
      return await step();
    } catch (err) {
      if (err instanceof Failure) throw new CannotEvaluate(`prerequisite ${what} failed: ${err.message}`);
      if (err instanceof KmeTransportError) throw new CannotEvaluate(`prerequisite ${what} failed: ${err.kind}: ${err.message}`);
      throw err;
    }
  }

  role(role: Role): RoleClient | undefined {
    return this.target.roles[role];
  }

  private readonly observed = new Map<Role, KmeClient>();

  /** A client of the role that records its exchanges for evidence (one per role and check). */
  client(role: Role): KmeClient {
    const rc = this.target.roles[role];
    if (!rc) throw new Skip(`the target profile has no ${role} SAE`);
    let c = this.observed.get(role);
    if (!c) {
      c = rc.client.observed((raw) => this.observe(raw, rc.files));
      this.observed.set(role, c);
    }
    return c;
  }

  get master(): KmeClient {
    return this.client('master');
  }
  get slave(): KmeClient {
    return this.client('slave');
  }
  get masterId(): string {
    return this.target.roles.master.saeId;
  }
  get slaveId(): string {
    return this.target.roles.slave.saeId;
  }

  /**
   * A client at a role's KME with changed TLS material (no certificate, another CA, TLS 1.1…), for negative
   * tests. Files (and a setup command) given for the reproduction command; its TLS flags come from `change`.
   */
  variant(role: Role, change: Partial<IdentityOptions>, files: Partial<IdentityFiles> = {}): KmeClient {
    const rc = this.target.roles[role];
    if (!rc) throw new Skip(`the target profile has no ${role} SAE`);
    const base = rc.client.identity.options;
    const identity = new SaeIdentity({ ...base, ...change });
    this.extra.push(identity);
    const tls = tlsLimitsOf(change); // the reproduction carries the TLS change as curl flags
    const f: IdentityFiles = { ca: files.ca ?? rc.files.ca, ...(change.cert === undefined && 'cert' in change ? {} : { cert: files.cert ?? rc.files.cert, key: files.key ?? rc.files.key }), ...(files.setup ? { setup: files.setup } : {}), ...(tls ? { tls } : {}) };
    return new KmeClient(identity, rc.client.baseUrl, (raw) => this.observe(raw, f));
  }

  /** Loads PEM files for a variant identity. */
  pem(path: string): Buffer {
    return readFileSync(path);
  }

  /**
   * Master's Status towards the slave. Members that are valid can be read even when others are not (one
   * bad member is qkd014/5.2/1's finding alone); reading a missing or invalid member, or a Status that
   * could not be had at all, makes the check an `error` naming it — never a verdict.
   */
  async status(): Promise<Status> {
    const r = await this.master.status(this.slaveId).catch((err: unknown) => {
      throw err instanceof KmeTransportError ? new CannotEvaluate(`prerequisite GET status failed: ${err.kind}: ${err.message}`) : err;
    });
    if (r.status !== 200) throw new CannotEvaluate(`prerequisite GET status answered ${r.status}`);
    if (r.data) return r.data;
    return statusView(r.raw.json(), 'GET status');
  }

  /** The last three exchanges, the most recent (usually the one that failed) first. */
  evidence(): Evidence[] {
    return this.exchanges
      .slice(-3)
      .reverse()
      .map((e) => evidenceOf(e.raw, e.files));
  }

  async close(): Promise<void> {
    await Promise.all(this.extra.map((i) => i.close()));
  }
}

export { CannotEvaluate, Failure, Skip };
