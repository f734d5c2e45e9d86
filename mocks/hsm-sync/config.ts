// The agent's command line (main.ts) as a checked configuration. Usage:
//   main.ts --role primary --token LABEL --peer HOST:PORT [--peer-underlay HOST:PORT] [--bind ADDR] …
//   main.ts --role replica --token LABEL --listen HOST:PORT [--listen HOST:PORT]… …
// common: [--site NAME] [--module PATH] [--slot ID] [--status FILE] [--fault NAME]… [--scan-ms 500]
//         [--ping-ms 2000] [--idle-ms 20000] [--net-timeout-ms 5000] [--hsm-timeout-ms 10000]
//         [--retry-max-ms 5000] [--startup-ms 60000]
// The PIN comes from the environment only: QKD_HSM_PIN_<SITE>, then QKD_HSM_PIN (as `qkd-harness hsm`).
// The module's own settings come from the environment too (SOFTHSM2_CONF: the site's token directory).
import { parseArgs } from 'node:util';
import { UsageError } from '../../src/cli/exit.ts';
import { PIN_VARIABLE, sitePinVariable } from '../../src/hsm/address.ts';
import type { TokenLocation } from '../../src/hsm/operations.ts';
import { softhsmModule } from '../../src/hsm/softhsm.ts';
import { parseHostPort, type HostPort } from '../kme/host-port.ts';
import { parseFaults, type Role, type SyncFault } from './faults.ts';

export interface AgentConfig {
  role: Role;
  site: string;
  location: TokenLocation;
  pin: string;
  status?: string;
  faults: Set<SyncFault>;
  peer?: HostPort;
  peerUnderlay?: HostPort;
  bind?: string;
  listen: HostPort[];
  scanMs: number;
  pingMs: number;
  idleMs: number;
  netTimeoutMs: number;
  hsmTimeoutMs: number;
  retryMaxMs: number;
  startupMs: number;
}

const MS_OPTIONS = { 'scan-ms': 500, 'ping-ms': 2_000, 'idle-ms': 20_000, 'net-timeout-ms': 5_000, 'hsm-timeout-ms': 10_000, 'retry-max-ms': 5_000, 'startup-ms': 60_000 } as const;

/** Parses the command line and environment. @throws UsageError (exit 2) naming the problem; never echoes a PIN. */
export function parseAgentArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentConfig {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        role: { type: 'string' },
        site: { type: 'string' },
        module: { type: 'string' },
        token: { type: 'string' },
        slot: { type: 'string' },
        peer: { type: 'string' },
        'peer-underlay': { type: 'string' },
        bind: { type: 'string' },
        listen: { type: 'string', multiple: true },
        status: { type: 'string' },
        fault: { type: 'string', multiple: true },
        pin: { type: 'string' },
        ...Object.fromEntries(Object.keys(MS_OPTIONS).map((k) => [k, { type: 'string' as const }])),
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.pin !== undefined) throw new UsageError(`--pin is not accepted (a PIN on the command line is visible to other users); set ${PIN_VARIABLE} or ${PIN_VARIABLE}_<SITE>`);
  const role = values.role;
  if (role !== 'primary' && role !== 'replica') throw new UsageError('--role must be primary (site A: scans its token, sends) or replica (site B: listens, imports)');
  const site = values.site ?? role;
  const hostPort = (v: string, flag: string): HostPort => {
    try {
      return parseHostPort(v, flag);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  };
  const module = values.module ?? softhsmModule();
  if (!module) throw new UsageError('--module PATH is needed (SoftHSM2 is not installed where it is looked for)');
  if (values.token === undefined && values.slot === undefined) throw new UsageError('name the token: --token LABEL or --slot ID');
  const pinVars = [sitePinVariable(site), PIN_VARIABLE];
  const pin = pinVars.map((v) => env[v]).find((v) => v);
  if (!pin) throw new UsageError(`no PIN: set ${pinVars.join(' or ')}`);
  let faults: Set<SyncFault>;
  try {
    faults = parseFaults(role, values.fault ?? [], env);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const ms = Object.fromEntries(
    Object.entries(MS_OPTIONS).map(([k, dflt]) => {
      const v = (values as Record<string, unknown>)[k] as string | undefined;
      const n = v === undefined ? dflt : Number(v);
      if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${k} must be a positive number of milliseconds, got "${v}"`);
      return [k, n];
    }),
  ) as Record<keyof typeof MS_OPTIONS, number>;
  const config: AgentConfig = {
    role,
    site,
    location: { module, ...(values.token !== undefined ? { token: values.token } : {}), ...(values.slot !== undefined ? { slot: values.slot } : {}) },
    pin,
    ...(values.status ? { status: values.status } : {}),
    faults,
    listen: (values.listen ?? []).map((v) => hostPort(v, '--listen')),
    scanMs: ms['scan-ms'],
    pingMs: ms['ping-ms'],
    idleMs: ms['idle-ms'],
    netTimeoutMs: ms['net-timeout-ms'],
    hsmTimeoutMs: ms['hsm-timeout-ms'],
    retryMaxMs: ms['retry-max-ms'],
    startupMs: ms['startup-ms'],
  };
  if (role === 'primary') {
    if (!values.peer) throw new UsageError("the primary needs --peer HOST:PORT (the replica's tunnel address)");
    if (config.listen.length) throw new UsageError('--listen is for the replica; the primary dials --peer');
    config.peer = hostPort(values.peer, '--peer');
    if (values['peer-underlay']) config.peerUnderlay = hostPort(values['peer-underlay'], '--peer-underlay');
    if (faults.has('send-outside-tunnel') && !config.peerUnderlay) throw new UsageError("the send-outside-tunnel fault needs --peer-underlay HOST:PORT (the replica's underlay address)");
    if (values.bind) config.bind = values.bind;
  } else {
    if (!config.listen.length) throw new UsageError('the replica needs --listen HOST:PORT (its tunnel address; repeat for more)');
    if (values.peer || values['peer-underlay'] || values.bind) throw new UsageError('--peer, --peer-underlay and --bind are for the primary');
    if (config.idleMs <= config.netTimeoutMs) throw new UsageError('--idle-ms must exceed --net-timeout-ms');
  }
  return config;
}
