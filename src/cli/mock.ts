// `qkd-harness mock`: starts the mock KME pair (or one KME of it, for the lab), prints exactly one JSON
// line on stdout (URLs, KME IDs, CA, SAE certificate files, a ready-made target profile), logs one line
// per request on stderr, and serves until SIGINT/SIGTERM, then closes its ports and exits 0.
import { Option, type Command } from 'commander';
import { ConfigError } from '../../mocks/kme/config.ts';
import { UnknownDeviationError } from '../../mocks/kme/deviation-switch.ts';
import { DEVIATION_NAMES } from '../../mocks/kme/deviations.ts';
import { startMockKme, startMockPair } from '../../mocks/kme/index.ts';
import { LinkSeedError } from '../../mocks/kme/qkd-link.ts';
import type { KmeName } from '../../mocks/kme/registry.ts';
import { CannotRunError, UsageError } from './exit.ts';
import { isHostPort } from '../../mocks/kme/host-port.ts';
import { LINK_SEED_RE } from '../../mocks/kme/qkd-link.ts';

interface MockOptions {
  config?: string;
  pki?: string;
  deviation: string[];
  host?: string;
  portA?: number;
  portB?: number;
  only?: KmeName;
  linkListen?: string;
  linkPeer?: string;
  linkSeed?: string;
  peerUrl?: string;
  faultsFile?: string;
  quiet?: boolean;
}

function port(flag: string) {
  return (v: string): number => {
    if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new UsageError(`${flag} must be a port number from 0 to 65535, got "${v}"`);
    return Number(v);
  };
}

function hostPort(flag: string) {
  return (v: string): string => {
    if (!isHostPort(v)) throw new UsageError(`${flag} must be HOST:PORT, got "${v}"`);
    return v;
  };
}

export function register(program: Command): void {
  program
    .command('mock')
    .description('start the mock KME pair (ETSI GS QKD 014 over mutual TLS); prints one JSON line with URLs, CA, SAE certificates and a target profile')
    .option('--config <file>', 'YAML configuration (docs/mock-kme.md)')
    .option('--pki <dir>', 'PKI directory; reused when it holds pki.json (default: a fresh temporary directory)')
    .option('--deviation <name>', `switch on a field deviation (repeatable): ${DEVIATION_NAMES.join(', ')}`, (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--host <addr>', 'listen address of the KMEs (default 127.0.0.1)')
    .option('--port-a <n>', 'HTTPS port of KME A (default 0: ephemeral)', port('--port-a'))
    .option('--port-b <n>', 'HTTPS port of KME B (default 0: ephemeral)', port('--port-b'))
    .addOption(new Option('--only <kme>', 'run only this KME of the pair (the lab: one per network namespace)').choices(['A', 'B']))
    .option('--link-listen <host:port>', 'with --only: listen for the peer KME on the KMS↔KMS link', hostPort('--link-listen'))
    .option('--link-peer <host:port>', 'with --only: dial the peer KME\'s KMS↔KMS listener', hostPort('--link-peer'))
    .option('--link-seed <hex>', 'shared secret of the simulated QKD link (required with --only; random otherwise)', (v: string) => {
      if (!LINK_SEED_RE.test(v)) throw new UsageError('--link-seed must be 32 to 128 hex digits (16 to 64 bytes)');
      return v;
    })
    .option('--peer-url <url>', 'with --only: URL of the peer KME, to write a complete target profile')
    .option('--faults-file <file>', 'with --only (lab): JSON control file of run-time faults (hang, unavailable), re-read on change (docs/mock-kme.md)')
    .option('--quiet', 'no request log on stderr')
    .showHelpAfterError(false)
    .action(async (opts: MockOptions) => {
      try {
        await run(opts);
      } catch (err) {
        if (err instanceof ConfigError || err instanceof UnknownDeviationError || err instanceof LinkSeedError) throw new UsageError(err.message);
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES') throw new CannotRunError(`cannot listen: ${(err as Error).message}`);
        throw err;
      }
    });
}

function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

async function run(opts: MockOptions): Promise<void> {
  if (opts.only === undefined && (opts.linkListen || opts.linkPeer || opts.peerUrl || opts.faultsFile)) throw new UsageError('--link-listen, --link-peer, --peer-url and --faults-file go with --only A|B');
  if (opts.peerUrl !== undefined && !/^https?:\/\/[^/]+/.test(opts.peerUrl)) throw new UsageError(`--peer-url must be an https URL, got "${opts.peerUrl}"`);
  const signal = untilSignal(); // listen before starting, so an early SIGTERM still stops cleanly
  const common = {
    configFile: opts.config,
    pkiDir: opts.pki,
    deviations: opts.deviation.length ? opts.deviation : undefined,
    host: opts.host,
    log: opts.quiet ? (false as const) : undefined,
  };
  let line: object;
  let stop: () => Promise<void>;
  if (opts.only) {
    const kme = await startMockKme({
      ...common,
      name: opts.only,
      port: opts.only === 'A' ? opts.portA : opts.portB,
      link: { listen: opts.linkListen, peer: opts.linkPeer, seed: opts.linkSeed },
      peerUrl: opts.peerUrl,
      faultsFile: opts.faultsFile,
    });
    stop = kme.stop;
    line = {
      kmes: { [kme.name]: { url: kme.url, kme_id: kme.kmeId, port: kme.port, ...(kme.linkAddress ? { link: kme.linkAddress } : {}) } },
      ca: kme.ca,
      saes: kme.saes,
      profile: kme.profilePath,
      pki: kme.pki.dir,
      deviations: kme.deviations(),
    };
  } else {
    const pair = await startMockPair({ ...common, config: { link: { seed: opts.linkSeed } }, ports: { A: opts.portA, B: opts.portB } });
    stop = pair.stop;
    line = {
      kmes: { A: { url: pair.kmes.A.url, kme_id: pair.kmes.A.kmeId, port: pair.kmes.A.port }, B: { url: pair.kmes.B.url, kme_id: pair.kmes.B.kmeId, port: pair.kmes.B.port } },
      ca: pair.ca,
      saes: pair.saes,
      profile: pair.profilePath,
      pki: pair.pki.dir,
      deviations: pair.deviations(),
    };
  }
  process.stdout.write(`${JSON.stringify(line)}\n`);
  const sig = await signal;
  if (!opts.quiet) process.stderr.write(`qkd-harness mock: ${sig}, stopping\n`);
  await stop();
  process.exitCode = 0;
  // Everything is closed; should a stray handle remain, do not hang the caller.
  setTimeout(() => process.exit(0), 2000).unref();
}
