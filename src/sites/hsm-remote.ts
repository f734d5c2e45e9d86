// A deployment site's token, reached the way an operator would: `qkd-harness hsm <op> --json` runs *on
// the site* through its command prefix (the profile's `exec`: ssh, `ip netns exec`, `env …`), with the
// PIN as the first line of stdin (--pin-stdin: never argv, never the environment of a remote shell) and
// data as base64 after it. The site's answer is JSON, validated here before anything reads it; a site
// that answers garbage, fails, or exceeds the deadline gives an error naming the site and the step —
// never the PIN, the data sent, or anything long that looks like key material.
//
// Profile entry: sites.<name>.hsm (src/target/schema.ts HsmEntry); `harness` is how the CLI is invoked
// on the site (default `qkd-harness`). Luna's HA status (lunacm) is read by src/sites/lunacm.ts.
import { z } from 'zod';
import { CannotRunError, UsageError } from '../cli/exit.ts';
import { HsmDeadlineError } from '../hsm/runner.ts';
import { DEFAULT_SITE_TIMEOUT_MS, localSiteClient, type HsmSiteClient } from '../hsm/site-client.ts';
import { sitePinVariable, PIN_VARIABLE, type HsmAddress } from '../hsm/address.ts';
import { needsLogin, type HsmRequest, type HsmResult, type TokenLocation } from '../hsm/operations.ts';
import { fingerprint } from '../secrets/fingerprint.ts';
import type { HsmEntry, TargetProfile } from '../target/schema.ts';
import { SiteDriver, shellQuote } from './driver.ts';
import { readHaStatus, type HaEvidence } from './lunacm.ts';

/** How the CLI is started on a site when the profile does not say. */
export const DEFAULT_HARNESS = ['qkd-harness'];
/** How long the remote command may take to start (ssh, node, tsx) before its own deadline runs (ms). */
export const DEFAULT_STARTUP_MS = 30_000;

export interface RemoteClientOptions {
  /** Allowance for starting the command on the site, on top of each request's timeoutMs (default 30 000). */
  startupMs?: number;
}

/** The token location an hsm entry names (slot as the CLI takes it). */
export function entryLocation(entry: HsmEntry): TokenLocation {
  return { module: entry.module, ...(entry.token !== undefined ? { token: entry.token } : {}), ...(entry.slot !== undefined ? { slot: String(entry.slot) } : {}) };
}

// --- the command line and stdin of each request -------------------------------------------------

const b64 = (d: Buffer): string => d.toString('base64');

/** `hsm <op> … --json` for `request` (after the harness words), and the stdin lines after the PIN line. */
export function remoteArgv(request: HsmRequest, loc: TokenLocation, timeoutMs: number): { argv: string[]; lines: string[] } {
  const where = ['--module', loc.module, ...(loc.token !== undefined ? ['--token', loc.token] : []), ...(loc.slot !== undefined ? ['--slot', loc.slot] : [])];
  const base = ['hsm', request.op, '--json', '--timeout-ms', String(timeoutMs), ...where, ...(needsLogin(request.op) ? ['--pin-stdin'] : [])];
  const key = (k: { label?: string; id?: string }) => [...(k.label !== undefined ? ['--label', k.label] : []), ...(k.id !== undefined ? ['--id', k.id] : [])];
  switch (request.op) {
    case 'slots':
    case 'tokens':
    case 'objects':
      return { argv: base, lines: [] };
    case 'generate': {
      const s = request.spec;
      if (s.wrap || s.allowDuplicate) throw new UsageError(`generate on a remote site: the CLI has no option for ${s.wrap ? 'wrap' : 'allowDuplicate'}`);
      return { argv: [...base, '--type', s.kind, '--label', s.label, ...(s.id !== undefined ? ['--id', s.id] : []), ...(s.bits !== undefined ? ['--bits', String(s.bits)] : []), ...(s.extractable ? ['--extractable'] : []), ...(s.sensitive === false ? ['--no-sensitive'] : [])], lines: [] };
    }
    case 'encrypt':
    case 'decrypt':
      return { argv: [...base, ...key(request.key), ...(request.oaepHash ? ['--oaep-hash', request.oaepHash] : []), ...(request.aesMode ? ['--aes-mode', request.aesMode] : [])], lines: [b64(request.data)] };
    case 'sign':
      return { argv: [...base, ...key(request.key)], lines: [b64(request.data)] };
    case 'verify':
      // Both from stdin: the data on the first line after the PIN, the signature on the next.
      return { argv: [...base, ...key(request.key), '--in', '-', '--signature', '-'], lines: [b64(request.data), b64(request.signature)] };
    case 'destroy':
      return { argv: [...base, ...key(request.key), ...(request.key.classes ?? []).flatMap((c) => ['--class', c]), ...(request.all ? ['--all'] : [])], lines: [] };
    case 'extraction':
      // A hidden command of the CLI (src/cli/hsm.ts): outcomes only, never bytes.
      return { argv: [...base, ...key(request.key)], lines: [] };
  }
}

