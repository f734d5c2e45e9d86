// One KME of the pair on its own — for the lab, where each site runs its KME in its own network
// namespace. Both processes need the same configuration, the same PKI directory and the same link seed;
// at least one of them dials the other's KMS↔KMS listener.
import type { TestPki } from '../../src/pki/test-pki.ts';
import { ConfigError, type MockConfig, type MockConfigInput } from './config.ts';
import { DeviationSwitch } from './deviation-switch.ts';
import type { DeviationName } from './deviations.ts';
import { KME_FAULTS, type KmeFault, type MockKme } from './kme.ts';
import { FaultsFile } from './faults-file.ts';
import { formatHostPort, parseHostPort, TcpKmsLink } from './kms-link-tcp.ts';
import { urlFor, writeProfile } from './profile.ts';
import { QkdLink } from './qkd-link.ts';
import type { KmeName } from './registry.ts';
import { linkOptions, mergeConfig, prepare, startKme, type CommonOptions, type SaeFiles } from './setup.ts';

export interface MockKmeOptions extends CommonOptions {
  /** Which KME of the pair this process is. */
  name: KmeName;
  /** HTTPS port (0 = ephemeral, the default; else the configuration's kmes.<name>.port). */
  port?: number;
  /** KMS↔KMS link: listen address, the peer's address (HOST:PORT) and the shared secret (hex); override `config.link`. */
  link?: { listen?: string; peer?: string; seed?: string };
  /** URL of the peer KME, to write a complete target profile (else `profilePath` is null). */
  peerUrl?: string;
  /** Lab-only fault control file (faults-file.ts; docs/mock-kme.md, "Faults file"), re-read at run time. */
  faultsFile?: string;
}

export interface SingleMockKme {
  name: KmeName;
  url: string;
  kmeId: string;
  port: number;
  /** HOST:PORT of the KMS↔KMS listener (with the real port), when listening. */
  linkAddress?: string;
  pki: TestPki;
  ca: string;
  saes: SaeFiles;
  /** Target profile (`profile-<name>.yaml` in the PKI directory) when `peerUrl` was given; else null. */
  profilePath: string | null;
  config: MockConfig;
  /** Whether the KMS↔KMS link to the peer is up now. */
  linkUp(): boolean;
  setDeviations(names: readonly string[]): void;
  deviations(): DeviationName[];
  instance: MockKme;
  stop(): Promise<void>;
}

/**
 * Starts one KME (A or B) with a TCP KMS↔KMS link.
 *
 * @example
 * const b = await startMockKme({ name: 'B', pkiDir, link: { listen: '127.0.0.1:0', seed } });
 * const a = await startMockKme({ name: 'A', pkiDir, link: { peer: b.linkAddress, seed } });
 */
export async function startMockKme(options: MockKmeOptions): Promise<SingleMockKme> {
  const name = options.name;
  const p = await prepare({ ...options, config: mergeConfig((options.config ?? {}) as Record<string, unknown>, { link: options.link ?? {} }) as MockConfigInput }, [name], { [name]: options.port });
  const { config, pki } = p;
  try {
    if (!config.link.seed) throw new ConfigError('a single KME needs the link secret its peer uses: --link-seed HEX (or link.seed in the configuration)');
    const qkd = QkdLink.fromSeed(config.link.seed);
    const link = await TcpKmsLink.start({
      ...linkOptions(p, name, qkd),
      listen: config.link.listen ? parseHostPort(config.link.listen, 'link.listen') : undefined,
      peer: config.link.peer ? parseHostPort(config.link.peer, 'link.peer') : undefined,
    });
    const deviations = new DeviationSwitch(config.deviations);
    const faults = options.faultsFile ? new FaultsFile<KmeFault>(options.faultsFile, KME_FAULTS, (l) => p.log(`${config.kmes[name].kme_id} ${l}`)).watch() : undefined;
    let kme: MockKme;
    try {
      kme = await startKme(p, name, { qkd, link, deviations, onDeliver: options.onDeliver, faults });
    } catch (err) {
      faults?.stop();
      await link.close();
      throw err;
    }
    const url = urlFor(config.host, kme.port, deviations.has('plain-http'));
    const profilePath = options.peerUrl ? writeProfile(`profile-${name}.yaml`, { pki, config, urls: name === 'A' ? { A: url, B: options.peerUrl } : { A: options.peerUrl, B: url } }) : null;
    let stopped = false;
    return {
      name,
      url,
      kmeId: kme.kmeId,
      port: kme.port,
      linkAddress: link.listenAddress ? formatHostPort(link.listenAddress) : undefined,
      pki,
      ca: pki.ca,
      saes: p.saes,
      profilePath,
      config,
      linkUp: () => link.isUp(),
      setDeviations: (names) => deviations.set(names),
      deviations: () => deviations.list(),
      instance: kme,
      async stop() {
        if (stopped) return;
        stopped = true;
        faults?.stop();
        await Promise.all([kme.stop(), link.close()]);
        p.cleanup();
      },
    };
  } catch (err) {
    p.cleanup();
    throw err;
  }
}
