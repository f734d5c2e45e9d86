// What the pair and a single KME share at start-up: the configuration (file, object, overrides), the PKI
// and what is derived from them once (registry, binding, TLS material, SAE files), the KMS↔KMS link
// options and the start of one KME.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestPki } from '../../src/pki/test-pki.ts';
import { loadMockConfig, parseMockConfig, type MockConfig, type MockConfigInput } from './config.ts';
import { parseDeviations, type DeviationSwitch } from './deviation-switch.ts';
import type { Binding } from './identity-binding.ts';
import { MockKme, type DeliveryObserver, type KmeFault } from './kme.ts';
import type { FaultsFile } from './faults-file.ts';
import type { KmsLink } from './kms-link.ts';
import type { TcpLinkOptions } from './kms-link-tcp.ts';
import { bindingFor, ensurePki, KME_FILE, registryFor } from './mock-pki.ts';
import type { QkdLink } from './qkd-link.ts';
import { peerOf, type KmeName, type SaeRegistry } from './registry.ts';
import { silentLog, stderrLog, timestamped, type LogSink } from './request-log.ts';

/** Options common to startMockPair and startMockKme. */
export interface CommonOptions {
  /** A YAML configuration file (docs/mock-kme.md); `config` fields override it. */
  configFile?: string;
  /** Configuration fields (same names as the YAML file). */
  config?: MockConfigInput;
  /** PKI directory: reused when it holds pki.json, else created. Default: a fresh temporary directory, removed by stop(). */
  pkiDir?: string;
  /** Deviation names (mocks/kme/deviations.ts); replaces the configuration's list. Default: faithful. */
  deviations?: string[];
  /** Listen address of the KME(s). */
  host?: string;
  /** Where request and link log lines go: a function, or false for none. Default: stderr. */
  log?: LogSink | false;
  /** Sees every key delivered, with its bytes (for tests only: nothing else may see key material). */
  onDeliver?: DeliveryObserver;
}

/** PEM material of one KME: its certificate and key, the CA, and the impostor certificate (kme-cert-mismatch). */
export interface KmeTls {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
  impostor: { cert: Buffer; key: Buffer };
}

export type SaeFiles = Record<string, { kme: KmeName | null; cert: string; key: string }>;

export interface Prepared {
  config: MockConfig;
  pki: TestPki;
  /** The sink with timestamps (the one place they are added). */
  log: LogSink;
  registry: SaeRegistry;
  binding: Binding;
  /** TLS material of the KMEs this process runs, read once. */
  tls: Partial<Record<KmeName, KmeTls>>;
  /** SAE certificate files by SAE ID, with the KME each is attached to (null: registered nowhere). */
  saes: SaeFiles;
  /** Removes the PKI directory when it was made here. */
  cleanup(): void;
}

const isPlain = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Deep merge of configuration objects: objects merge, anything else (arrays too) replaces; undefined is skipped. */
export function mergeConfig(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = isPlain(v) && isPlain(out[k]) ? mergeConfig(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}

/** Configuration, PKI and what derives from them, for the KMEs `kmes` this process will run. */
export async function prepare(o: CommonOptions, kmes: readonly KmeName[], ports: Partial<Record<KmeName, number>> = {}): Promise<Prepared> {
  const base = o.configFile ? (loadMockConfig(o.configFile) as Record<string, unknown>) : {};
  const overrides: Record<string, unknown> = {
    host: o.host,
    deviations: o.deviations === undefined ? undefined : parseDeviations(o.deviations),
    kmes: Object.fromEntries(Object.entries(ports).filter(([, p]) => p !== undefined).map(([name, port]) => [name, { port }])),
  };
  const merged = mergeConfig(mergeConfig(base, (o.config ?? {}) as Record<string, unknown>), overrides);
  const config = parseMockConfig(merged, o.configFile ? `mock configuration ${o.configFile}` : 'mock configuration');
  const own = o.pkiDir === undefined;
  const dir = o.pkiDir ?? mkdtempSync(join(tmpdir(), 'qkd-mock-kme-'));
  const pki = await ensurePki(dir, config);
  const cleanup = (): void => {
    if (own) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const registry = registryFor(config);
    const saes: SaeFiles = {};
    for (const [id, f] of Object.entries(pki.saes)) saes[id] = { kme: registry.kmeOf(id) ?? null, cert: f.cert, key: f.key };
    const log = o.log === false ? silentLog : timestamped(o.log ?? stderrLog);
    return { config, pki, log, registry, binding: bindingFor(config, pki), tls: readTls(pki, kmes), saes, cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}

function readTls(pki: TestPki, kmes: readonly KmeName[]): Partial<Record<KmeName, KmeTls>> {
  const ca = readFileSync(pki.ca);
  const bad = pki.bad.wrongHostKme;
  const impostor = { cert: readFileSync(bad.cert), key: readFileSync(bad.key) };
  const out: Partial<Record<KmeName, KmeTls>> = {};
  for (const name of kmes) {
    const k = pki.kmes[KME_FILE[name]]!;
    out[name] = { cert: readFileSync(k.cert), key: readFileSync(k.key), ca, impostor };
  }
  return out;
}

const tlsOf = (p: Prepared, name: KmeName): KmeTls => {
  const t = p.tls[name];
  if (!t) throw new Error(`KME ${name} was not prepared`);
  return t;
};

/** The TCP KMS↔KMS link options of KME `name` (add `listen` and/or `peer`). */
export function linkOptions(p: Prepared, name: KmeName, qkd: QkdLink): Omit<TcpLinkOptions, 'listen' | 'peer'> {
  const t = p.config.timeouts;
  return {
    selfKmeId: p.config.kmes[name].kme_id,
    peerKmeId: p.config.kmes[peerOf(name)].kme_id,
    tls: tlsOf(p, name),
    check: qkd.check,
    ackTimeoutMs: t.link_ack_ms,
    connectTimeoutMs: t.link_connect_ms,
    pingMs: t.link_ping_ms,
    log: p.log,
  };
}

/** Starts KME `name` of the prepared configuration on its configured host and port. */
export function startKme(p: Prepared, name: KmeName, parts: { qkd: QkdLink; link: KmsLink; deviations: DeviationSwitch; onDeliver?: DeliveryObserver; faults?: FaultsFile<KmeFault> }): Promise<MockKme> {
  const c = p.config;
  return MockKme.start({ name, config: c, registry: p.registry, binding: p.binding, ...parts, tls: tlsOf(p, name), host: c.host, port: c.kmes[name].port, log: p.log });
}
