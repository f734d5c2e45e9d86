// The mock KME pair in one process: KMEs A and B, one simulated QKD link (a random secret unless given),
// and a KMS↔KMS link between them — in memory by default, or real mutual-TLS TCP on loopback.
import type { TestPki } from '../../src/pki/test-pki.ts';
import type { MockConfig } from './config.ts';
import { DeviationSwitch } from './deviation-switch.ts';
import type { DeviationName } from './deviations.ts';
import type { MockKme } from './kme.ts';
import { createMemoryLinkPair, type KmsLink } from './kms-link.ts';
import { TcpKmsLink } from './kms-link-tcp.ts';
import { urlFor, writeProfile } from './profile.ts';
import { QkdLink } from './qkd-link.ts';
import { KME_NAMES, type KmeName } from './registry.ts';
import { linkOptions, prepare, startKme, type CommonOptions, type SaeFiles } from './setup.ts';

export interface MockPairOptions extends CommonOptions {
  /** Ports of KME A and B (0 = ephemeral, the default). */
  ports?: Partial<Record<KmeName, number>>;
  /** KMS↔KMS transport: `memory` (default) or `tcp` (mutual TLS on the loopback, as between processes). */
  link?: 'memory' | 'tcp';
}

export interface KmeEndpoint {
  url: string;
  kmeId: string;
  port: number;
}

export interface MockPair {
  kmes: Record<KmeName, KmeEndpoint>;
  pki: TestPki;
  /** PEM file of the CA that signs every certificate of the mock. */
  ca: string;
  /** SAE certificate and key files by SAE ID, with the KME each is attached to. */
  saes: SaeFiles;
  /** Target profile YAML (src/target/schema.ts) for this pair: master SAE at A, slave and outsider at B. */
  profilePath: string;
  config: MockConfig;
  /** Switches both KMEs to these deviations (empty = faithful), effective for the next request. */
  setDeviations(names: readonly string[]): void;
  deviations(): DeviationName[];
  /** Simulates the KMS↔KMS link going down (enc_keys naming a slave at the peer then answers 503); memory link only. */
  setLinkUp(up: boolean): void;
  /** The running KMEs (state is inspectable, e.g. `instances.A.state.pool.level()`). */
  instances: Record<KmeName, MockKme>;
  /** Closes both KMEs and the link; removes the PKI directory when the pair made it. */
  stop(): Promise<void>;
}

/**
 * Starts KMEs A and B in this process.
 *
 * @example
 * const pair = await startMockPair({ deviations: ['keys-not-removed'], log: false });
 * // … pair.kmes.A.url, pair.saes.SAE_A.cert, loadTargetProfile(pair.profilePath) …
 * pair.setDeviations([]);
 * await pair.stop();
 */
export async function startMockPair(options: MockPairOptions = {}): Promise<MockPair> {
  const p = await prepare(options, KME_NAMES, options.ports ?? {});
  const { config, pki } = p;
  const deviations = new DeviationSwitch(config.deviations);
  const qkd = config.link.seed ? QkdLink.fromSeed(config.link.seed) : QkdLink.random();
  let links: Record<KmeName, KmsLink>;
  let setLinkUp: (up: boolean) => void;
  if (options.link === 'tcp') {
    const a = await TcpKmsLink.start({ ...linkOptions(p, 'A', qkd), listen: { host: '127.0.0.1', port: 0 } });
    const b = await TcpKmsLink.start({ ...linkOptions(p, 'B', qkd), peer: a.listenAddress });
    links = { A: a, B: b };
    setLinkUp = () => {
      throw new Error('setLinkUp works with the memory link only; stop a KME process to take a TCP link down');
    };
  } else {
    const m = createMemoryLinkPair();
    links = { A: m.A, B: m.B };
    setLinkUp = m.setUp;
  }
  const started: MockKme[] = [];
  try {
    for (const name of KME_NAMES) {
      started.push(await startKme(p, name, { qkd, link: links[name], deviations, onDeliver: options.onDeliver }));
    }
  } catch (err) {
    await Promise.all([...started.map((k) => k.stop()), links.A.close(), links.B.close()]);
    p.cleanup();
    throw err;
  }
  const [A, B] = started as [MockKme, MockKme];
  const endpoint = (k: MockKme): KmeEndpoint => ({ url: urlFor(config.host, k.port, deviations.has('plain-http')), kmeId: k.kmeId, port: k.port });
  const kmes = { A: endpoint(A), B: endpoint(B) };
  const profilePath = writeProfile('profile.yaml', { pki, config, urls: { A: kmes.A.url, B: kmes.B.url } });
  let stopped = false;
  return {
    kmes,
    pki,
    ca: pki.ca,
    saes: p.saes,
    profilePath,
    config,
    setDeviations: (names) => deviations.set(names),
    deviations: () => deviations.list(),
    setLinkUp,
    instances: { A, B },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all([A.stop(), B.stop(), links.A.close(), links.B.close()]);
      p.cleanup();
    },
  };
}
