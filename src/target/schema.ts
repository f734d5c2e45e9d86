// The target profile format of design.md, as a zod schema: what a user writes to point the harness at
// a KMS pair (and, optionally, at the two sites of a deployment).
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

export const SiteEntry = z.strictObject({
  exec: z.array(z.string()).default([]),
  wireguard: z.strictObject({ interface: nonEmpty, peer: nonEmpty.optional() }),
  probe: z.strictObject({ host: nonEmpty, port: z.int().min(1).max(65535) }).optional(),
  /** PKCS#11 module path and token label; `pin` is optional (write it as ${VAR}): `qkd-harness hsm` also reads QKD_HSM_PIN_<SITE>, QKD_HSM_PIN or a prompt. */
  hsm: z.strictObject({ module: nonEmpty, token: nonEmpty, pin: z.string().optional() }).optional(),
});

export const TargetProfileSchema = z
  .strictObject({
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
  })
  .superRefine((p, ctx) => {
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
