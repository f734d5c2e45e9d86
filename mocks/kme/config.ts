// Configuration of the mock KME pair: a YAML file (validated here with zod), overridden by CLI flags or
// by the options of the programmatic API. Every field has a default; an empty file is the faithful
// default pair of docs/mock-kme.md.
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { DEVIATION_NAMES } from './deviations.ts';
import { isHostPort } from './host-port.ts';
import { LINK_SEED_RE } from './qkd-link.ts';
import { SAE_URI_PREFIX } from '../../src/pki/test-pki.ts';
import { issuePath, issueText, type ZodIssueLike } from '../../src/util/zod-issues.ts';

const saeId = z.string().min(1, 'must not be empty').max(256);
const hostPort = z.string().refine(isHostPort, 'must be HOST:PORT with a port up to 65535');
const ms = (d: number) => z.int().min(1).max(3_600_000).default(d);

const kmeConfig = (kmeId: string, saes: string[]) => z.strictObject({
  kme_id: z.string().min(1).max(256).default(kmeId),
  /** 0 = ephemeral. */
  port: z.int().min(0).max(65535).default(0),
  /** SAE IDs attached to this KME. */
  saes: z.array(saeId).default(saes),
  /** Extra DNS names / IP addresses for this KME's certificate (e.g. lab addresses). */
  dns: z.array(z.string().min(1)).default([]),
  ips: z.array(z.string().min(1)).default([]),
});

