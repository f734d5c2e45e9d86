// What a conformance check works with: one typed client per SAE role, the target's Status, negative
// TLS material, and a log of every exchange (kept as evidence when the check fails).
import { readFileSync } from 'node:fs';
import { KmeClient, type Status } from '../kme/client.ts';
import { SaeIdentity, type IdentityOptions } from '../kme/identity.ts';
import type { RawResponse } from '../kme/transport.ts';
import { clientFor, closeClients, type Role, type RoleClient } from '../target/clients.ts';
import type { LoadedProfile } from '../target/load.ts';
import { evidenceOf, type Evidence, type IdentityFiles } from './evidence.ts';
import { Failure, Skip, type ProfileName } from './verdict.ts';

export interface Target {
  profile: LoadedProfile;
  profileName: ProfileName;
  roles: { master: RoleClient; slave: RoleClient; outsider?: RoleClient };
  /** Deliberately bad client material signed by the target's CA (expired), when the profile has it. */
  negative: { expired?: { cert: string; key: string } };
  /** Whether checks may empty the key pool (always for the embedded mock; opt-in for real targets). */
  allowExhaustion: boolean;
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
    async close() {
      await closeClients([master, slave, outsider]);
      await opts.onClose?.();
    },
  };
}

/** The per-check view: clients that record their exchanges, and helpers that turn surprises into Failures. */
export class CheckContext {
  readonly exchanges: Array<{ raw: RawResponse; files: IdentityFiles }> = [];
  private readonly extra: SaeIdentity[] = [];

  constructor(readonly target: Target) {}

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
      c = rc.client.observed((raw) => this.exchanges.push({ raw, files: rc.files }));
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
   * tests. Files given for the reproduction command.
   */
  variant(role: Role, change: Partial<IdentityOptions>, files: Partial<IdentityFiles> = {}): KmeClient {
    const rc = this.target.roles[role];
    if (!rc) throw new Skip(`the target profile has no ${role} SAE`);
    const base = rc.client.identity.options;
    const identity = new SaeIdentity({ ...base, ...change });
    this.extra.push(identity);
    const f: IdentityFiles = { ca: files.ca ?? rc.files.ca, ...(change.cert === undefined && 'cert' in change ? {} : { cert: files.cert ?? rc.files.cert, key: files.key ?? rc.files.key }) };
    return new KmeClient(identity, rc.client.baseUrl, (raw) => this.exchanges.push({ raw, files: f }));
  }

  /** Loads PEM files for a variant identity. */
  pem(path: string): Buffer {
    return readFileSync(path);
  }

  /** Master's Status towards the slave; a failure to get it makes the check an error, not a verdict. */
  async status(): Promise<Status> {
    const r = await this.master.status(this.slaveId);
    if (r.status !== 200 || !r.data) throw new Error(`cannot evaluate: GET status answered ${r.status}${r.schemaError ? ` (${r.schemaError})` : ''}`);
    return r.data;
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

export { Failure, Skip };
