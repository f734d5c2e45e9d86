// The target profile format (README, "Testing your KMS"), as a zod schema: what a user writes to point
// the harness at a KMS pair (and, optionally, at the two sites of a deployment).
import { z } from 'zod';
import { DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT_MS } from '../kme/identity.ts';

const nonEmpty = z.string().min(1, 'must not be empty');

export const KmeEntry = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://kme-a.example:8443' }),
  /** Required for https:// (checked below); a plain-HTTP KME (e.g. Arnika's KMS simulator) has none. */
  ca: nonEmpty.describe('PEM file of the CA that signs the KME certificate').optional(),
  kme_id: nonEmpty.optional(),
  servername: nonEmpty.optional(),
});

export const SaeEntry = z.strictObject({
  id: nonEmpty,
  kme: nonEmpty.describe('key of the KME (under kmes) this SAE talks to'),
  /** Client certificate and key: required when the SAE's KME is https:// (checked below). */
  cert: nonEmpty.optional(),
  key: nonEmpty.optional(),
});

/**
 * `sites.<name>.hsm`: the site's PKCS#11 token. `module` is the module's path *on the site*; the token is
 * named by `token` (label) and/or `slot` (decimal or 0x-hex; Luna HA members repeat labels). `pin` is
 * optional (write it as ${VAR}): `qkd-harness hsm` also reads QKD_HSM_PIN_<SITE>, QKD_HSM_PIN or a prompt.
 * On a site with a non-empty `exec`, `qkd-harness hsm` runs there as `harness` (default
 * `[qkd-harness]`) through that prefix (src/sites/hsm-remote.ts). `role` picks which site the HSM suite
 * treats as A (primary: keys are made there) and B (replica); without roles, the first two sites with
 * an hsm entry, in file order. `lunacm`: the argv that prints the Luna HA group status on the site
 * (default: lunacm on PATH or in /usr/safenet/lunaclient/bin, with `-c "hagroup listgroups"`).
 */
export const HsmEntry = z
  .strictObject({
    module: nonEmpty,
    token: nonEmpty.optional(),
    slot: z.union([z.int().min(0), z.string().regex(/^(\d+|0x[0-9a-fA-F]+)$/, 'must be a slot ID in decimal or 0x-hex')]).optional(),
    pin: z.string().optional(),
    harness: z.array(nonEmpty).min(1).optional(),
    role: z.enum(['primary', 'replica']).optional(),
    lunacm: z.array(nonEmpty).min(1).optional(),
  })
  .refine((h) => h.token !== undefined || h.slot !== undefined, { message: 'needs token (the label) or slot', path: ['token'] });

export const SiteEntry = z.strictObject({
  exec: z.array(z.string()).default([]),
  wireguard: z.strictObject({ interface: nonEmpty, peer: nonEmpty.optional() }),
  probe: z.strictObject({ host: nonEmpty, port: z.int().min(1).max(65535) }).optional(),
  /** The site's PKCS#11 token (docs/hsm.md, "Luna profile" in the README); see HsmEntry. */
  hsm: HsmEntry.optional(),
});

/**
 * `kpi:` thresholds for `qkd-harness kpi` (docs/kpi.md, specs/requirements/kpi.yaml): each one set turns
 * its figure into pass/fail; a figure without a threshold is reported, not judged. Milliseconds, per second.
 */
export const KpiThresholds = z.strictObject({
  status_p95_ms: z.number().positive().optional(),
  latency_p95_ms: z.number().positive().optional(),
  flow_p95_ms: z.number().positive().optional(),
  cold_p95_ms: z.number().positive().optional(),
  min_requests_per_s: z.number().min(0).optional(),
  min_keys_per_s: z.number().min(0).optional(),
  max_error_share: z.number().min(0).max(1).optional(),
  concurrent_p95_ms: z.number().positive().optional(),
  max_503_share: z.number().min(0).max(1).optional(),
  max_recovery_s: z.number().positive().optional(),
  min_refill_keys_per_s: z.number().min(0).optional(),
  hol_factor_max: z.number().min(1).optional(),
  max_latency_drift: z.number().min(1).optional(),
  max_rss_growth_mb: z.number().min(0).optional(),
});