export const MockConfigSchema = z
  .strictObject({
    /** Address both KMEs listen on. */
    host: z.string().min(1).default('127.0.0.1'),
    kmes: z
      .strictObject({
        A: kmeConfig('KME_A', ['SAE_A']).prefault({}),
        B: kmeConfig('KME_B', ['SAE_B', 'SAE_C']).prefault({}),
      })
      .prefault({}),
    /** SAE certificates to issue that are registered nowhere (for 401 tests). */
    extra_saes: z.array(saeId).default([]),
    /** How the SAE ID is read from the client certificate. */
    binding: z.enum(['cn', 'uri', 'serial']).default('cn'),
    uri_prefix: z.string().min(1).default(SAE_URI_PREFIX),
    /** Serial (hex) → SAE ID for `binding: serial`; default: the serials of the PKI's SAE certificates. */
    serials: z.record(z.string().regex(/^[0-9a-fA-F:]+$/, 'keys must be hex serial numbers'), saeId).optional(),
    key_size: z.int().min(1).default(256),
    min_key_size: z.int().min(1).default(64),
    max_key_size: z.int().min(1).max(1 << 20).default(1024),
    max_key_per_request: z.int().min(1).max(100_000).default(128),
    max_key_count: z.int().min(1).max(1e9).default(100_000),
    max_SAE_ID_count: z.int().min(0).max(1000).default(2),
    /** Keys of key_size bits the QKD link produces per hour (the reference deployment: 14,000). */
    key_rate_per_hour: z.number().min(0).max(1e12).default(14_000),
    /** Keys of key_size bits in the pool at start. */
    prefill: z.int().min(0).default(10_000),
    /** Sizes that are not a multiple of 8: serve ceil(size/8) bytes, or reject with the standard's message. */
    odd_sizes: z.enum(['serve', 'reject']).default('serve'),
    /** Several slaves of one key at the same KME (ambiguity 8). */
    multi_slave_delivery: z.enum(['each-slave', 'once']).default('each-slave'),
    extensions: z
      .strictObject({
        /** Supported extension_mandatory names → the values that can be met (null: any value). */
        supported: z.record(z.string().min(1), z.array(z.unknown()).nullable()).default({ qkdh_route_type: ['direct'], qkdh_transfer_method: ['qkd'] }),
        /** Answer 400 "not all extension_optional request options handled" when an optional one is not supported. */
        optional_reply: z.boolean().default(false),
      })
      .prefault({}),
    /** Request bodies above this are refused with 400 and the connection closed. */
    max_body_bytes: z.int().min(256).max(64 * 1024 * 1024).default(64 * 1024),
    timeouts: z
      .strictObject({
        handshake_ms: ms(10_000),
        headers_ms: ms(10_000),
        request_ms: ms(30_000),
        keep_alive_ms: ms(10_000),
        idle_ms: ms(120_000),
        link_ack_ms: ms(3_000),
        link_connect_ms: ms(2_000),
        link_ping_ms: ms(5_000),
      })
      .prefault({}),
    /** Delay of the slow-answers deviation (beyond the harness's default 10 s deadline). */
    slow_answer_ms: z.int().min(0).max(600_000).default(15_000),
    link: z
      .strictObject({
        listen: hostPort.optional(),
        peer: hostPort.optional(),
        /** Hex link secret; random when both KMEs run in one process. */
        seed: z.string().regex(LINK_SEED_RE, 'must be 32 to 128 hex digits').optional(),
      })
      .prefault({}),
    deviations: z.array(z.enum(DEVIATION_NAMES as [string, ...string[]])).default([]),
  })
  .superRefine((c, ctx) => {
    const issue = (path: Array<string | number>, message: string) => ctx.addIssue({ code: 'custom', path, message });
    if (c.min_key_size > c.max_key_size) issue(['min_key_size'], `must not exceed max_key_size (${c.max_key_size})`);
    if (c.key_size < c.min_key_size || c.key_size > c.max_key_size) issue(['key_size'], `must lie in [min_key_size, max_key_size] = [${c.min_key_size}, ${c.max_key_size}]`);
    if (c.odd_sizes === 'reject' && c.key_size % 8 !== 0) issue(['key_size'], 'must be a multiple of 8 when odd_sizes is reject');
    if (c.prefill > c.max_key_count) issue(['prefill'], `must not exceed max_key_count (${c.max_key_count})`);
    if (c.max_key_per_request * Math.ceil(c.max_key_size / 8) > 16 * 1024 * 1024) issue(['max_key_per_request'], 'times max_key_size must stay within 16 MiB of key material per answer');
    if (c.kmes.A.kme_id === c.kmes.B.kme_id) issue(['kmes', 'B', 'kme_id'], 'must differ from kmes.A.kme_id');
    const seen = new Map<string, string>();
    for (const k of ['A', 'B'] as const) {
      c.kmes[k].saes.forEach((id, i) => {
        if (seen.has(id)) issue(['kmes', k, 'saes', i], `SAE ${id} is already attached to KME ${seen.get(id)}`);
        seen.set(id, k);
      });
    }
    c.extra_saes.forEach((id, i) => {
      if (seen.has(id)) issue(['extra_saes', i], `SAE ${id} is registered at KME ${seen.get(id)}; extra_saes are for unregistered ones`);
    });
  });

export type MockConfig = z.output<typeof MockConfigSchema>;
export type MockConfigInput = z.input<typeof MockConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function describe(issues: readonly ZodIssueLike[]): string {
  const i = issues[0]!;
  return `field ${issuePath(i, '(top level)')}: ${issueText(i)}`;
}

/** Validates a configuration object (from YAML or the API); throws a one-line ConfigError. */
export function parseMockConfig(input: unknown, source = 'mock configuration'): MockConfig {
  const parsed = MockConfigSchema.safeParse(input ?? {});
  if (!parsed.success) throw new ConfigError(`${source}: ${describe(parsed.error.issues)}`);
  return parsed.data;
}

/** Reads and validates a YAML configuration file. */
export function loadMockConfig(file: string): MockConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`mock configuration ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors[0]) throw new ConfigError(`mock configuration ${file}: not valid YAML (${doc.errors[0].message.split('\n')[0]})`);
  return parseMockConfig(doc.toJS() ?? {}, `mock configuration ${file}`);
}

/** Capacity and rate of the shared pool, in bits. */
export function poolParameters(c: MockConfig): { capacityBits: number; prefillBits: number; rateBitsPerSecond: number } {
  return {
    capacityBits: c.max_key_count * c.key_size,
    prefillBits: c.prefill * c.key_size,
    rateBitsPerSecond: (c.key_rate_per_hour * c.key_size) / 3600,
  };
}
