// What the pair and a single KME share at start-up: the configuration (file, object, overrides) and the PKI.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestPki } from '../../src/pki/test-pki.ts';
import { loadMockConfig, parseMockConfig, type MockConfig, type MockConfigInput } from './config.ts';
import { parseDeviations } from './deviation-switch.ts';
import { ensurePki } from './mock-pki.ts';
import type { KmeName } from './registry.ts';
import { silentLog, stderrLog, type LogSink } from './request-log.ts';

/** Options common to startMockPair and startMockKme. */
import type { DeliveryObserver } from './kme.ts';

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

export interface Prepared {
  config: MockConfig;
  pki: TestPki;
  log: LogSink;
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

export async function prepare(o: CommonOptions, ports: Partial<Record<KmeName, number>> = {}): Promise<Prepared> {
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
  const log = o.log === false ? silentLog : (o.log ?? stderrLog);
  return {
    config,
    pki,
    log,
    cleanup: () => {
      if (own) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function tlsFor(pki: TestPki, file: string): { cert: Buffer; key: Buffer; ca: Buffer; impostor: { cert: Buffer; key: Buffer } } {
  const k = pki.kmes[file]!;
  const bad = pki.bad.wrongHostKme;
  return { cert: readFileSync(k.cert), key: readFileSync(k.key), ca: readFileSync(pki.ca), impostor: { cert: readFileSync(bad.cert), key: readFileSync(bad.key) } };
}

/** SAE certificate files by SAE ID, with the KME each is attached to (null: registered nowhere). */
export function saeFiles(pki: TestPki, config: MockConfig): Record<string, { kme: KmeName | null; cert: string; key: string }> {
  const out: Record<string, { kme: KmeName | null; cert: string; key: string }> = {};
  for (const [id, f] of Object.entries(pki.saes)) {
    const kme = config.kmes.A.saes.includes(id) ? 'A' : config.kmes.B.saes.includes(id) ? 'B' : null;
    out[id] = { kme, cert: f.cert, key: f.key };
  }
  return out;
}