// --- what the site answers ----------------------------------------------------------------------

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'not base64').transform((s) => Buffer.from(s, 'base64'));
const summary = z.looseObject({ class: z.string(), label: z.string(), id: z.string(), keyType: z.string().optional(), handle: z.string() });
const moduleInfo = z.looseObject({ path: z.string(), manufacturer: z.string(), description: z.string(), version: z.string(), cryptoki: z.string() });
const tokenInfo = z.looseObject({ slot: z.string(), label: z.string(), manufacturer: z.string(), model: z.string(), serial: z.string(), initialized: z.boolean(), userPinInitialized: z.boolean(), loginRequired: z.boolean() });
const protection = z.looseObject({ sensitive: z.boolean().optional(), extractable: z.boolean().optional(), local: z.boolean().optional(), alwaysSensitive: z.boolean().optional(), neverExtractable: z.boolean().optional(), private: z.boolean().optional() });
const entry = summary.extend({ bits: z.number().optional(), curve: z.string().optional(), fingerprint: z.string().nullable(), fingerprintNote: z.string().optional(), protection });

/** The --json output of each op (src/cli/hsm.ts), as HsmResult (base64 fields back to Buffers). */
const RESULT = {
  slots: z.looseObject({ op: z.literal('slots'), module: moduleInfo, slots: z.array(z.looseObject({ slot: z.string(), description: z.string(), manufacturer: z.string(), tokenPresent: z.boolean(), removable: z.boolean(), hardware: z.boolean() })) }),
  tokens: z.looseObject({ op: z.literal('tokens'), module: moduleInfo, tokens: z.array(tokenInfo) }),
  objects: z.looseObject({ op: z.literal('objects'), inventory: z.looseObject({ token: tokenInfo, objects: z.array(entry) }) }),
  generate: z.looseObject({ op: z.literal('generate'), token: z.string(), key: z.looseObject({ kind: z.enum(['rsa', 'aes', 'ec']), id: z.string(), objects: z.array(summary) }) }),
  encrypt: z.looseObject({ op: z.literal('encrypt'), token: z.string(), key: summary, mechanism: z.string(), ciphertext: base64 }).transform(({ ciphertext, ...r }) => ({ ...r, output: ciphertext })),
  decrypt: z.looseObject({ op: z.literal('decrypt'), token: z.string(), key: summary, mechanism: z.string(), plaintext: base64 }).transform(({ plaintext, ...r }) => ({ ...r, output: plaintext })),
  sign: z.looseObject({ op: z.literal('sign'), token: z.string(), key: summary, mechanism: z.string(), signature: base64 }),
  verify: z.looseObject({ op: z.literal('verify'), token: z.string(), key: summary, mechanism: z.string(), valid: z.boolean() }),
  destroy: z.looseObject({ op: z.literal('destroy'), token: z.string(), destroyed: z.array(summary) }),
  extraction: z.looseObject({
    op: z.literal('extraction'),
    token: z.string(),
    key: summary,
    read: z.discriminatedUnion('outcome', [z.looseObject({ outcome: z.literal('refused'), ckr: z.string() }), z.looseObject({ outcome: z.literal('readable'), bytes: z.number() })]),
    wrap: z.discriminatedUnion('outcome', [
      z.looseObject({ outcome: z.literal('refused'), mechanism: z.string(), ckr: z.string() }),
      z.looseObject({ outcome: z.literal('extracted'), mechanism: z.string(), bytes: z.number(), kcvMatches: z.boolean().optional() }),
      z.looseObject({ outcome: z.literal('wrapped-not-recovered'), mechanism: z.string(), bytes: z.number(), why: z.string() }),
    ]),
  }),
} satisfies Record<HsmRequest['op'], z.ZodType>;

/**
 * Removes from `text` what must never be shown: the PIN and data sent (exact), and any long base64 or
 * hex run (as its fingerprint) — a hostile or broken site may echo its stdin.
 */
export function scrub(text: string, secrets: readonly string[]): string {
  let t = text;
  for (const s of secrets) if (s) t = t.split(s).join('[redacted]');
  // Absolute paths (a module's) are kept; other long runs go.
  return t.replace(/[A-Za-z0-9+/=]{40,}/g, (m) => (m.startsWith('/') ? m : `[${m.length} chars ${fingerprint(m)}]`)).replace(/[\u0000-\u0008\u000b-\u001f]/g, '?');
}