const TargetProfileFields = z.strictObject({
  name: nonEmpty,
  kmes: z.record(z.string(), KmeEntry).refine((k) => Object.keys(k).length >= 1, 'needs at least one KME'),
  saes: z.strictObject({ master: SaeEntry, slave: SaeEntry, outsider: SaeEntry.optional() }),
  profile: z.enum(['strict', 'lenient']).default('lenient'),
  expectations: nonEmpty.optional(),
  timeout_ms: z.int().min(1).max(600_000).default(DEFAULT_TIMEOUT_MS),
  /** Overall budget of one conformance run in seconds: then every remaining request fails at once (src/kme/run-budget.ts). */
  run_budget_s: z.int().min(1).max(86_400).default(180),
  max_response_bytes: z.int().min(1024).default(DEFAULT_MAX_RESPONSE_BYTES),
  sites: z.record(z.string(), SiteEntry).optional(),
  /** Deliberately bad client material the harness cannot make itself (it needs the target CA's key). */
  negative: z.strictObject({ expired_client: z.strictObject({ cert: nonEmpty, key: nonEmpty }).optional() }).optional(),
  /** Whether conformance may empty the key pool (destructive on a real KMS). */
  allow_exhaustion: z.boolean().default(false),
  /** KPI thresholds (see KpiThresholds); absent: figures are reported without a verdict. */
  kpi: KpiThresholds.optional(),
});

export const TargetProfileSchema = TargetProfileFields.superRefine((p, ctx) => {
  for (const role of ['master', 'slave', 'outsider'] as const) {
    const sae = p.saes[role];
    if (sae && !(sae.kme in p.kmes)) {
      ctx.addIssue({ code: 'custom', path: ['saes', role, 'kme'], message: `names KME "${sae.kme}", which is not under kmes (${Object.keys(p.kmes).join(', ')})` });
    }
  }
  // TLS files are optional only for plain-HTTP KMEs (clause 4 then fails as a finding, not here).
  const tls = (name: string): boolean => p.kmes[name]?.url.toLowerCase().startsWith('https:') ?? false;
  for (const [name, kme] of Object.entries(p.kmes)) {
    if (tls(name) && !kme.ca) ctx.addIssue({ code: 'custom', path: ['kmes', name, 'ca'], message: 'is required for an https:// KME (PEM file of the CA that signs the KME certificate)' });
  }
  for (const role of ['master', 'slave', 'outsider'] as const) {
    const sae = p.saes[role];
    if (!sae || !(sae.kme in p.kmes)) continue;
    for (const field of ['cert', 'key'] as const) {
      if (sae[field]) continue;
      if (tls(sae.kme)) ctx.addIssue({ code: 'custom', path: ['saes', role, field], message: `is required: KME "${sae.kme}" is https:// and authenticates SAEs by client certificate` });
      else if (sae.cert || sae.key) ctx.addIssue({ code: 'custom', path: ['saes', role, field], message: `is missing: a client certificate and its key go together` });
    }
  }
});

export type TargetProfile = z.infer<typeof TargetProfileSchema>;

/**
 * What `e2e --target` reads: the same file, but only `sites` matters (two or more; the first two are
 * observed), so a WireGuard-only profile needs no `kmes`/`saes` and no certificate files. When they are
 * there they must still be well-formed; their files are not opened.
 */
export const SitesProfileSchema = TargetProfileFields.extend({
  kmes: z.record(z.string(), KmeEntry).optional(),
  saes: z.strictObject({ master: SaeEntry, slave: SaeEntry, outsider: SaeEntry.optional() }).optional(),
  sites: z.record(z.string(), SiteEntry).refine((s) => Object.keys(s).length >= 2, 'needs two sites (the end-to-end suites observe the first two)'),
});

export type SitesProfile = z.infer<typeof SitesProfileSchema>;
export type HsmEntry = z.infer<typeof HsmEntry>;
export type KpiThresholds = z.infer<typeof KpiThresholds>;
