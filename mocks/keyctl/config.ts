// The key-control agent's configuration: Arnika 1.x's environment variables and defaults
// so the same environment starts either the built-in agent or a real Arnika.
import { statSync } from 'node:fs';

export const MODES = ['AtLeastQkdRequired', 'QkdAndPqcRequired', 'AtLeastPqcRequired', 'EitherQkdOrPqcRequired'] as const;
export type Mode = (typeof MODES)[number];

export interface AgentConfig {
  listenAddress: { host: string; port: number };
  serverAddress: { host: string; port: number };
  arnikaId: number;
  intervalMs: number;
  /** `https://kme/api/v1/keys/<PEER_SAE_ID>`: one URL for enc_keys and dec_keys. */
  kmsUrl: string;
  kmsHttpTimeoutMs: number;
  kmsBackoffMaxRetries: number;
  kmsBackoffBaseDelayMs: number;
  kmsRetryIntervalMs: number;
  tls?: { certificate: string; privateKey: string; caCertificate: string };
  wireguardInterface: string;
  wireguardPeerPublicKey: string;
  pqcPskFile?: string;
  mode: Mode;
  /** Harness extensions (not Arnika's): where to record what the expected-PSK check needs (0600). */
  observationLog?: string;
  /** Key that seals the inputs recorded in the observation log (hex in QKDH_OBSERVATION_KEY); without it only fingerprints are recorded. */
  observationKey?: Buffer;
  /** Skew of the skewed-interval fault. */
  skewMs: number;
  /** The `wg` binary. */
  wg: string;
  /**
   * Harness extension (QKDH_SCHEDULE_ORIGIN_FILE): a file the lab writes once both sites listen, holding
   * the epoch ms both count their turns from — so the documented roles hold however far apart the two
   * processes started. No turn before it exists (at most 60 s, then the agent's own start). Default: own start.
   */
  scheduleOriginFile?: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration format ("10s", "1m30s", "100ms"); a bare number means seconds. */
export function parseDuration(text: string, name: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let at = 0;
  while ((m = re.exec(t))) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    at = re.lastIndex;
  }
  if (at !== t.length || t.length === 0) throw new ConfigError(`${name}: "${text}" is not a duration (e.g. 10s, 100ms, 2m)`);
  return total;
}

function hostPort(v: string, name: string): { host: string; port: number } {
  const m = /^\[?([^\]]*)\]?:(\d{1,5})$/.exec(v.trim());
  if (!m || Number(m[2]) > 65535) throw new ConfigError(`${name}: "${v}" is not HOST:PORT`);
  return { host: m[1] || '0.0.0.0', port: Number(m[2]) };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const need = (name: string): string => {
    const v = env[name];
    if (v === undefined || v === '') throw new ConfigError(`${name} is not set`);
    return v;
  };
  const dur = (name: string, dflt: number): number => (env[name] ? parseDuration(env[name]!, name) : dflt);
  const int = (name: string, dflt: number): number => {
    if (!env[name]) return dflt;
    const n = Number(env[name]);
    if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${name}: "${env[name]}" is not a non-negative integer`);
    return n;
  };
  const listenAddress = hostPort(need('LISTEN_ADDRESS'), 'LISTEN_ADDRESS');
  const intervalMs = dur('INTERVAL', 10_000);
  if (intervalMs <= 0) throw new ConfigError('INTERVAL must be positive');
  const kmsUrl = need('KMS_URL');
  try {
    new URL(kmsUrl);
  } catch {
    throw new ConfigError(`KMS_URL: "${kmsUrl}" is not a URL`);
  }
  const tlsVars = ['CERTIFICATE', 'PRIVATE_KEY', 'CA_CERTIFICATE'].filter((n) => env[n]);
  if (tlsVars.length !== 0 && tlsVars.length !== 3) throw new ConfigError(`CERTIFICATE, PRIVATE_KEY and CA_CERTIFICATE go together (set: ${tlsVars.join(', ')})`);
  const mode = (env.MODE || 'AtLeastQkdRequired') as Mode;
  if (!MODES.includes(mode)) throw new ConfigError(`MODE: "${env.MODE}" is not one of ${MODES.join(', ')}`);
  const pqcPskFile = env.PQC_PSK_FILE || undefined;
  if (pqcPskFile) {
    let st;
    try {
      st = statSync(pqcPskFile);
    } catch {
      throw new ConfigError(`PQC_PSK_FILE: ${pqcPskFile} does not exist`);
    }
    if ((st.mode & 0o077) !== 0) throw new ConfigError(`PQC_PSK_FILE: ${pqcPskFile} has mode ${(st.mode & 0o777).toString(8)}, needs 0600 or stricter`);
  }
  if ((mode === 'QkdAndPqcRequired' || mode === 'AtLeastPqcRequired') && !pqcPskFile) throw new ConfigError(`MODE ${mode} needs PQC_PSK_FILE`);
  return {
    listenAddress,
    serverAddress: hostPort(need('SERVER_ADDRESS'), 'SERVER_ADDRESS'),
    arnikaId: int('ARNIKA_ID', listenAddress.port),
    intervalMs,
    kmsUrl: kmsUrl.replace(/\/+$/, ''),
    kmsHttpTimeoutMs: dur('KMS_HTTP_TIMEOUT', 10_000),
    kmsBackoffMaxRetries: int('KMS_BACKOFF_MAX_RETRIES', 5),
    kmsBackoffBaseDelayMs: dur('KMS_BACKOFF_BASE_DELAY', 100),
    kmsRetryIntervalMs: dur('KMS_RETRY_INTERVAL', intervalMs / 2),
    tls: tlsVars.length === 3 ? { certificate: env.CERTIFICATE!, privateKey: env.PRIVATE_KEY!, caCertificate: env.CA_CERTIFICATE! } : undefined,
    wireguardInterface: need('WIREGUARD_INTERFACE'),
    wireguardPeerPublicKey: need('WIREGUARD_PEER_PUBLIC_KEY'),
    pqcPskFile,
    mode,
    observationLog: env.QKDH_OBSERVATION_LOG || undefined,
    observationKey: env.QKDH_OBSERVATION_KEY && /^[0-9a-f]{64}$/i.test(env.QKDH_OBSERVATION_KEY) ? Buffer.from(env.QKDH_OBSERVATION_KEY, 'hex') : undefined,
    skewMs: env.QKDH_SKEW ? parseDuration(env.QKDH_SKEW, 'QKDH_SKEW') : intervalMs / 4,
    wg: env.QKDH_WG || 'wg',
    ...(env.QKDH_SCHEDULE_ORIGIN_FILE ? { scheduleOriginFile: env.QKDH_SCHEDULE_ORIGIN_FILE } : {}),
  };
}