/** The last lines of stderr, scrubbed and short: what the site said when it failed. */
function said(stderr: string, secrets: readonly string[]): string {
  const lines = scrub(stderr, secrets).trim().split('\n').map((l) => l.trim()).filter(Boolean);
  const tail = lines.slice(-2).join(' | ').replace(/^qkd-harness: /, '');
  return tail ? (tail.length > 400 ? `${tail.slice(0, 400)}…` : tail) : 'no message';
}

/**
 * A client for the token `entry` names on `site`, reached through `driver` (the profile's `exec`).
 * `pin` is the token's user PIN (needed for every op but slots/tokens); it goes on stdin only.
 * run(): `timeoutMs` is the PKCS#11 work's deadline on the site (its --timeout-ms); the whole command
 * is killed after timeoutMs + startupMs.
 * @throws HsmDeadlineError (deadline), UsageError (the site's exit 2: options, wrong PIN, no such key),
 *   CannotRunError (exit 3, another exit, or an answer that is not the expected JSON) — each naming the
 *   site and the step.
 */
export function remoteSiteClient(site: string, driver: SiteDriver, entry: HsmEntry, pin?: string, o: RemoteClientOptions = {}): HsmSiteClient {
  const harness = entry.harness ?? DEFAULT_HARNESS;
  const loc = entryLocation(entry);
  const startupMs = o.startupMs ?? DEFAULT_STARTUP_MS;
  const via = driver.prefix.length ? `via ${driver.prefix.map(shellQuote).join(' ')}` : 'on this host';
  return {
    site,
    describe: `${loc.module} token ${loc.token ?? `slot ${loc.slot}`} on site ${site} (${via})`,
    async run(request, ro) {
      const timeoutMs = ro?.timeoutMs ?? DEFAULT_SITE_TIMEOUT_MS;
      const step = `\`${[...harness, 'hsm', request.op].join(' ')}\``;
      const where = `site ${site}: ${step}`;
      if (needsLogin(request.op) && pin === undefined) throw new UsageError(`${where}: no PIN for the token (set ${sitePinVariable(site)} or ${PIN_VARIABLE}, or the profile's sites.${site}.hsm.pin)`);
      const { argv, lines } = remoteArgv(request, loc, timeoutMs);
      const secrets = [pin ?? '', ...lines];
      const input = [...(needsLogin(request.op) ? [pin!] : []), ...lines].map((l) => `${l}\n`).join('');
      const r = await driver.run([...harness, ...argv], { timeoutMs: timeoutMs + startupMs, input });
      if (r.timedOut) throw new HsmDeadlineError(`${where}: no answer within ${timeoutMs + startupMs} ms (${timeoutMs} ms for the PKCS#11 work + ${startupMs} ms to start); the command was killed`);
      const verifyFailed = request.op === 'verify' && r.code === 1;
      if (r.code !== 0 && !verifyFailed) {
        // 126/127: the shell found no such command — the harness is installed elsewhere on the site.
        const hint = r.code === 126 || r.code === 127 ? ` — is qkd-harness installed there? Name its command with sites.${site}.hsm.harness (e.g. [node, /opt/qkd-harness/bin/qkd-harness.js])` : '';
        const msg = `${where} failed (${r.code === null ? `signal ${r.signal}` : `exit ${r.code}`}): ${said(r.stderr, secrets)}${hint}`;
        throw r.code === 2 ? new UsageError(msg) : new CannotRunError(msg);
      }
      let json: unknown;
      try {
        json = JSON.parse(r.stdout);
      } catch {
        throw new CannotRunError(`${where}: the answer is not JSON (${r.stdout.length} bytes on stdout${r.stdout.trim() ? '' : ', empty'}; is ${harness.join(' ')} the qkd-harness CLI on the site?)`);
      }
      const parsed = (RESULT[request.op] as z.ZodType).safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new CannotRunError(`${where}: unexpected answer (${issue.path.join('.') || 'top level'}: ${scrub(issue.message, secrets)})`);
      }
      return parsed.data as HsmResult;
    },
  };
}

// --- the two sites of a profile for the HSM suite ------------------------------------------------

/** The PIN of a profile site, in obtainPin's order without a prompt: QKD_HSM_PIN_<SITE>, the profile's pin, QKD_HSM_PIN. */
export function profilePin(site: string, entry: HsmEntry, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env[sitePinVariable(site)] || entry.pin || env[PIN_VARIABLE] || undefined;
}

/** A client for one profile site: remote when its `exec` is non-empty, else the module on this host. */
export function profileSiteClient(site: string, exec: readonly string[], entry: HsmEntry, pin: string | undefined, o: RemoteClientOptions = {}): HsmSiteClient {
  if (exec.length) return remoteSiteClient(site, new SiteDriver(site, exec), entry, pin, o);
  if (pin === undefined) throw new UsageError(`site ${site}: no PIN for the token (set ${sitePinVariable(site)} or ${PIN_VARIABLE}, or the profile's sites.${site}.hsm.pin)`);
  const address: HsmAddress = { name: site, location: entryLocation(entry), env: {}, pinVariables: [sitePinVariable(site), PIN_VARIABLE] };
  return localSiteClient(site, address, pin);
}

export interface ProfileHsmSites {
  /** A: where keys are made (role primary). */
  a: HsmSiteClient;
  /** B: the replica. */
  b: HsmSiteClient;
  /** The profile's site names of A and B, and their drivers (for lunacm: src/sites/lunacm.ts). */
  sites: { a: { name: string; driver: SiteDriver; entry: HsmEntry }; b: { name: string; driver: SiteDriver; entry: HsmEntry } };
  /** Evidence lines for reports: which token each side is, and how it is reached (no PIN). */
  evidence: string[];
  /** Luna's HA group status on each site (src/sites/lunacm.ts): "not available" where lunacm is not installed. Never throws. */
  haStatus(o?: { timeoutMs?: number }): Promise<{ a: HaEvidence; b: HaEvidence }>;
}

/**
 * The HSM suite's A and B from a target profile's `sites.*.hsm`: the sites with `role: primary` and
 * `role: replica` when roles are given (then both are required), else the first two sites with an hsm
 * entry in file order (A first). Returns `{ skip }` with the reason when the profile does not describe
 * two HSM sites or a PIN is missing — the caller reports that, never a pass.
 */
export function profileHsmClients(profile: Pick<TargetProfile, 'sites'>, o: RemoteClientOptions & { env?: NodeJS.ProcessEnv } = {}): ProfileHsmSites | { skip: string } {
  const withHsm = Object.entries(profile.sites ?? {}).filter(([, s]) => s.hsm !== undefined);
  if (withHsm.length < 2) return { skip: `the target profile describes ${withHsm.length} site${withHsm.length === 1 ? '' : 's'} with an hsm entry; the HSM suite needs two (sites.<name>.hsm)` };
  const byRole = (role: 'primary' | 'replica') => withHsm.filter(([, s]) => s.hsm!.role === role);
  const roled = withHsm.some(([, s]) => s.hsm!.role !== undefined);
  let pair: Array<(typeof withHsm)[number]>;
  if (roled) {
    const [p, r] = [byRole('primary'), byRole('replica')];
    if (p.length !== 1 || r.length !== 1) return { skip: `sites.*.hsm.role: needs exactly one primary and one replica (primary: ${p.map(([n]) => n).join(', ') || 'none'}; replica: ${r.map(([n]) => n).join(', ') || 'none'})` };
    pair = [p[0]!, r[0]!];
  } else pair = withHsm.slice(0, 2);
  const env = o.env ?? process.env;
  const missing = pair.filter(([name, s]) => profilePin(name, s.hsm!, env) === undefined).map(([name]) => name);
  if (missing.length) return { skip: `no PIN for ${missing.map((n) => `site ${n} (${sitePinVariable(n)}, sites.${n}.hsm.pin or ${PIN_VARIABLE})`).join(' and ')}` };
  const [[na, sa], [nb, sb]] = pair as [[string, (typeof withHsm)[number][1]], [string, (typeof withHsm)[number][1]]];
  const a = profileSiteClient(na, sa.exec, sa.hsm!, profilePin(na, sa.hsm!, env), o);
  const b = profileSiteClient(nb, sb.exec, sb.hsm!, profilePin(nb, sb.hsm!, env), o);
  const sites = { a: { name: na, driver: new SiteDriver(na, sa.exec), entry: sa.hsm! }, b: { name: nb, driver: new SiteDriver(nb, sb.exec), entry: sb.hsm! } };
  const ha = (s: (typeof sites)['a'], timeoutMs?: number) => readHaStatus(s.driver, { ...(s.entry.lunacm ? { command: s.entry.lunacm } : {}), ...(timeoutMs ? { timeoutMs } : {}) });
  return {
    a,
    b,
    sites,
    evidence: [`A = ${a.describe}`, `B = ${b.describe}`],
    haStatus: async (ho) => {
      const [ea, eb] = await Promise.all([ha(sites.a, ho?.timeoutMs), ha(sites.b, ho?.timeoutMs)]);
      return { a: ea, b: eb };
    },
  };
}
